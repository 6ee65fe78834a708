//! TLS end to end: the generator against the in-process responder speaking TLS with
//! certificates made here (rcgen): verified against a CA, mutual TLS, deep pipelines of
//! large values (TLS output that waits for the socket), and the errors a wrong CA, a
//! missing client certificate or a missing --tls-ca give.

use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use tailcache_bench::config::{Load, RunConfig};
use tailcache_bench::driver::run;
use tailcache_bench::echo_server::{EchoServer, Pause};
use tailcache_bench::error::BenchError;
use tailcache_bench::schedule::Arrival;
use tailcache_bench::tls::{TlsClient, TlsOptions};
use tailcache_bench::workload::{Mix, ValueSizes};

const BIN: &str = env!("CARGO_BIN_EXE_tailcache-bench");

/// A CA, a server certificate for localhost and a client certificate it signed, as
/// PEM files in a directory of their own.
struct Pki {
    dir: PathBuf,
    ca_der: CertificateDer<'static>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key_der: Vec<u8>,
}

impl Pki {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("tailcache-bench-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
            (cert, key)
        };
        let (server, server_key) = leaf(
            vec!["localhost".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client, client_key) = leaf(vec!["bench".into()], ExtendedKeyUsagePurpose::ClientAuth);
        let write = |file: &str, text: String| std::fs::write(dir.join(file), text).unwrap();
        write("ca.pem", ca.pem());
        write("client.pem", client.pem());
        write("client.key", client_key.serialize_pem());
        // A second, unrelated CA: verifying against it must fail.
        let other_key = KeyPair::generate().unwrap();
        let mut other = CertificateParams::new(Vec::<String>::new()).unwrap();
        other.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        write("other-ca.pem", other.self_signed(&other_key).unwrap().pem());
        Self {
            dir,
            ca_der: ca.der().clone(),
            server_chain: vec![server.der().clone()],
            server_key_der: server_key.serialize_der(),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The responder's configuration; with `require_client_cert`, mutual TLS.
    fn server_config(&self, require_client_cert: bool) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if require_client_cert {
            let mut roots = RootCertStore::empty();
            roots.add(self.ca_der.clone()).unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone()));
        Arc::new(
            builder
                .with_single_cert(self.server_chain.clone(), key)
                .unwrap(),
        )
    }

