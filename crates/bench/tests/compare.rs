//! Compare mode runs the same schedule against each target, round after round.

use std::time::Duration;
use tailcache_bench::compare::{run_comparison, Target};
use tailcache_bench::config::RunConfig;
use tailcache_bench::echo_server::EchoServer;

#[test]
fn comparison_alternates_targets_and_reports_medians_with_ratios() {
    let a = EchoServer::start(None).unwrap();
    let b = EchoServer::start(None).unwrap();
    let targets = [
        Target {
            label: "a".into(),
            addr: a.addr(),
            cluster: None,
        },
        Target {
            label: "b".into(),
            addr: b.addr(),
            cluster: None,
        },
    ];
    let mut base = RunConfig::defaults(a.addr());
    base.warmup = Duration::ZERO;
    base.duration = Duration::from_millis(300);
    let mut order = Vec::new();
    let cmp = run_comparison(
        &base,
        &targets,
        2,
        &mut |round, t| order.push((round, t.label.clone())),
        &mut |_| {},
    )
    .unwrap();
    let expected: Vec<(usize, String)> = vec![
        (0, "a".into()),
        (0, "b".into()),
        (1, "a".into()),
        (1, "b".into()),
    ];
    assert_eq!(order, expected);
    assert_eq!(cmp.runs.len(), 2);
    assert!(cmp.runs.iter().all(|r| r.len() == 2));
    // The identical schedule: the same number of requests against each target.
    assert_eq!(
        cmp.runs[0][0].counters.completed,
        cmp.runs[1][1].counters.completed
    );
    let medians = cmp.medians();
    assert!(
        (medians[0].achieved_rate_per_s - 1000.0).abs() < 20.0,
        "{medians:?}"
    );
    let table = cmp.median_table();
    assert_eq!(table.header, ["median of rounds", "a", "b", "b / a"]);
    assert_eq!(table.rows[0][3], "1.00x");
    assert_eq!(table.rows.len(), 9);
}
