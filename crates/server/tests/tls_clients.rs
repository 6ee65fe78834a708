//! TLS with real clients: openssl s_client, redis-cli --tls, curl and
//! pymemcache with an ssl context, against certificates made here (rcgen):
//! memcached's -Z flags, TLS ports beside plain ones, mutual TLS, and
//! certificate reload (SIGHUP, refresh_certs) with connections open.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use support::{run, send_signal, Tailcache};

/// A CA and what it signed, as PEM files in a directory of their own.
struct Pki {
    dir: PathBuf,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl Pki {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tailcache-tls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params
            .distinguished_name
            .push(DnType::CommonName, "tailcache test CA");
        let ca = params.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Self { dir, ca, ca_key }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Writes `{stem}.pem` and `{stem}.key` signed by the CA, for
    /// localhost/127.0.0.1 (server) or as a client certificate.
    fn issue(&self, stem: &str, common_name: &str, client: bool) {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        std::fs::write(self.path(&format!("{stem}.pem")), cert.pem()).unwrap();
        std::fs::write(self.path(&format!("{stem}.key")), key.serialize_pem()).unwrap();
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn arg(path: PathBuf) -> String {
    path.display().to_string()
}

/// Runs `program` with `input` on stdin, killed after 20 s.
fn run_tool(program: &str, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} is required: {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "{program} {args:?} hung");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// openssl s_client against `port`, sending `requests` then `quit`; returns
/// (stdout, stderr) — stderr holds the handshake details.
fn s_client(port: u16, ca: &Path, extra: &[&str], requests: &[u8]) -> (String, String) {
    let connect = format!("127.0.0.1:{port}");
    let ca = ca.display().to_string();
    let mut args = vec![
        "s_client",
        "-connect",
        &connect,
        "-CAfile",
        &ca,
        "-verify_return_error",
        "-servername",
        "localhost",
        "-quiet",
    ];
    args.extend_from_slice(extra);
    let mut input = requests.to_vec();
    input.extend_from_slice(b"quit\r\n");
    let out = run_tool("openssl", &args, &input);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The subject CN of the certificate `port` presents now.
fn presented_common_name(port: u16, ca: &Path) -> String {
    let connect = format!("127.0.0.1:{port}");
    let out = run_tool(
        "openssl",
        &[
            "s_client",
            "-connect",
            &connect,
            "-CAfile",
            &ca.display().to_string(),
            "-servername",
            "localhost",
        ],
        b"",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let subject = text
        .lines()
        .find(|l| l.starts_with("subject="))
        .unwrap_or_else(|| panic!("no subject in s_client output: {text}"));
    subject
        .rsplit("CN")
        .next()
        .unwrap()
        .trim_start_matches([' ', '='])
        .to_owned()
}

fn port(server: &Tailcache, what: &str) -> u16 {
    server.addr(what).port()
}

#[test]
fn memcached_tls_flags_serve_every_real_client_and_refuse_plaintext() {
    let pki = Pki::new("flags");
    pki.issue("server", "first", false);
    let chain = format!(
        "ssl_chain_cert={},ssl_key={}",
        arg(pki.path("server.pem")),
        arg(pki.path("server.key"))
    );
    let server = Tailcache::start(&[
        "-Z",
        "-o",
        &chain,
        "--resp-port",
        "0",
        "--http-port",
        "0",
        "--admin-tls",
    ]);
    let ca = pki.path("ca.pem");

    // memcache through openssl s_client.
    let (out, err) = s_client(
        port(&server, "memcache+tls"),
        &ca,
        &[],
        b"set k 0 0 5\r\nhello\r\nget k\r\n",
    );
    assert_eq!(out, "STORED\r\nVALUE k 0 5\r\nhello\r\nEND\r\n", "{err}");

    // RESP through redis-cli --tls.
    let resp_port = port(&server, "resp+tls").to_string();
    let ca_arg = arg(ca.clone());
    let redis = |args: &[&str]| {
        let mut all = vec![
            "--tls",
            "--cacert",
            &ca_arg,
            "-h",
            "localhost",
            "-p",
            &resp_port,
        ];
        all.extend_from_slice(args);
        let out = run_tool("redis-cli", &all, b"");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(redis(&["SET", "r", "over-tls"]), "OK");
    assert_eq!(redis(&["GET", "r"]), "over-tls");
    assert_eq!(redis(&["GET", "k"]), "hello");

    // HTTP and the admin endpoint through curl.
    let curl = |url: String| {
        let out = run_tool("curl", &["-sS", "--cacert", &ca_arg, &url], b"");
        assert!(
            out.status.success(),
            "curl {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let http = port(&server, "http+tls");
    assert_eq!(curl(format!("https://localhost:{http}/keys/k")), "hello");
    let admin = port(&server, "admin+tls");
    let metrics = curl(format!("https://localhost:{admin}/metrics"));
    assert!(
        metrics.contains("tailcache_tls_handshakes_total"),
        "{metrics}"
    );

    // pymemcache with an ssl context.
    let script = format!(
        "import ssl, sys\n\
         from pymemcache.client.base import Client\n\
         ctx = ssl.create_default_context(cafile={ca:?})\n\
         c = Client(('localhost', {port}), tls_context=ctx, timeout=5)\n\
         c.set('p', b'py')\n\
         assert c.get('p') == b'py', c.get('p')\n\
         assert c.get('k') == b'hello'\n\
         print('ok')\n",
        ca = ca.display().to_string(),
        port = port(&server, "memcache+tls"),
    );
    let out = run_tool("python3", &["-c", &script], b"");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Plaintext on the TLS port gets no reply and costs only that connection.
    let mut plain = server.connect("memcache+tls");
    plain.write_all(b"get k\r\n").unwrap();
    let reply = support::read_all(&mut plain);
    assert!(
        !reply.starts_with(b"VALUE") && !reply.starts_with(b"END"),
        "{reply:?}"
    );
    let (out, _) = s_client(port(&server, "memcache+tls"), &ca, &[], b"stats\r\n");
    let errors: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("STAT ssl_handshake_errors "))
        .expect("ssl_handshake_errors in stats")
        .parse()
        .unwrap();
    assert!(errors >= 1, "the plaintext attempt is counted");
}

#[test]
fn a_tls_port_serves_beside_the_plain_one() {
    let pki = Pki::new("beside");
    pki.issue("server", "first", false);
    let server = Tailcache::start(&[
        "--tls-port",
        "0",
        "--tls-cert",
        &arg(pki.path("server.pem")),
        "--tls-key",
        &arg(pki.path("server.key")),
    ]);
    let mut plain = server.connect("memcache");
    plain.write_all(b"set k 0 0 1\r\nx\r\n").unwrap();
    let mut reply = [0u8; 8];
    std::io::Read::read_exact(&mut plain, &mut reply).unwrap();
    assert_eq!(&reply, b"STORED\r\n");
    let (out, err) = s_client(
        port(&server, "memcache+tls"),
        &pki.path("ca.pem"),
        &[],
        b"get k\r\n",
    );
    assert_eq!(out, "VALUE k 0 1\r\nx\r\nEND\r\n", "{err}");
}

#[test]
fn mutual_tls_requires_a_client_certificate_from_the_ca() {
    let pki = Pki::new("mutual");
    pki.issue("server", "first", false);
    pki.issue("client", "a client", true);
    let other = Pki::new("mutual-other");
    other.issue("client", "a stranger", true);
    let server = Tailcache::start(&[
        "-Z",
        "-o",
        &format!(
            "ssl_chain_cert={},ssl_key={},ssl_ca_cert={},ssl_verify_mode=2",
            arg(pki.path("server.pem")),
            arg(pki.path("server.key")),
            arg(pki.path("ca.pem"))
        ),
    ]);
    let tls_port = port(&server, "memcache+tls");
    let ca = pki.path("ca.pem");
    let with_cert = |pki: &Pki| {
        s_client(
            tls_port,
            &ca,
            &[
                "-cert",
                &arg(pki.path("client.pem")),
                "-key",
                &arg(pki.path("client.key")),
            ],
            b"version\r\n",
        )
    };
    let (out, err) = with_cert(&pki);
    assert!(out.starts_with("VERSION "), "{out} {err}");
    let (out, _) = s_client(tls_port, &ca, &[], b"version\r\n");
    assert!(
        !out.contains("VERSION"),
        "no client certificate: refused, got {out}"
    );
    let (out, _) = with_cert(&other);
    assert!(
        !out.contains("VERSION"),
        "a certificate from another CA: refused, got {out}"
    );
}

#[test]
fn certificates_reload_on_sighup_and_refresh_certs_without_dropping_connections() {
    let pki = Pki::new("reload");
    pki.issue("server", "first", false);
    let server = Tailcache::start(&[
        "-Z",
        "-o",
        &format!(
            "ssl_chain_cert={},ssl_key={}",
            arg(pki.path("server.pem")),
            arg(pki.path("server.key"))
        ),
    ]);
    let tls_port = port(&server, "memcache+tls");
    let ca = pki.path("ca.pem");
    assert_eq!(presented_common_name(tls_port, &ca), "first");

    // A connection open across both reloads: s_client fed through a pipe.
    let mut open = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{tls_port}"),
            "-CAfile",
            &arg(ca.clone()),
            "-quiet",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl is required");
    let mut open_in = open.stdin.take().unwrap();
    open_in.write_all(b"set before 0 0 1\r\nb\r\n").unwrap();
    open_in.flush().unwrap();

    pki.issue("server", "second", false);
    send_signal(server.pid(), "HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while presented_common_name(tls_port, &ca) != "second" {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        std::thread::sleep(Duration::from_millis(100));
    }

    pki.issue("server", "third", false);
    let (out, err) = s_client(tls_port, &ca, &[], b"refresh_certs\r\n");
    assert_eq!(out, "OK\r\n", "{err}");
    assert_eq!(presented_common_name(tls_port, &ca), "third");

    // A broken file: the error line, and the old certificate keeps serving.
    std::fs::write(pki.path("server.pem"), "not a certificate").unwrap();
    let (out, _) = s_client(tls_port, &ca, &[], b"refresh_certs\r\n");
    assert!(
        out.starts_with("Error loading the certificate chain: "),
        "{out}"
    );
    assert_eq!(presented_common_name(tls_port, &ca), "third");

    // The connection opened before the reloads still works.
    open_in.write_all(b"get before\r\nquit\r\n").unwrap();
    drop(open_in);
    let out = open.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "STORED\r\nVALUE before 0 1\r\nb\r\nEND\r\n"
    );
}

#[test]
fn tls_settings_that_cannot_work_stop_the_start_with_the_flag_named() {
    let out = run(&["-p", "-1", "-Z"]);
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--tls-cert") && err.contains("no certificate"),
        "{err}"
    );

    let out = run(&[
        "-p",
        "-1",
        "-Z",
        "-o",
        "ssl_chain_cert=/nonexistent/cert.pem",
    ]);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/cert.pem"), "{err}");

    let out = run(&["-p", "-1", "-o", "ssl_min_version=9"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ssl_min_version"));

    let out = run(&["-p", "-1", "-s", "/tmp/x.sock", "--tls-port", "0"]);
    // A TLS port is TCP: allowed beside a unix socket, but needs a certificate.
    assert_eq!(out.status.code(), Some(64));
}