    fn client(&self, ca: &str, with_cert: bool) -> TlsClient {
        TlsClient::new(&TlsOptions {
            ca_file: Some(self.file(ca)),
            insecure: false,
            server_name: "localhost".into(),
            cert_file: with_cert.then(|| self.file("client.pem")),
            key_file: with_cert.then(|| self.file("client.key")),
        })
        .unwrap()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn open_loop_config(server: &EchoServer, tls: TlsClient) -> RunConfig {
    let mut c = RunConfig::defaults(server.addr());
    c.load = Load::Open {
        rate_per_s: 2000.0,
        arrival: Arrival::Uniform,
    };
    c.connections = 4;
    c.threads = 2;
    c.warmup = Duration::from_millis(200);
    c.duration = Duration::from_secs(1);
    c.workload.mix = Mix::parse("get=90,set=10").unwrap();
    c.workload.keys = 500;
    c.prefill = true;
    c.tls = Some(tls);
    c
}

#[test]
fn verified_tls_run_answers_every_scheduled_request() {
    let pki = Pki::new("verified");
    let server = EchoServer::start_tls(None, pki.server_config(false)).unwrap();
    let result = run(
        &open_loop_config(&server, pki.client("ca.pem", false)),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(result.counters.errors(), 0, "{:?}", result.counters);
    assert!(
        (1_990..=2_000).contains(&result.counters.completed),
        "{:?}",
        result.counters
    );
    let json = serde_json::to_string(&result).unwrap();
    assert!(
        json.contains(
            r#""tls":{"server_name":"localhost","verifies_server":true,"client_certificate":false}"#
        ),
        "{json}"
    );
}

#[test]
fn mutual_tls_presents_the_client_certificate() {
    let pki = Pki::new("mutual");
    let server = EchoServer::start_tls(None, pki.server_config(true)).unwrap();
    let result = run(
        &open_loop_config(&server, pki.client("ca.pem", true)),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(result.counters.errors(), 0, "{:?}", result.counters);
    assert!(result.counters.completed >= 1_990, "{:?}", result.counters);
    // Without a certificate the server refuses; the run says so before it starts.
    // (TLS 1.3 clients learn of the refusal only at their first read, which the probe
    // does not make, so the failure may come from prefill instead.)
    let mut bare = open_loop_config(&server, pki.client("ca.pem", false));
    bare.prefill = true;
    match run(&bare, &mut |_| {}) {
        Err(BenchError::Tls(..) | BenchError::PrefillFailed(_) | BenchError::Io(_)) => {}
        other => panic!("expected the refusal, got {other:?}"),
    }
}

#[test]
fn a_server_the_ca_did_not_sign_is_refused_with_a_clear_error() {
    let pki = Pki::new("wrong-ca");
    let server = EchoServer::start_tls(None, pki.server_config(false)).unwrap();
    let err = run(
        &open_loop_config(&server, pki.client("other-ca.pem", false)),
        &mut |_| {},
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, BenchError::Tls(..)) && text.contains("--tls-ca"),
        "{text}"
    );
}

#[test]
fn a_request_larger_than_the_socket_takes_is_sent_whole() {
    // One 1 MiB set at a time to a server that stops reading 40 ms in every 50: writes
    // stop on a full socket with rustls's buffer full too, and resume from the writable
    // event; a request left half-sent would time out.
    let pki = Pki::new("large");
    let pause = Pause {
        period: Duration::from_millis(50),
        length: Duration::from_millis(40),
    };
    let server = EchoServer::start_tls(Some(pause), pki.server_config(false)).unwrap();
    let mut c = RunConfig::defaults(server.addr());
    c.load = Load::Closed { pipeline: 1 };
    c.connections = 1;
    c.warmup = Duration::ZERO;
    c.duration = Duration::from_millis(700);
    c.timeout = Duration::from_millis(500);
    c.workload.mix = Mix::parse("set=1").unwrap();
    c.workload.value_sizes = ValueSizes::Fixed(1 << 20);
    c.tls = Some(pki.client("ca.pem", false));
    let result = run(&c, &mut |_| {}).unwrap();
    assert!(result.counters.completed > 2, "{:?}", result.counters);
    assert_eq!(result.counters.timeouts, 0, "{:?}", result.counters);
}

#[test]
fn deep_pipelines_of_large_values_keep_flowing() {
    // 64 KiB sets, 32 deep: far more than the socket and rustls's buffer take at once,
    // so writes stop on a full socket and must resume from the writable event.
    let pki = Pki::new("pipeline");
    let server = EchoServer::start_tls(None, pki.server_config(false)).unwrap();
    let mut c = RunConfig::defaults(server.addr());
    c.load = Load::Closed { pipeline: 32 };
    c.connections = 2;
    c.warmup = Duration::ZERO;
    c.duration = Duration::from_millis(700);
    c.workload.mix = Mix::parse("set=1").unwrap();
    c.workload.value_sizes = ValueSizes::Fixed(64 * 1024);
    c.tls = Some(pki.client("ca.pem", false));
    let result = run(&c, &mut |_| {}).unwrap();
    assert!(result.counters.completed > 100, "{:?}", result.counters);
    assert_eq!(
        result.counters.errors() - result.counters.lost,
        0,
        "{:?}",
        result.counters
    );
}

fn bench(args: &[&str], files: &[(&str, &Path)]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for (flag, path) in files {
        cmd.arg(flag).arg(path);
    }
    cmd.output().unwrap()
}

#[test]
fn the_command_line_speaks_tls_and_refuses_to_skip_verification_silently() {
    let pki = Pki::new("cli");
    let server = EchoServer::start_tls(None, pki.server_config(true)).unwrap();
    let target = server.addr().to_string();
    let common = [
        "--target", &target, "--tls", "--rate", "1k", "-d", "300ms", "--warmup", "0s", "-q",
    ];
    let out = bench(
        &common,
        &[
            ("--tls-ca", &pki.file("ca.pem")),
            ("--tls-cert", &pki.file("client.pem")),
            ("--tls-key", &pki.file("client.key")),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("p99.9"));

    let out = bench(&common, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--tls-ca FILE") && stderr.contains("--tls-insecure"),
        "{stderr}"
    );
}
