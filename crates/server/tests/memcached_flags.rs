//! memcached's command line, as init scripts, unit files and memcached's own
//! tests write it: every flag is accepted, those with a meaning here apply
//! (-u, -P, -d, -F, -U, -k, -r), each one without effect warns exactly once,
//! and several instances run side by side with default flags.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{run, send_signal, Tailcache, IO_TIMEOUT, START_TIMEOUT};

/// Every `-o` option memcached 1.6.18 accepts (its -h list, the tokens of
/// memcached.c, extstore's and TLS's), each with a plausible value.
const EVERY_O_OPTION: &[&str] = &[
    "maxconns_fast",
    "no_maxconns_fast",
    "hashpower=20",
    "no_hashexpand",
    "tail_repair_time=10",
    "hash_algorithm=murmur3",
    "lru_crawler",
    "no_lru_crawler",
    "lru_crawler_sleep=100",
    "lru_crawler_tocrawl=0",
    "lru_maintainer",
    "no_lru_maintainer",
    "hot_lru_pct=20",
    "warm_lru_pct=40",
    "hot_max_factor=0.20",
    "warm_max_factor=2.00",
    "temporary_ttl=61",
    "idle_timeout=0",
    "read_buf_mem_limit=0",
    "worker_logbuf_size=64",
    "slab_reassign",
    "no_slab_reassign",
    "slab_automove=1",
    "no_slab_automove",
    "slab_automove_ratio=0.8",
    "slab_automove_window=30",
    "slab_automove_freeratio=0.010",
    "slab_chunk_max=512",
    "slab_sizes=96-192-384",
    "no_chunked_items",
    "track_sizes",
    "modern",
    "no_modern",
    "inline_ascii_resp",
    "no_inline_ascii_resp",
    "resp_obj_mem_limit=1",
    "drop_privileges",
    "no_drop_privileges",
    "relaxed_privileges",
    "sock_cookie_id=7",
    "proxy_uring",
    "ext_path=/tmp/tailcache-extstore:64m",
    "ext_page_size=64",
    "ext_wbuf_size=4",
    "ext_threads=1",
    "ext_io_depth=1",
    "ext_item_size=512",
    "ext_item_age=0",
    "ext_low_ttl=0",
    "ext_drop_unread",
    "ext_recache_rate=2000",
    "ext_compact_under=4",
    "ext_drop_under=4",
    "ext_max_frag=0.80",
    "ext_max_sleep=1000000",
    "ssl_chain_cert=/etc/ssl/server.pem",
    "ssl_key=/etc/ssl/server.key",
    "ssl_keyformat=0",
    "ssl_verify_mode=0",
    "ssl_ciphers=HIGH",
    "ssl_ca_cert=/etc/ssl/ca.pem",
    "ssl_wbuf_size=16",
    "ssl_session_cache",
    "ssl_kernel_tls",
    "ssl_min_version=2",
];

/// `-o` options whose memcached meaning is what tailcache always does.
const SILENT_O_OPTIONS: &[&str] = &[
    "maxconns_fast",
    "modern",
    "inline_ascii_resp",
    "no_inline_ascii_resp",
    "idle_timeout",
    "lru_crawler",
    "no_lru_crawler",
    "lru_maintainer",
    "no_lru_maintainer",
    // TLS settings: they apply (to -Z and --tls-port listeners).
    "ssl_chain_cert",
    "ssl_key",
    "ssl_verify_mode",
    "ssl_ca_cert",
    "ssl_min_version",
    "ssl_wbuf_size",
    "ssl_session_cache",
    "resp_obj_mem_limit",
    "read_buf_mem_limit",
];

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tailcache-mcflags-{}-{name}", std::process::id()))
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// Sends `request` and reads until the reply ends with `until`.
fn ask(stream: &mut TcpStream, request: &str, until: &str) -> String {
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    while !reply.ends_with(until.as_bytes()) {
        let n = stream.read(&mut chunk).expect("reply in time");
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&reply));
        reply.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(reply).unwrap()
}

