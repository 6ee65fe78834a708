//! Building the report of each mode.

use super::args::Args;
use crate::compare::Comparison;
use crate::driver::RunResult;
use crate::output::files::{file_stem, Report};
use crate::output::html::Section;
use crate::output::json::{to_json, RunJson};
use crate::output::summary::{RunSummary, ServerSummary};
use crate::output::svg::{chart, nines_for, percentile_series, Series, XAxis};
use crate::output::table::{server_table, summary_table, Table};
use crate::sweep::Sweep;
use crate::units::format_latency_ns;

fn title(args: &Args, default: &str) -> String {
    args.title.clone().unwrap_or_else(|| default.to_string())
}

/// "TITLE: " when the report has a title, so a chart names its run.
fn title_prefix(args: &Args) -> String {
    args.title
        .as_deref()
        .map_or(String::new(), |t| format!("{t}: "))
}

fn chart_stem(args: &Args, kind: &str) -> String {
    let base = args
        .title
        .as_deref()
        .map(file_stem)
        .unwrap_or_else(|| "latency".into());
    format!("{base}-{kind}")
}

/// "4 connections", or in cluster mode "4 connections to each of 3 servers (...)".
fn connections_text(r: &RunResult) -> String {
    match &r.config.cluster {
        None => format!("{} connections", r.config.connections),
        Some(c) => format!(
            "{} connections to each of {} servers (keys placed by ketama, as libmemcached and twemproxy place them)",
            r.config.connections,
            c.servers.len()
        ),
    }
}

/// Notes that always go with the figures.
fn method_notes(r: &RunResult) -> Vec<String> {
    let c = &r.counters;
    let mut notes = vec![format!(
        "Latency is measured from each request's intended send time (open loop) or its send time (closed loop). \
         {} on {} generator thread(s), protocol {:?}, {} s measured after {} s warm-up.",
        connections_text(r),
        r.config.threads,
        r.config.protocol,
        r.config.duration.as_secs_f64(),
        r.config.warmup.as_secs_f64()
    )];
    if matches!(r.config.load, crate::config::Load::Open { .. }) {
        notes.push(format!(
            "Generator send lag (how late requests left, already included in the latencies): p50 {}, p99 {}, p99.9 {}, max {}.",
            format_latency_ns(r.send_lag.percentile_ns(50.0)),
            format_latency_ns(r.send_lag.percentile_ns(99.0)),
            format_latency_ns(r.send_lag.percentile_ns(99.9)),
            format_latency_ns(r.send_lag.max_ns())
        ));
    }
    if c.errors() > 0 {
        notes.push(format!(
            "ERRORS: server {} protocol {} timeouts {} disconnects {} refused {} connect {} lost {} unsent {}",
            c.server_errors, c.protocol_errors, c.timeouts, c.disconnects, c.connect_refused, c.connect_errors, c.lost, c.unsent
        ));
    }
    notes
}

/// The per-server table of a cluster run (none for a single target), and its note.
fn server_tables(r: &RunResult) -> (Vec<Table>, Vec<String>) {
    if r.config.cluster.is_none() {
        return (Vec::new(), Vec::new());
    }
    let note = format!(
        "Per server of {}: share of the requests, and latency of the requests it answered; \
         \"all\" is the whole cluster (the servers' histograms merged).",
        r.config.label
    );
    let table = server_table(&ServerSummary::of(r), &RunSummary::of(r));
    (vec![table], vec![note])
}

/// The report of one run; a cluster adds a row and a curve per server.
pub fn run_report(args: &Args, command: &str, r: &RunResult) -> Report {
    let summary = RunSummary::of(r);
    let mut series = vec![percentile_series(&r.config.label, &r.histogram)];
    let mut histograms = vec![(r.config.label.clone(), r.histogram.clone())];
    if r.config.cluster.is_some() {
        for s in &r.servers {
            series.push(percentile_series(&s.label, &s.histogram));
            histograms.push((
                format!("{} {}", r.config.label, s.label),
                s.histogram.clone(),
            ));
        }
    }
    let svg = chart(
        &format!(
            "{}Latency by percentile: {}",
            title_prefix(args),
            r.config.label
        ),
        &XAxis::Nines(nines_for(&[&r.histogram])),
        &series,
    );
    let (server_tables, server_notes) = server_tables(r);
    let mut notes = method_notes(r);
    notes.extend(server_notes);
    let mut tables = vec![summary_table(&[summary])];
    tables.extend(server_tables);
    let section = Section {
        title: "Results".into(),
        notes,
        tables,
        charts: vec![(chart_stem(args, "percentiles"), svg)],
    };
    Report {
        title: title(args, "tailcache-bench"),
        command: command.into(),
        sections: vec![section],
        json: to_json(&serde_json::json!({ "runs": [RunJson::of(r)] })),
        histograms,
    }
}

/// Every round of one target as one run (measured times added), so per-server figures
/// cover all rounds as the merged curves do.
fn merged_rounds(runs: &[RunResult]) -> RunResult {
    let mut all = runs[0].clone();
    for r in &runs[1..] {
        all.histogram.merge(&r.histogram);
        all.send_lag.merge(&r.send_lag);
        all.counters.add(&r.counters);
        all.config.duration += r.config.duration;
        for (total, s) in all.servers.iter_mut().zip(&r.servers) {
            total.histogram.merge(&s.histogram);
            total.counters.add(&s.counters);
        }
    }
    all.seconds.clear();
    all
}

