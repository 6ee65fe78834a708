//! Command-line flags and their translation into a [`RunConfig`].

use super::targets::TargetFlag;
use crate::cluster::Cluster;
use crate::config::{Load, RunConfig};
use crate::error::BenchError;
use crate::protocol::Protocol;
use crate::schedule::Arrival;
use crate::tls::{default_server_name, TlsClient, TlsOptions};
use crate::units::{parse_count, parse_duration, parse_u64};
use crate::workload::{Mix, Popularity, ValueSizes, Workload};
use clap::Parser;
use std::path::PathBuf;

/// tailcache-bench: open-loop, coordinated-omission-free load for memcached-compatible
/// servers (memcache text and meta, RESP, HTTP). Loopback targets only.
#[derive(Debug, Parser)]
#[command(name = "tailcache-bench", version)]
pub struct Args {
    /// Target HOST:PORT (loopback only); give it several times to compare targets.
    #[arg(long = "target", short = 't')]
    pub targets: Vec<String>,
    /// A cluster as one target: HOST:PORT[:WEIGHT],... (loopback only). Each request
    /// goes to the server its key maps to by ketama, as libmemcached and twemproxy
    /// place keys; --connections then counts per server. Give several --cluster (or
    /// --target) to compare them.
    #[arg(long = "cluster", value_name = "HOST:PORT[:WEIGHT],...")]
    pub clusters: Vec<String>,
    /// Name for each target in reports, in the order of --target and --cluster.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Also start a trivial in-process responder and load it (labelled "echo"):
    /// measures the generator's own floor.
    #[arg(long)]
    pub echo_server: bool,
    /// Protocol: mc (memcache text), meta, resp, http.
    #[arg(long, default_value = "mc")]
    pub protocol: String,
    /// Total requests per second over all connections (10k, 1.5M), of the whole cluster
    /// with --cluster; 0 = closed loop.
    #[arg(long, default_value = "10k")]
    pub rate: String,
    /// Arrival process in open loop: uniform or poisson.
    #[arg(long, default_value = "uniform")]
    pub arrival: String,
    /// Closed loop: requests kept outstanding per connection.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Connections in total; with --cluster, connections to each server.
    #[arg(long, short = 'c', default_value_t = 4)]
    pub connections: usize,
    /// Generator threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Measured time (500ms, 10s, 1m).
    #[arg(long, short = 'd', default_value = "10s")]
    pub duration: String,
    /// Unmeasured time before it.
    #[arg(long, default_value = "2s")]
    pub warmup: String,
    /// Distinct keys.
    #[arg(long, default_value = "100k")]
    pub keys: String,
    /// Key prefix (keys are PREFIX + index).
    #[arg(long, default_value = "key:")]
    pub key_prefix: String,
    /// Key popularity: uniform, or zipf:THETA (zipf:0.99).
    #[arg(long, default_value = "uniform")]
    pub popularity: String,
    /// Value size in bytes (k, m: KiB, MiB, as the server reads sizes): N, MIN..MAX, or SIZE:WEIGHT,SIZE:WEIGHT.
    #[arg(long, default_value = "100")]
    pub value_size: String,
    /// Command mix, relative weights: get=90,set=10,delete=0,multiget=0.
    #[arg(long, default_value = "get=100")]
    pub mix: String,
    /// Keys per multiget.
    #[arg(long, default_value_t = 10)]
    pub multiget_keys: usize,
    /// TTL of stored values, seconds (0 = none).
    #[arg(long, default_value_t = 0)]
    pub ttl: u32,
    /// Store every key once before measuring.
    #[arg(long)]
    pub prefill: bool,
    /// A request unanswered this long breaks its connection (counted, reconnected).
    #[arg(long, default_value = "1s")]
    pub timeout: String,
    /// Open loop: most requests outstanding per connection.
    #[arg(long, default_value_t = 4096)]
    pub max_inflight: usize,
    /// Seed of the schedule and key choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Compare mode: rounds of A B A B ... (medians are reported).
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Rate sweep START:END:STEP (10k:200k:10k); stops when P99.9 exceeds --slo-p999.
    #[arg(long)]
    pub sweep: Option<String>,
    /// The P99.9 bound of a sweep.
    #[arg(long, default_value = "1ms")]
    pub slo_p999: String,
    /// Directory for report.html, report.md, report.json, summary.txt, *.svg, *.hgrm.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Title of the report.
    #[arg(long)]
    pub title: Option<String>,
    /// No live per-second progress.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Speak TLS to every target (rustls, TLS 1.2 and 1.3); each connection handshakes
    /// when it connects, before any request is timed. Needs --tls-ca or --tls-insecure.
    #[arg(long)]
    pub tls: bool,
    /// PEM file of the CA certificate(s) that verify the server's certificate.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Accept any server certificate (no verification); only when asked for, never by
    /// default.
    #[arg(long)]
    pub tls_insecure: bool,
    /// Name sent in SNI and verified in the server's certificate [default: the first
    /// target's host when it is a name, else localhost].
    #[arg(long, value_name = "NAME")]
    pub tls_server_name: Option<String>,
    /// PEM client certificate chain for mutual TLS (with --tls-key).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// --target and --cluster values in command-line order (filled by
    /// `Args::parse_ordered`).
    #[arg(skip)]
    pub order: Vec<TargetFlag>,
}

