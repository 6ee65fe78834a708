//! The command line: parse flags, pick the mode (single run, comparison, sweep), print
//! live progress and the summary, and write the report files.

pub mod args;
pub mod progress;
pub mod reports;
pub mod targets;

use crate::compare::run_comparison;
use crate::driver::run;
use crate::echo_server::EchoServer;
use crate::error::BenchError;
use crate::output::files::Report;
use crate::sweep::{run_sweep, SweepSpec};
use crate::units::parse_duration;
use args::Args;
use std::ffi::OsString;

/// Parses `argv`, runs, prints; returns the process exit code.
pub fn main_with_args<I: IntoIterator<Item = OsString>>(argv: I) -> i32 {
    let args = match Args::parse_ordered(argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match execute(&args) {
        Ok(report) => {
            print!("{}", report.text());
            if let Some(dir) = &args.out {
                match report.write(dir) {
                    Ok(files) => eprintln!("wrote {} files to {}", files.len(), dir.display()),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return 1;
                    }
                }
            }
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// The command line as one string, for reports.
fn command_line() -> String {
    std::env::args()
        .map(|a| if a.contains(' ') { format!("'{a}'") } else { a })
        .collect::<Vec<_>>()
        .join(" ")
}

fn execute(args: &Args) -> Result<Report, BenchError> {
    // Kept alive for the whole run; stopped when dropped.
    if args.echo_server && args.tls {
        return Err(BenchError::BadArgument(
            "--echo-server speaks plain TCP; it cannot be loaded with --tls".into(),
        ));
    }
    let echo = if args.echo_server {
        Some(EchoServer::start(None)?)
    } else {
        None
    };
    let targets = targets::targets(args, echo.as_ref())?;
    let mut base = args.to_config(targets[0].addr, targets[0].label.clone())?;
    base.cluster = targets[0].cluster.clone();
    // Checked again with the cluster: its size bounds --connections, and it refuses multigets.
    base.validate().map_err(BenchError::BadArgument)?;
    let command = command_line();
    let printer = progress::Printer::new(args.quiet);
    if let Some(spec) = &args.sweep {
        if targets.len() != 1 {
            return Err(BenchError::BadArgument(
                "--sweep takes exactly one target".into(),
            ));
        }
        let spec = SweepSpec::parse(spec).map_err(BenchError::BadArgument)?;
        let bound_ns = parse_duration(&args.slo_p999)
            .map_err(BenchError::BadArgument)?
            .as_nanos() as u64;
        let sweep = run_sweep(
            &base,
            spec,
            bound_ns,
            &mut |rate| printer.start(&format!("rate {rate:.0}/s")),
            &mut |s| printer.second(s),
        )?;
        return Ok(reports::sweep_report(args, &command, &sweep));
    }
    if targets.len() > 1 || args.rounds > 1 {
        let cmp = run_comparison(
            &base,
            &targets,
            args.rounds,
            &mut |round, t| {
                printer.start(&format!(
                    "round {} of {}: {}",
                    round + 1,
                    args.rounds,
                    t.label
                ))
            },
            &mut |s| printer.second(s),
        )?;
        return Ok(reports::comparison_report(args, &command, &cmp));
    }
    printer.start(&base.label);
    let result = run(&base, &mut |s| printer.second(s))?;
    Ok(reports::run_report(args, &command, &result))
}
