//! Which targets the command line names, in its order: `--target` and `--cluster` mix,
//! and `--label`s are taken in that order, so the order itself has to be recorded.

use super::args::Args;
use crate::cluster::Cluster;
use crate::compare::Target;
use crate::echo_server::EchoServer;
use crate::error::BenchError;
use crate::target::resolve_loopback;
use clap::{CommandFactory, FromArgMatches};
use std::ffi::OsString;

/// A target as named on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetFlag {
    /// `--target HOST:PORT`.
    Target(String),
    /// `--cluster HOST:PORT[:WEIGHT],...`.
    Cluster(String),
}

impl Args {
    /// Parses `argv` as `try_parse_from` does, and records the order in which
    /// --target and --cluster were given, so that labels follow it.
    pub fn parse_ordered<I, T>(argv: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Self::command().try_get_matches_from(argv)?;
        let mut args = Self::from_arg_matches(&matches)?;
        let mut flags: Vec<(usize, TargetFlag)> = Vec::new();
        if let Some(at) = matches.indices_of("targets") {
            flags.extend(at.zip(args.targets.iter().cloned().map(TargetFlag::Target)));
        }
        if let Some(at) = matches.indices_of("clusters") {
            flags.extend(at.zip(args.clusters.iter().cloned().map(TargetFlag::Cluster)));
        }
        flags.sort_by_key(|f| f.0);
        args.order = flags.into_iter().map(|f| f.1).collect();
        Ok(args)
    }

    /// --target and --cluster values in command-line order; without
    /// [`parse_ordered`](Self::parse_ordered), targets before clusters.
    pub fn target_flags(&self) -> Vec<TargetFlag> {
        if !self.order.is_empty() {
            return self.order.clone();
        }
        let targets = self.targets.iter().cloned().map(TargetFlag::Target);
        targets
            .chain(self.clusters.iter().cloned().map(TargetFlag::Cluster))
            .collect()
    }
}

/// The targets named on the command line, in order (plus the echo responder), all
/// loopback; a cluster is one target.
pub fn targets(args: &Args, echo: Option<&EchoServer>) -> Result<Vec<Target>, BenchError> {
    let flags = args.target_flags();
    let mut targets = Vec::new();
    for (i, flag) in flags.iter().enumerate() {
        let (text, addr, cluster) = match flag {
            TargetFlag::Target(t) => (t, resolve_loopback(t)?, None),
            TargetFlag::Cluster(spec) => {
                let cluster = Cluster::parse(spec)?;
                (spec, cluster.servers[0].addr, Some(cluster))
            }
        };
        let label = args.labels.get(i).cloned().unwrap_or_else(|| text.clone());
        targets.push(Target {
            label,
            addr,
            cluster,
        });
    }
    if let Some(e) = echo {
        targets.push(Target {
            label: "echo".into(),
            addr: e.addr(),
            cluster: None,
        });
    }
    if targets.is_empty() {
        return Err(BenchError::BadArgument(
            "give at least one --target or --cluster (or --echo-server)".into(),
        ));
    }
    if args.labels.len() > flags.len() {
        return Err(BenchError::BadArgument(
            "more --label than --target and --cluster".into(),
        ));
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_clusters_keep_their_command_line_order() {
        let a = Args::parse_ordered([
            "tailcache-bench",
            "--cluster",
            "127.0.0.1:1,127.0.0.1:2",
            "-t",
            "127.0.0.1:3",
            "--cluster",
            "127.0.0.1:4",
        ])
        .unwrap();
        assert_eq!(
            a.target_flags(),
            [
                TargetFlag::Cluster("127.0.0.1:1,127.0.0.1:2".into()),
                TargetFlag::Target("127.0.0.1:3".into()),
                TargetFlag::Cluster("127.0.0.1:4".into()),
            ]
        );
    }
}
