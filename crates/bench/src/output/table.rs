//! Tables rendered as aligned text, Markdown or HTML.

use super::summary::{RunSummary, ServerSummary};
use super::svg::escape;
use crate::units::format_latency_ns;

/// A header and rows of cells.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Aligned text, right-justified.
    pub fn to_text(&self) -> String {
        let all: Vec<&Vec<String>> = std::iter::once(&self.header).chain(&self.rows).collect();
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| {
                all.iter()
                    .map(|r| r.get(i).map_or(0, |c| c.len()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for r in all {
            let cells: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:>w$}"))
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out
    }

    /// GitHub-flavoured Markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "| {} |\n|{}\n",
            self.header.join(" | "),
            "---|".repeat(self.header.len())
        );
        for r in &self.rows {
            out.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        out
    }

    /// An HTML `<table>`.
    pub fn to_html(&self) -> String {
        let cells = |r: &[String], tag: &str| {
            r.iter()
                .map(|c| format!("<{tag}>{}</{tag}>", escape(c)))
                .collect::<String>()
        };
        let mut out = format!("<table>\n<tr>{}</tr>\n", cells(&self.header, "th"));
        for r in &self.rows {
            out.push_str(&format!("<tr>{}</tr>\n", cells(r, "td")));
        }
        out.push_str("</table>\n");
        out
    }
}

/// The summary table: one row per run.
pub fn summary_table(runs: &[RunSummary]) -> Table {
    let mut t = Table::new(&[
        "target",
        "mode",
        "rate/s",
        "achieved/s",
        "hits",
        "misses",
        "errors",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "p99.99",
        "max",
    ]);
    for s in runs {
        let mode = match (s.mode, s.pipeline) {
            ("closed", Some(p)) => format!("closed, pipeline {p}"),
            (m, _) => m.to_string(),
        };
        let mut row = vec![
            s.label.clone(),
            mode,
            s.requested_rate_per_s
                .map_or("max".into(), |r| format!("{r:.0}")),
            format!("{:.0}", s.achieved_rate_per_s),
            s.hits.to_string(),
            s.misses.to_string(),
            s.errors.to_string(),
        ];
        row.extend(s.latency.named().iter().map(|(_, v)| format_latency_ns(*v)));
        t.rows.push(row);
    }
    t
}

/// The servers of a cluster, one row each, then the whole cluster (`all`).
pub fn server_table(servers: &[ServerSummary], all: &RunSummary) -> Table {
    let prefilled = servers.iter().any(|s| s.prefilled_keys.is_some());
    let mut header = vec!["server", "weight", "share"];
    if prefilled {
        header.push("prefilled keys");
    }
    header.extend([
        "achieved/s",
        "errors",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "p99.99",
        "max",
    ]);
    let mut t = Table::new(&header);
    let start_row = |name: &str, weight: String, share: String, prefilled_keys: Option<u64>| {
        let mut row = vec![name.to_string(), weight, share];
        if prefilled {
            row.push(prefilled_keys.map_or("-".into(), |k| k.to_string()));
        }
        row
    };
    for s in servers {
        let mut row = start_row(
            &s.label,
            s.weight.to_string(),
            format!("{:.1}%", s.share * 100.0),
            s.prefilled_keys,
        );
        row.push(format!("{:.0}", s.achieved_rate_per_s));
        row.push(s.errors.to_string());
        row.extend(s.latency.named().iter().map(|(_, v)| format_latency_ns(*v)));
        t.rows.push(row);
    }
    let total_keys = servers
        .iter()
        .map(|s| s.prefilled_keys)
        .sum::<Option<u64>>();
    let mut row = start_row("all", "-".into(), "100%".into(), total_keys);
    row.push(format!("{:.0}", all.achieved_rate_per_s));
    row.push(all.errors.to_string());
    row.extend(
        all.latency
            .named()
            .iter()
            .map(|(_, v)| format_latency_ns(*v)),
    );
    t.rows.push(row);
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::summary::Percentiles;

    #[test]
    fn tables_have_one_row_per_run_in_every_format() {
        let s = RunSummary {
            label: "a<b>".into(),
            mode: "closed",
            requested_rate_per_s: None,
            pipeline: Some(16),
            achieved_rate_per_s: 1234.4,
            completed: 10,
            hits: 9,
            misses: 1,
            errors: 0,
            latency: Percentiles {
                p50_ns: 1_500,
                max_ns: 2_000_000,
                ..Default::default()
            },
        };
        let t = summary_table(&[s.clone(), s]);
        let text = t.to_text();
        assert_eq!(text.lines().count(), 3);
        assert!(
            text.contains("closed, pipeline 16")
                && text.contains("1234")
                && text.contains("2.00ms")
        );
        assert_eq!(t.to_markdown().lines().count(), 4);
        let html = t.to_html();
        assert_eq!(html.matches("<tr>").count(), 3);
        assert!(html.contains("a&lt;b&gt;"));
    }

    #[test]
    fn the_server_table_has_a_row_per_server_and_one_for_all() {
        let server = |label: &str, prefilled_keys| ServerSummary {
            label: label.into(),
            addr: "127.0.0.1:1".parse().unwrap(),
            weight: 2,
            share: 0.25,
            requests: 1,
            achieved_rate_per_s: 10.0,
            completed: 1,
            hits: 1,
            misses: 0,
            errors: 0,
            prefilled_keys,
            latency: Percentiles::default(),
        };
        let all = RunSummary {
            label: "x3".into(),
            mode: "open",
            requested_rate_per_s: Some(40.0),
            pipeline: None,
            achieved_rate_per_s: 40.0,
            completed: 4,
            hits: 4,
            misses: 0,
            errors: 0,
            latency: Percentiles::default(),
        };
        let t = server_table(&[server("a", Some(3)), server("b", Some(4))], &all);
        assert_eq!(t.rows.len(), 3);
        assert_eq!(t.header[3], "prefilled keys");
        assert_eq!(t.rows[0][..4], ["a", "2", "25.0%", "3"]);
        assert_eq!(t.rows[2][..4], ["all", "-", "100%", "7"]);
        let t = server_table(&[server("a", None)], &all);
        assert!(!t.header.iter().any(|h| h == "prefilled keys"));
    }
}
