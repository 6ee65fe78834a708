//! SVG line charts with a logarithmic latency axis: latency by percentile on the usual
//! "nines" axis (x = log10(1 / (1 - p))), and latency by rate for sweeps.

use crate::histogram::LatencyHistogram;
use std::fmt::Write;

const WIDTH: f64 = 820.0;
const HEIGHT: f64 = 460.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 45.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
/// Colours of successive series (colour-blind-safe palette).
const PALETTE: [&str; 8] = [
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442",
];
/// Most nines shown: 99.9999%.
pub const MAX_NINES: f64 = 6.0;

/// One line on a chart: (x, latency in ns) points.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Points in x order.
    pub points: Vec<(f64, u64)>,
}

/// The x axis.
#[derive(Clone, Debug)]
pub enum XAxis {
    /// Percentile on the nines scale, up to this many nines.
    Nines(f64),
    /// A linear quantity with a name, from 0 to `max`.
    Linear {
        /// Axis title.
        title: String,
        /// Right end.
        max: f64,
    },
}

/// The points of a histogram on the nines axis.
pub fn percentile_series(label: &str, h: &LatencyHistogram) -> Series {
    let hist = h.inner();
    let mut points = Vec::new();
    if !hist.is_empty() {
        for v in hist.iter_quantiles(10) {
            let q = v.quantile_iterated_to();
            let x = if q < 1.0 {
                (1.0 / (1.0 - q)).log10().min(MAX_NINES)
            } else {
                MAX_NINES
            };
            points.push((x, hist.highest_equivalent(v.value_iterated_to())));
        }
    }
    Series {
        label: label.to_string(),
        points,
    }
}

/// Nines worth showing for these histograms: enough to resolve one sample of the
/// largest, at least three (99.9%).
pub fn nines_for(histograms: &[&LatencyHistogram]) -> f64 {
    let most = histograms
        .iter()
        .map(|h| h.count())
        .max()
        .unwrap_or(1)
        .max(1);
    ((most as f64).log10().ceil()).clamp(3.0, MAX_NINES)
}