fn bad(e: String) -> BenchError {
    BenchError::BadArgument(e)
}

/// Prefixes a parse error with the flag it came from.
fn flag(name: &'static str) -> impl Fn(String) -> BenchError {
    move |e| BenchError::BadArgument(format!("{name}: {e}"))
}

/// Parses `uniform` or `zipf:THETA`.
pub fn parse_popularity(text: &str) -> Result<Popularity, String> {
    match text.split_once(':') {
        None if text == "uniform" => Ok(Popularity::Uniform),
        Some(("zipf", theta)) => {
            let theta: f64 = theta
                .parse()
                .map_err(|_| format!("bad zipf theta in {text:?}"))?;
            Ok(Popularity::Zipf { theta })
        }
        _ => Err(format!("popularity {text:?} is not uniform or zipf:THETA")),
    }
}

impl Args {
    /// The run these flags describe, against `target` (checked later).
    pub fn to_config(
        &self,
        target: std::net::SocketAddr,
        label: String,
    ) -> Result<RunConfig, BenchError> {
        let rate = parse_count(&self.rate).map_err(flag("--rate"))?;
        let arrival = match self.arrival.as_str() {
            "uniform" => Arrival::Uniform,
            "poisson" => Arrival::Poisson,
            other => {
                return Err(bad(format!(
                    "--arrival {other:?} is not uniform or poisson"
                )))
            }
        };
        let load = if rate == 0.0 {
            Load::Closed {
                pipeline: self.pipeline,
            }
        } else {
            Load::Open {
                rate_per_s: rate,
                arrival,
            }
        };
        let workload = Workload {
            keys: parse_u64(&self.keys).map_err(flag("--keys"))?,
            key_prefix: self.key_prefix.clone(),
            popularity: parse_popularity(&self.popularity).map_err(flag("--popularity"))?,
            value_sizes: ValueSizes::parse(&self.value_size).map_err(flag("--value-size"))?,
            mix: Mix::parse(&self.mix).map_err(flag("--mix"))?,
            multiget_keys: self.multiget_keys,
            ttl_s: self.ttl,
        };
        let config = RunConfig {
            target,
            cluster: None,
            label,
            protocol: Protocol::parse(&self.protocol).map_err(flag("--protocol"))?,
            load,
            connections: self.connections,
            threads: self.threads,
            duration: parse_duration(&self.duration).map_err(flag("--duration"))?,
            warmup: parse_duration(&self.warmup).map_err(flag("--warmup"))?,
            workload,
            prefill: self.prefill,
            timeout: parse_duration(&self.timeout).map_err(flag("--timeout"))?,
            max_inflight_per_connection: self.max_inflight,
            seed: self.seed,
            tls: self.tls_client()?,
        };
        config.validate().map_err(bad)?;
        Ok(config)
    }
}