/// A set then a get of the same key on `addr`.
fn assert_serves(addr: SocketAddr) {
    let mut client = connect(addr);
    assert_eq!(
        ask(&mut client, "set flagkey 5 0 3\r\nabc\r\n", "\r\n"),
        "STORED\r\n"
    );
    assert_eq!(
        ask(&mut client, "get flagkey\r\n", "END\r\n"),
        "VALUE flagkey 5 3\r\nabc\r\nEND\r\n"
    );
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

/// The user id of `name` from /etc/passwd.
fn uid_of(name: &str) -> Option<u32> {
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find(|l| l.split(':').next() == Some(name))
        .and_then(|l| l.split(':').nth(2)?.parse().ok())
}

/// The real, effective, saved and file-system uids of every thread of `pid`.
fn thread_uids(pid: u32) -> Vec<Vec<u32>> {
    let mut all = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let status = std::fs::read_to_string(task.unwrap().path().join("status")).unwrap();
        let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        all.push(
            line.split_whitespace()
                .skip(1)
                .map(|n| n.parse().unwrap())
                .collect(),
        );
    }
    all
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + START_TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Lines of `log` that are tailcache warnings.
fn warnings(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter(|l| l.contains("warning"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn init_script_line_as_root_switches_user_and_writes_the_pid_file() {
    if !is_root() {
        eprintln!("skipped: -u switches user only when started as root");
        return;
    }
    let nobody = uid_of("nobody").expect("a nobody user");
    let pid_file = temp_path("init.pid");
    // Debian's /etc/memcached.conf, as the init script passes it.
    let mut server = Tailcache::start_exact(&[
        "-u",
        "nobody",
        "-m",
        "64",
        "-p",
        "-1",
        "-c",
        "1024",
        "-l",
        "127.0.0.1",
        "-P",
        pid_file.to_str().unwrap(),
        "-t",
        "2",
    ]);
    let pid = server.pid();
    for uids in thread_uids(pid) {
        assert_eq!(uids, vec![nobody; 4], "a thread kept another identity");
    }
    let written = std::fs::read_to_string(&pid_file).expect("pid file written");
    assert_eq!(written.trim(), pid.to_string());
    assert_serves(server.addr("memcache"));
    let (status, _) = server.signal_and_wait("TERM");
    assert!(status.success(), "{status}");
    assert!(!pid_file.exists(), "pid file left behind");
}

#[test]
fn unknown_user_exits_67_before_binding() {
    if !is_root() {
        return;
    }
    let output = run(&["-p", "-1", "-u", "no-such-user-tailcache"]);
    assert_eq!(output.status.code(), Some(67));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no-such-user-tailcache"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn unix_socket_belongs_to_the_user_switched_to() {
    if !is_root() {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let nobody = uid_of("nobody").expect("a nobody user");
    let path = temp_path("sock");
    let mut server = Tailcache::start_exact(&["-s", path.to_str().unwrap(), "-u", "nobody"]);
    assert_eq!(std::fs::metadata(&path).unwrap().uid(), nobody);
    let (status, _) = server.signal_and_wait("TERM");
    assert!(status.success(), "{status}");
}

#[test]
fn udp_port_serves_udp_without_a_warning_and_is_the_tcp_port_without_p() {
    let log = temp_path("udp.log");
    let server = Tailcache::start_logged(&["-U", "0"], &log);
    assert_serves(server.addr("memcache"));
    assert_eq!(
        warnings(&log),
        Vec::<String>::new(),
        "-U 0 is memcached's default"
    );
    drop(server);

    // memcached: a UDP port without -p is the TCP port too.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Tailcache::start_logged(&["-U", &port.to_string(), "-p", &port.to_string()], &log);
    assert_eq!(warnings(&log), Vec::<String>::new());
    drop(server);
    let server = Tailcache::start_exact(&["-U", &port.to_string(), "-t", "1"]);
    assert_eq!(server.addr("memcache").port(), port);
    assert_serves(server.addr("memcache"));
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    client
        .send_to(
            b"\x00\x07\x00\x00\x00\x01\x00\x00version\r\n",
            ("127.0.0.1", port),
        )
        .unwrap();
    let mut reply = [0u8; 1400];
    let n = client.recv(&mut reply).unwrap();
    assert_eq!(&reply[..8], b"\x00\x07\x00\x00\x00\x01\x00\x00");
    assert!(reply[8..n].starts_with(b"VERSION "), "{:?}", &reply[..n]);
    let _ = std::fs::remove_file(&log);
}

#[test]
fn disable_flush_all_refuses_every_flush() {
    let server = Tailcache::start(&["-F", "--resp-port", "0"]);
    let mut client = server.connect("memcache");
    assert_eq!(
        ask(&mut client, "set kept 0 0 1\r\nx\r\n", "\r\n"),
        "STORED\r\n"
    );
    assert_eq!(
        ask(&mut client, "flush_all\r\n", "\r\n"),
        "CLIENT_ERROR flush_all not allowed\r\n"
    );
    assert_eq!(
        ask(&mut client, "flush_all 0\r\n", "\r\n"),
        "CLIENT_ERROR flush_all not allowed\r\n"
    );
    // noreply: nothing, as memcached.
    assert_eq!(
        ask(&mut client, "flush_all noreply\r\nmn\r\n", "\r\n"),
        "MN\r\n"
    );
    let mut resp = server.connect("resp");
    for command in ["FLUSHALL", "FLUSHDB"] {
        let request = format!("*1\r\n${}\r\n{command}\r\n", command.len());
        let reply = ask(&mut resp, &request, "\r\n");
        assert!(reply.starts_with("-ERR") && reply.contains("-F"), "{reply}");
    }
    assert_eq!(
        ask(&mut client, "get kept\r\n", "END\r\n"),
        "VALUE kept 0 1\r\nx\r\nEND\r\n"
    );
    // The refused commands are still counted, as memcached counts them.
    let stats = ask(&mut client, "stats\r\n", "END\r\n");
    assert!(stats.contains("STAT cmd_flush 5\r\n"), "{stats}");
}

/// memcached without CAS flushes whole seconds: what is stored after a flush in the
/// flush's second is gone too (its flush-all.t checks it). Each round is sent to both
/// servers in one write; the answers agree even when a second ends inside a round.
#[test]
fn without_cas_flush_takes_its_whole_second_as_memcached_does() {
    let (_memcached, memcached_addr) = support::start_memcached(&["-C"]);
    let server = Tailcache::start(&["-C", "--resp-port", "0"]);
    let mut ours = server.connect("memcache");
    let mut theirs = support::connect(memcached_addr);
    let rounds = [
        "flush_all\r\nset foo 0 0 3\r\nnew\r\nget foo\r\n",
        "flush_all 0\r\nset foo 0 0 3\r\nnew\r\nget foo\r\n",
        "set kept 0 0 1\r\nx\r\nflush_all 0 noreply\r\nadd kept 0 0 1\r\ny\r\nget kept\r\n",
        // A flush far ahead replaces the one of this second: stores live again.
        "flush_all\r\nflush_all 86400\r\nset foo 0 0 3\r\nnew\r\nget foo\r\n",
    ];
    for round in rounds {
        let expected = support::exchange(&mut theirs, round.as_bytes(), b"END\r\n");
        let got = support::exchange(&mut ours, round.as_bytes(), b"END\r\n");
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected),
            "{round:?}"
        );
    }
    // With CAS on, the flush is exact: a store right after it is kept.
    let exact = Tailcache::start(&["--resp-port", "0"]);
    let mut client = exact.connect("memcache");
    assert_eq!(
        ask(
            &mut client,
            "flush_all\r\nset foo 0 0 3\r\nnew\r\nget foo\r\n",
            "END\r\n"
        ),
        "OK\r\nSTORED\r\nVALUE foo 0 3\r\nnew\r\nEND\r\n"
    );
}

#[test]
fn every_flag_without_effect_warns_exactly_once_and_the_server_serves() {
    let log = temp_path("noop.log");
    let options = EVERY_O_OPTION.join(",");
    let server = Tailcache::start_logged(
        &[
            "-A",
            "-L",
            "-L",
            "-b",
            "512",
            "-f",
            "1.25",
            "-n",
            "48",
            "-N",
            "1",
            // These apply, or ask for what is always so: no warning.
            "-D",
            ":",
            "-R",
            "20",
            "-X",
            "-W",
            "-B",
            "ascii",
            "-b",
            "1024",
            "-U",
            "0",
            "-M",
            "-C",
            "-v",
            "-o",
            &options,
            "-o",
            "hashpower=20",
        ],
        &log,
    );
    assert_serves(server.addr("memcache"));
    let lines = warnings(&log);
    // -b 1024 is the backlog in use, and the last -b wins as in getopt: no warning.
    let mut expected: Vec<String> = ["-L/", "-f/", "-n/", "-N/"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for option in EVERY_O_OPTION {
        let name = option.split('=').next().unwrap();
        if !SILENT_O_OPTIONS.contains(&name) {
            expected.push(format!("-o {name} "));
        }
    }
    for flag in &expected {
        let count = lines.iter().filter(|l| l.contains(flag.as_str())).count();
        assert_eq!(count, 1, "{flag} warned {count} times: {lines:#?}");
    }
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    for line in &lines {
        assert!(line.starts_with("tailcache: warning: "), "{line}");
    }
    let _ = std::fs::remove_file(&log);
}

#[test]
fn lock_memory_and_core_dumps_apply() {
    if !is_root() {
        return;
    }
    let log = temp_path("lock.log");
    let server = Tailcache::start_logged(&["-k", "-r", "-m", "16"], &log);
    assert_serves(server.addr("memcache"));
    assert_eq!(warnings(&log), Vec::<String>::new());
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let locked_kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmLck:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap();
    assert!(locked_kib >= 16 << 10, "VmLck {locked_kib} kB under -m 16");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert!(!core.contains(" 0 "), "{core}");
    let _ = std::fs::remove_file(&log);
}

#[test]
fn daemon_mode_detaches_once_serving() {
    let pid_file = temp_path("daemon.pid");
    let output = run(&[
        "-d",
        "-p",
        "-1",
        "-t",
        "1",
        "-P",
        pid_file.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let addr: SocketAddr = stdout
        .lines()
        .find_map(|l| {
            l.split_once("listening: memcache ")
                .map(|(_, a)| a.parse().unwrap())
        })
        .expect("listening line before detaching");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .expect("pid file written before the parent exits")
        .trim()
        .parse()
        .unwrap();
    assert_serves(addr);
    send_signal(pid, "TERM");
    wait_until("the daemon exits and removes its pid file", || {
        !pid_file.exists() && !Path::new(&format!("/proc/{pid}")).exists()
    });

    // A daemon that cannot start makes the command fail with its status.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = run(&["-d", "-p", &port]);
    assert_eq!(output.status.code(), Some(71), "{output:?}");
}

#[test]
fn two_instances_with_default_flags_both_serve() {
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string()
    };
    let (first_port, second_port) = (free(), free());
    let first = Tailcache::start_exact(&["-p", &first_port]);
    let second = Tailcache::start_exact(&["-p", &second_port]);
    assert!(first.listening.iter().all(|(what, _)| what != "admin"));
    assert_serves(first.addr("memcache"));
    assert_serves(second.addr("memcache"));
}

#[test]
fn help_lists_memcached_flags_and_version_and_license_exit_0() {
    let help = run(&["-h"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8(help.stdout).unwrap();
    for flag in [
        "-p, --port",
        "-U, --udp-port",
        "-s, --unix-socket",
        "-a, --unix-mask",
        "-A, --enable-shutdown",
        "-l, --listen",
        "-d, --daemon",
        "-r, --enable-coredumps",
        "-u, --user",
        "-m, --memory-limit",
        "-M, --disable-evictions",
        "-c, --conn-limit",
        "-k, --lock-memory",
        "-v, --verbose",
        "-h, --help",
        "-i, --license",
        "-V, --version",
        "-P, --pidfile",
        "-f, --slab-growth-factor",
        "-n, --slab-min-size",
        "-L, --enable-largepages",
        "-D <CHAR>",
        "-t, --threads",
        "-R, --max-reqs-per-event",
        "-C, --disable-cas",
        "-b, --listen-backlog",
        "-B, --protocol",
        "-I, --max-item-size",
        "-F, --disable-flush-all",
        "-X, --disable-dumping",
        "-W, --disable-watch",
        "-Y, --auth-file",
        "-e, --heap-file",
        "--memory-file",
        "-o, --extended",
        "-N, --napi-ids",
        "-Z, --enable-ssl",
    ] {
        assert!(text.contains(flag), "-h lacks {flag}");
    }
    // memcached's t/ reads -h to pick what to test: refused features stay
    // out of it, as in a memcached built without them.
    for unserved in ["sasl", "ext_path", "proxy_config", "drop_privileges"] {
        assert!(
            !text.to_lowercase().contains(unserved),
            "-h mentions {unserved}"
        );
    }
    for flag in ["-V", "--version"] {
        let version = run(&[flag]);
        assert_eq!(version.status.code(), Some(0));
        let shown = String::from_utf8(version.stdout).unwrap();
        assert_eq!(
            shown.trim(),
            format!("tailcache {}", env!("CARGO_PKG_VERSION"))
        );
    }
    let license = run(&["-i"]);
    assert_eq!(license.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&license.stdout).contains("license"));
}

/// memcached runs in 2 MiB (`-M -m 2`): it fills until a set answers out of memory,
/// counts each refusal in `store_no_memory`, and every item it accepted reads back.
#[test]
fn two_megabytes_without_eviction_fill_then_refuse() {
    let server = Tailcache::start(&["-M", "-m", "2"]);
    let mut client = server.connect("memcache");
    let value = "B".repeat(8192);
    let mut stored = 0;
    loop {
        let reply = ask(
            &mut client,
            &format!("set fill{stored} 0 0 {}\r\n{value}\r\n", value.len()),
            "\r\n",
        );
        if reply != "STORED\r\n" {
            assert_eq!(reply, "SERVER_ERROR out of memory storing object\r\n");
            break;
        }
        stored += 1;
        assert!(stored < 1000, "2 MiB never filled");
    }
    assert!(stored >= 100, "only {stored} items of 8 KiB in 2 MiB");
    assert_eq!(
        ask(
            &mut client,
            &format!("set fill{stored} 0 0 {}\r\n{value}\r\n", value.len()),
            "\r\n"
        ),
        "SERVER_ERROR out of memory storing object\r\n"
    );
    let stats = ask(&mut client, "stats\r\n", "END\r\n");
    assert!(stats.contains("STAT store_no_memory 2\r\n"), "{stats}");
    for n in 0..stored {
        assert_eq!(
            ask(&mut client, &format!("get fill{n}\r\n"), "END\r\n"),
            format!("VALUE fill{n} 0 8192\r\n{value}\r\nEND\r\n")
        );
    }
}

/// `-b` sets the kernel's accept queue of the data ports and `-B` names the protocol;
/// `stats settings` reports both as memcached does.
#[test]
fn backlog_and_binding_protocol_show_in_stats_settings() {
    let server = Tailcache::start(&["-b", "8675", "-B", "ascii"]);
    let mut client = server.connect("memcache");
    let settings = ask(&mut client, "stats settings\r\n", "END\r\n");
    assert!(settings.contains("STAT tcp_backlog 8675\r\n"), "{settings}");
    assert!(
        settings.contains("STAT binding_protocol ascii\r\n"),
        "{settings}"
    );
    // The kernel's own view: a listening socket's send queue is its backlog, capped
    // at net.core.somaxconn.
    let somaxconn: i32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .map_or(i32::MAX, |text| text.trim().parse().unwrap_or(i32::MAX));
    let queue = format!(" {} ", somaxconn.min(8675));
    let port = server.addr("memcache").port();
    let listing = std::process::Command::new("ss")
        .args(["-ltnH", &format!("sport = :{port}")])
        .output();
    if let Ok(listing) = listing {
        let listing = String::from_utf8_lossy(&listing.stdout);
        assert!(listing.contains(&queue), "{listing}");
    }
    let default = Tailcache::start(&[]);
    let mut client = default.connect("memcache");
    let settings = ask(&mut client, "stats settings\r\n", "END\r\n");
    assert!(settings.contains("STAT tcp_backlog 1024\r\n"), "{settings}");
    assert!(
        settings.contains("STAT binding_protocol auto-negotiate\r\n"),
        "{settings}"
    );
}

#[test]
fn debugtime_moves_the_expiry_clock_only_with_debug_commands() {
    let release = Tailcache::start(&[]);
    let mut client = release.connect("memcache");
    assert_eq!(ask(&mut client, "debugtime 5\r\n", "\r\n"), "ERROR\r\n");
    drop(release);

    let debug = Tailcache::start(&["--debug-commands"]);
    let mut client = debug.connect("memcache");
    assert_eq!(
        ask(&mut client, "set soon 0 100 1\r\nx\r\n", "\r\n"),
        "STORED\r\n"
    );
    assert_eq!(ask(&mut client, "debugtime 99\r\n", "\r\n"), "OK\r\n");
    assert_eq!(
        ask(&mut client, "get soon\r\n", "END\r\n"),
        "VALUE soon 0 1\r\nx\r\nEND\r\n"
    );
    assert_eq!(ask(&mut client, "debugtime 2\r\n", "\r\n"), "OK\r\n");
    assert_eq!(ask(&mut client, "get soon\r\n", "END\r\n"), "END\r\n");
    // Paused, a 1-second item outlives a real second; resumed, the clock runs on.
    assert_eq!(ask(&mut client, "debugtime p\r\n", "\r\n"), "OK\r\n");
    assert_eq!(
        ask(&mut client, "set brief 0 1 1\r\ny\r\n", "\r\n"),
        "STORED\r\n"
    );
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        ask(&mut client, "get brief\r\n", "END\r\n"),
        "VALUE brief 0 1\r\ny\r\nEND\r\n"
    );
    assert_eq!(ask(&mut client, "debugtime r\r\n", "\r\n"), "OK\r\n");
    assert_eq!(ask(&mut client, "debugtime soon\r\n", "\r\n"), "ERROR\r\n");
    assert_eq!(ask(&mut client, "debugtime\r\n", "\r\n"), "ERROR\r\n");
}

/// Starts the binary with `args` and `MEMCACHED_PORT_FILENAME` set; returns the
/// process and the port file's lines once it appears.
fn start_with_port_file(args: &[&str], tag: &str) -> (support::Process, Vec<String>) {
    let path = std::env::temp_dir().join(format!("tailcache-ports-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_tailcache"))
        .args(args)
        .args(["-l", "127.0.0.1", "--admin-addr", "off", "-t", "1"])
        .env("MEMCACHED_PORT_FILENAME", &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn tailcache");
    let process = support::Process::new(child, "tailcache");
    let deadline = Instant::now() + START_TIMEOUT;
    while !path.exists() {
        assert!(Instant::now() < deadline, "{args:?}: no port file");
        std::thread::sleep(Duration::from_millis(20));
    }
    let lines = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    (process, lines.lines().map(str::to_owned).collect())
}

/// The port of the `TRANSPORT INET: PORT` line, if there is one.
fn port_of(lines: &[String], transport: &str) -> Option<u16> {
    let prefix = format!("{transport} INET: ");
    lines
        .iter()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|port| port.parse().unwrap())
}

#[test]
fn memcached_port_meanings_and_the_port_file() {
    // -p -1 and -U -1: any free port each, written where MEMCACHED_PORT_FILENAME says.
    let (_both, lines) = start_with_port_file(&["-p", "-1", "-U", "-1"], "both");
    let tcp = port_of(&lines, "TCP").expect("a TCP line");
    let udp = port_of(&lines, "UDP").expect("a UDP line");
    assert!(tcp != 0 && tcp != 11211 && udp != 0, "{lines:?}");
    let mut client = TcpStream::connect(("127.0.0.1", tcp)).unwrap();
    client.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    client.write_all(b"mn\r\n").unwrap();
    let mut reply = [0u8; 4];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"MN\r\n");
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    socket
        .send_to(
            b"\x00\x01\x00\x00\x00\x01\x00\x00version\r\n",
            ("127.0.0.1", udp),
        )
        .unwrap();
    let mut datagram = [0u8; 1500];
    let len = socket.recv(&mut datagram).unwrap();
    assert!(datagram[8..len].starts_with(b"VERSION "));

    // -p 0: no TCP at all (memcached's meaning), and the server still runs.
    let (mut off, lines) = start_with_port_file(&["-p", "0"], "off");
    assert!(lines.is_empty(), "{lines:?}");
    assert!(off.is_running());

    // -U alone is also the TCP port, -1 included.
    let (_udp_only, lines) = start_with_port_file(&["-U", "-1"], "udp");
    assert!(
        port_of(&lines, "TCP").is_some() && port_of(&lines, "UDP").is_some(),
        "{lines:?}"
    );

    for bad in ["-2", "65536", "x"] {
        let output = run(&["-p", bad]);
        assert_eq!(output.status.code(), Some(64), "-p {bad}");
    }
}