/// The report of a comparison: medians with ratios, every round, one merged curve per target.
pub fn comparison_report(args: &Args, command: &str, cmp: &Comparison) -> Report {
    let merged: Vec<_> = (0..cmp.targets.len()).map(|i| cmp.merged(i)).collect();
    let series: Vec<Series> = cmp
        .targets
        .iter()
        .zip(&merged)
        .map(|(t, h)| percentile_series(&t.label, h))
        .collect();
    let refs: Vec<_> = merged.iter().collect();
    let svg = chart(
        &format!(
            "{}Latency by percentile, {} rounds merged",
            title_prefix(args),
            args.rounds
        ),
        &XAxis::Nines(nines_for(&refs)),
        &series,
    );
    let all: Vec<RunSummary> = (0..args.rounds)
        .flat_map(|round| {
            cmp.runs
                .iter()
                .map(move |runs| RunSummary::of(&runs[round]))
        })
        .collect();
    let mut notes = vec![format!(
        "Identical schedule against each target in turn (A B A B ...), {} round(s); figures are medians over rounds, \
         ratios are relative to {}.",
        args.rounds, cmp.targets[0].label
    )];
    notes.extend(method_notes(&cmp.runs[0][0]).into_iter().take(1));
    let mut sections = vec![Section {
        title: title(args, "Comparison"),
        notes,
        tables: vec![cmp.median_table()],
        charts: vec![(chart_stem(args, "percentiles"), svg)],
    }];
    sections.push(Section {
        title: "Every round".into(),
        tables: vec![summary_table(&all)],
        ..Default::default()
    });
    for (t, runs) in cmp.targets.iter().zip(&cmp.runs) {
        if t.cluster.is_some() {
            let (tables, notes) = server_tables(&merged_rounds(runs));
            sections.push(Section {
                title: format!("Servers of {}, all rounds", t.label),
                notes,
                tables,
                ..Default::default()
            });
        }
    }
    let runs_json: Vec<Vec<RunJson>> = cmp
        .runs
        .iter()
        .map(|rs| rs.iter().map(RunJson::of).collect())
        .collect();
    let json = serde_json::json!({ "targets": cmp.targets, "rounds": args.rounds, "medians": cmp.medians(), "runs": runs_json });
    Report {
        title: title(args, "Comparison"),
        command: command.into(),
        sections,
        json: to_json(&json),
        histograms: cmp
            .targets
            .iter()
            .zip(merged)
            .map(|(t, h)| (t.label.clone(), h))
            .collect(),
    }
}

/// The report of a sweep: each step's figures, the latency-by-rate curve, all percentile curves.
pub fn sweep_report(args: &Args, command: &str, sweep: &Sweep) -> Report {
    let rates: Vec<f64> = sweep
        .steps
        .iter()
        .map(|r| r.achieved_rate_per_s())
        .collect();
    let requested = |r: &RunResult| match r.config.load {
        crate::config::Load::Open { rate_per_s, .. } => rate_per_s,
        crate::config::Load::Closed { .. } => 0.0,
    };
    let curve = |name: &str, p: f64| Series {
        label: name.into(),
        points: sweep
            .steps
            .iter()
            .map(|r| (requested(r), r.histogram.percentile_ns(p)))
            .collect(),
    };
    let max_rate = sweep.steps.iter().map(requested).fold(1.0, f64::max);
    let by_rate = chart(
        &format!("{}Latency by requested rate", title_prefix(args)),
        &XAxis::Linear {
            title: "requested rate (requests/s)".into(),
            max: max_rate,
        },
        &[curve("p50", 50.0), curve("p99", 99.0), curve("p99.9", 99.9)],
    );
    let hists: Vec<_> = sweep.steps.iter().map(|r| &r.histogram).collect();
    let series: Vec<Series> = sweep
        .steps
        .iter()
        .map(|r| percentile_series(&r.config.label, &r.histogram))
        .collect();
    let by_pct = chart(
        &format!("{}Latency by percentile at each rate", title_prefix(args)),
        &XAxis::Nines(nines_for(&hists)),
        &series,
    );
    let verdict = match sweep.best_rate_per_s {
        Some(rate) => format!(
            "Highest rate with P99.9 <= {} and no errors: {rate:.0}/s.",
            format_latency_ns(sweep.p999_bound_ns)
        ),
        None => format!(
            "No rate kept P99.9 <= {} without errors.",
            format_latency_ns(sweep.p999_bound_ns)
        ),
    };
    let summaries: Vec<RunSummary> = sweep.steps.iter().map(RunSummary::of).collect();
    let mut notes = vec![verdict];
    if let Some(first) = sweep.steps.first() {
        notes.extend(method_notes(first).into_iter().take(1));
    }
    let section = Section {
        title: title(args, "Rate sweep"),
        notes,
        tables: vec![summary_table(&summaries)],
        charts: vec![
            (chart_stem(args, "by-rate"), by_rate),
            (chart_stem(args, "percentiles"), by_pct),
        ],
    };
    let steps_json: Vec<RunJson> = sweep.steps.iter().map(RunJson::of).collect();
    let json = serde_json::json!({
        "p999_bound_ns": sweep.p999_bound_ns,
        "best_rate_per_s": sweep.best_rate_per_s,
        "achieved_rates_per_s": rates,
        "steps": steps_json,
    });
    Report {
        title: title(args, "Rate sweep"),
        command: command.into(),
        sections: vec![section],
        json: to_json(&json),
        histograms: sweep
            .steps
            .iter()
            .map(|r| (r.config.label.clone(), r.histogram.clone()))
            .collect(),
    }
}