impl Args {
    /// The TLS configuration the `--tls*` flags describe, `None` without `--tls`; a
    /// `--tls-*` flag without `--tls` is an error rather than silently plain.
    pub fn tls_client(&self) -> Result<Option<TlsClient>, BenchError> {
        if !self.tls {
            let stray = [
                (self.tls_ca.is_some(), "--tls-ca"),
                (self.tls_insecure, "--tls-insecure"),
                (self.tls_server_name.is_some(), "--tls-server-name"),
                (self.tls_cert.is_some(), "--tls-cert"),
                (self.tls_key.is_some(), "--tls-key"),
            ];
            return match stray.iter().find(|(given, _)| *given) {
                Some((_, name)) => Err(bad(format!("{name} needs --tls"))),
                None => Ok(None),
            };
        }
        let server_name = match &self.tls_server_name {
            Some(name) => name.clone(),
            None => {
                let first = match self.target_flags().first() {
                    Some(TargetFlag::Target(t)) => t.clone(),
                    Some(TargetFlag::Cluster(spec)) => Cluster::parse(spec)
                        .ok()
                        .and_then(|c| c.servers.first().map(|s| s.label.clone()))
                        .unwrap_or_default(),
                    None => String::new(),
                };
                default_server_name(&first)
            }
        };
        let options = TlsOptions {
            ca_file: self.tls_ca.clone(),
            insecure: self.tls_insecure,
            server_name,
            cert_file: self.tls_cert.clone(),
            key_file: self.tls_key.clone(),
        };
        TlsClient::new(&options).map(Some).map_err(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut v = vec!["tailcache-bench", "--target", "127.0.0.1:11211"];
        v.extend_from_slice(extra);
        Args::parse_from(v)
    }

    fn addr() -> std::net::SocketAddr {
        "127.0.0.1:11211".parse().unwrap()
    }

    #[test]
    fn flags_become_a_config() {
        let c = args(&[
            "--rate",
            "20k",
            "--arrival",
            "poisson",
            "--popularity",
            "zipf:0.99",
            "--mix",
            "get=90,set=10",
        ])
        .to_config(addr(), "a".into())
        .unwrap();
        assert_eq!(
            c.load,
            Load::Open {
                rate_per_s: 20_000.0,
                arrival: Arrival::Poisson
            }
        );
        assert_eq!(c.workload.popularity, Popularity::Zipf { theta: 0.99 });
        let c = args(&["--rate", "0", "--pipeline", "16"])
            .to_config(addr(), "a".into())
            .unwrap();
        assert_eq!(c.load, Load::Closed { pipeline: 16 });
        assert!(c.tls.is_none());
        let c = args(&["--tls", "--tls-insecure"])
            .to_config(addr(), "a".into())
            .unwrap();
        assert!(c.tls.is_some());
    }

    #[test]
    fn tls_without_a_ca_says_how_to_skip_verification() {
        let e = args(&["--tls"]).to_config(addr(), "a".into()).unwrap_err();
        assert!(e.to_string().contains("--tls-insecure"), "{e}");
    }

    #[test]
    fn bad_flags_are_typed_errors() {
        for extra in [
            &["--rate", "fast"][..],
            &["--arrival", "bursty"],
            &["--popularity", "zipf"],
            &["--protocol", "gopher"],
            &["--connections", "0"],
            &["--threads", "8", "--connections", "4"],
            &["--duration", "0s"],
            &["--protocol", "http", "--mix", "multiget=1"],
            &["--rate", "0", "--pipeline", "0"],
            &["--tls"],
            &["--tls-insecure"],
            &["--tls", "--tls-insecure", "--tls-ca", "ca.pem"],
            &["--tls", "--tls-insecure", "--tls-key", "key.pem"],
        ] {
            assert!(
                matches!(
                    args(extra).to_config(addr(), "a".into()),
                    Err(BenchError::BadArgument(_))
                ),
                "{extra:?}"
            );
        }
    }
}