/// A complete SVG document.
pub fn chart(title: &str, x_axis: &XAxis, series: &[Series]) -> String {
    let (lo, hi) = latency_range(series);
    let x_max = match x_axis {
        XAxis::Nines(n) => *n,
        XAxis::Linear { max, .. } => max.max(1.0),
    };
    let px = |x: f64| LEFT + (x.clamp(0.0, x_max) / x_max) * (WIDTH - LEFT - RIGHT);
    let py = |ns: u64| {
        let v = (ns.max(1) as f64).log10();
        TOP + (1.0 - (v - lo) / (hi - lo)) * (HEIGHT - TOP - BOTTOM)
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    y_grid(&mut out, lo, hi, &py);
    x_grid(&mut out, x_axis, x_max, &px);
    for (i, s) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let path: Vec<String> = s
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        let ly = TOP + 10.0 + 18.0 * i as f64;
        let _ = writeln!(
            out,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            LEFT + 12.0,
            LEFT + 36.0,
            LEFT + 42.0,
            ly + 4.0,
            escape(&s.label)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Decades (log10 of ns) spanning every point.
fn latency_range(series: &[Series]) -> (f64, f64) {
    let values = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1.max(1)));
    let (min, max) = values.fold((u64::MAX, 1u64), |(a, b), v| (a.min(v), b.max(v)));
    if min == u64::MAX {
        return (3.0, 6.0);
    }
    let lo = (min as f64).log10().floor();
    let hi = ((max as f64).log10().ceil()).max(lo + 1.0);
    (lo, hi)
}

fn y_grid(out: &mut String, lo: f64, hi: f64, py: &dyn Fn(u64) -> f64) {
    let mut decade = lo as i32;
    while decade <= hi as i32 {
        let base = 10f64.powi(decade);
        for m in [1.0, 2.0, 5.0] {
            let v = base * m;
            if v.log10() > hi + 1e-9 {
                break;
            }
            let y = py(v as u64);
            let stroke = if m == 1.0 { "#bbb" } else { "#eee" };
            let _ = writeln!(
                out,
                r#"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{stroke}"/>"#,
                WIDTH - RIGHT
            );
            if m == 1.0 {
                let label = decade_label(v as u64);
                let _ = writeln!(
                    out,
                    r#"<text x="{}" y="{:.1}" text-anchor="end">{label}</text>"#,
                    LEFT - 6.0,
                    y + 4.0
                );
            }
        }
        decade += 1;
    }
    let _ = writeln!(
        out,
        r#"<text transform="translate(18,{}) rotate(-90)" text-anchor="middle">latency (log scale)</text>"#,
        (TOP + HEIGHT - BOTTOM) / 2.0
    );
}

fn x_grid(out: &mut String, axis: &XAxis, x_max: f64, px: &dyn Fn(f64) -> f64) {
    let (ticks, title): (Vec<(f64, String)>, String) = match axis {
        XAxis::Nines(n) => {
            let ticks = (0..=*n as usize)
                .map(|k| (k as f64, nines_label(k)))
                .collect();
            (ticks, "percentile".into())
        }
        XAxis::Linear { title, max } => {
            let step = nice_step(*max / 8.0);
            let ticks = (0..=((*max / step).floor() as usize))
                .map(|i| (i as f64 * step, format!("{}", i as f64 * step)))
                .collect();
            (ticks, title.clone())
        }
    };
    for (x, label) in ticks.into_iter().filter(|t| t.0 <= x_max + 1e-9) {
        let sx = px(x);
        let _ = writeln!(
            out,
            r##"<line x1="{sx:.1}" y1="{TOP}" x2="{sx:.1}" y2="{}" stroke="#ddd"/>"##,
            HEIGHT - BOTTOM
        );
        let _ = writeln!(
            out,
            r#"<text x="{sx:.1}" y="{}" text-anchor="middle">{label}</text>"#,
            HEIGHT - BOTTOM + 18.0
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 14.0,
        escape(&title)
    );
}

/// A power of ten of nanoseconds as a short label: "10us", "1ms", "100ms".
fn decade_label(ns: u64) -> String {
    match ns {
        0..=999 => format!("{ns}ns"),
        1_000..=999_999 => format!("{}us", ns / 1_000),
        1_000_000..=999_999_999 => format!("{}ms", ns / 1_000_000),
        _ => format!("{}s", ns / 1_000_000_000),
    }
}

/// "0%", "90%", "99%", "99.9%" ... for k nines.
fn nines_label(k: usize) -> String {
    match k {
        0 => "0%".into(),
        1 => "90%".into(),
        _ => format!("99.{}%", "9".repeat(k - 2)).replace("99.%", "99%"),
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = raw.max(1e-9);
    let base = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * base)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * base)
}

/// Escapes text for SVG and HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_labels() {
        let labels: Vec<String> = (0..5).map(nines_label).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%"]);
        assert_eq!(nice_step(12_000.0), 20_000.0);
        assert_eq!(decade_label(10_000), "10us");
        assert_eq!(decade_label(100_000_000), "100ms");
    }

    #[test]
    fn chart_draws_each_series_with_a_legend() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        for i in 1..=10_000u64 {
            a.record_ns(i * 10);
            b.record_ns(i * 1_000);
        }
        let series = [percentile_series("a<1>", &a), percentile_series("b", &b)];
        assert_eq!(nines_for(&[&a, &b]), 4.0);
        let svg = chart("t", &XAxis::Nines(4.0), &series);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("a&lt;1&gt;") && svg.contains("99.99%"));
        // Points rise monotonically along each series.
        let s = &series[1].points;
        assert!(s.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        assert!(s.last().unwrap().1 >= 9_990_000);
    }
}
