//! libmemcached's command-line tools (Debian's libmemcached-tools) as an
//! operator runs them. One script of memccp, memccat, memcexist, memctouch,
//! memcrm, memcping and memcflush runs against real memcached and against
//! tailcache, in the text protocol and again with `--binary`, and the
//! transcripts (exit codes, stdout, stderr) must be equal;
//! memcstat, memcdump, memcslap and memcaslap, whose output names server
//! internals or timings, are checked on tailcache alone. The tools must be
//! installed: the tests fail, never skip, without them.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{require_tool, start_memcached, start_tailcache};

/// Longest one tool invocation may run.
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes of the binary file copied in and out (every byte value appears).
const BINARY_FILE_BYTES: usize = 300_000;
/// Over the 1 MiB item limit both servers run with.
const TOO_BIG_FILE_BYTES: usize = 2_000_000;

/// What one tool invocation did.
struct ToolRun {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs `tool` with `args` in `dir`, bounded by [`TOOL_TIMEOUT`].
fn run_tool(tool: &str, args: &[String], dir: &Path) -> ToolRun {
    let binary = require_tool(tool);
    let out_path = dir.join(format!(".{tool}.out"));
    let err_path = dir.join(format!(".{tool}.err"));
    let mut child = Command::new(binary)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {tool}: {e}"));
    let deadline = Instant::now() + TOOL_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{tool} {args:?} ran over {TOOL_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    ToolRun {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
    }
}

/// A scratch directory holding the files the tools copy (memccp keys them
/// by base name), removed on drop.
struct Files {
    dir: PathBuf,
}

impl Files {
    fn new(test: &str) -> Files {
        let dir = std::env::temp_dir().join(format!("tailcache-lmt-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.txt"), "hello\n").unwrap();
        std::fs::write(dir.join("flagged"), "x").unwrap();
        std::fs::write(dir.join("newone"), "new\n").unwrap();
        std::fs::write(dir.join("short-lived"), "soon gone").unwrap();
        std::fs::write(dir.join("binary.bin"), binary_content()).unwrap();
        std::fs::write(dir.join("too-big.bin"), vec![b'z'; TOO_BIG_FILE_BYTES]).unwrap();
        Files { dir }
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Deterministic bytes covering all 256 values, CR and LF included.
fn binary_content() -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    (0..BINARY_FILE_BYTES)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if i < 256 {
                i as u8
            } else {
                state as u8
            }
        })
        .collect()
}

/// The differential script: (tool, arguments after `--servers=`), and a
/// pause where expiry must take effect.
const SCRIPT: &[(&str, &[&str])] = &[
    ("memcflush", &[]),
    ("memcping", &["-v"]),
    ("memccp", &["-v", "a.txt", "binary.bin"]),
    ("memccp", &["-v", "--flag=7", "--expire=100", "flagged"]),
    ("memccp", &["-v", "too-big.bin"]),
    ("memccp", &["-v", "--add", "a.txt"]),
    ("memccp", &["-v", "--replace", "newone"]),
    ("memccp", &["-v", "--add", "newone"]),
    ("memccp", &["-v", "--replace", "newone"]),
    ("memccp", &["-v", "--set", "--expire=3", "short-lived"]),
    ("memccat", &["-v", "a.txt", "flagged", "nosuch"]),
    ("memccat", &["--flag", "flagged", "newone"]),
    ("memccat", &["binary.bin"]),
    ("memccat", &["too-big.bin"]),
    ("memcexist", &["-v", "a.txt", "nosuch"]),
    ("memcexist", &["-v", "a.txt", "short-lived"]),
    ("memctouch", &["-v", "--expire=3", "newone"]),
    ("memctouch", &["-v", "--expire=1000", "nosuch"]),
    ("memcrm", &["-v", "a.txt"]),
    ("memcrm", &["-v", "a.txt"]),
    ("sleep", &[]),
    ("memccat", &["-v", "short-lived", "newone", "flagged"]),
    ("memcexist", &["-v", "short-lived"]),
    ("memcflush", &["-v"]),
    ("memccat", &["-v", "binary.bin", "flagged"]),
];

/// Runs [`SCRIPT`] against `addr`, each tool also given `extra`; one
/// transcript entry per step, with the address written as SERVER.
fn transcript(addr: SocketAddr, files: &Files, extra: &[&str]) -> Vec<(String, ToolRun)> {
    let servers = format!("--servers={addr}");
    let mut runs = Vec::new();
    for (tool, args) in SCRIPT {
        if *tool == "sleep" {
            // Past the 3 s TTLs set above, on both servers' whole-second clocks. (3 s,
            // not 1: the steps between setting and checking them may take over a
            // second on a loaded machine.)
            std::thread::sleep(Duration::from_millis(4500));
            continue;
        }
        let mut all = vec![servers.clone()];
        // memcping has no --binary (it refuses the flag, against memcached too).
        if *tool != "memcping" {
            all.extend(extra.iter().map(|a| a.to_string()));
        }
        all.extend(args.iter().map(|a| a.to_string()));
        let mut run = run_tool(tool, &all, &files.dir);
        run.stderr = run.stderr.replace(&addr.to_string(), "SERVER");
        runs.push((format!("{tool} {}", args.join(" ")), run));
    }
    runs
}

#[test]
fn the_tools_behave_as_against_memcached() {
    tools_behave_as_against_memcached("text", &[]);
}

#[test]
fn the_tools_behave_as_against_memcached_over_the_binary_protocol() {
    tools_behave_as_against_memcached("binary", &["--binary"]);
}

fn tools_behave_as_against_memcached(name: &str, extra: &[&str]) {
    // The text and binary runs take turns: each times its TTLs on a machine the
    // other would load.
    static ONE_SCRIPT_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_SCRIPT_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let memcached_files = Files::new(&format!("memcached-{name}"));
    let tailcache_files = Files::new(&format!("tailcache-{name}"));
    let (_memcached, memcached) = start_memcached(&["-m", "64"]);
    let tailcache = start_tailcache(&["-m", "64"]);
    let expected = transcript(memcached, &memcached_files, extra);
    let got = transcript(tailcache.memcache, &tailcache_files, extra);
    for ((step, want), (_, have)) in expected.iter().zip(&got) {
        assert_eq!(
            (have.code, &have.stderr),
            (want.code, &want.stderr),
            "{step}: exit code and stderr"
        );
        assert!(have.stdout == want.stdout, "{step}: stdout differs");
    }
    // The script must exercise success and failure, not agree on failing
    // everything (a server that never started, say).
    let step = |name: &str| -> &ToolRun {
        &got.iter()
            .find(|(s, _)| s.trim_end() == name)
            .unwrap_or_else(|| panic!("no step {name}"))
            .1
    };
    assert_eq!(step("memcping -v").code, 0);
    assert_eq!(step("memccp -v a.txt binary.bin").code, 0);
    assert_eq!(step("memccp -v too-big.bin").code, 1);
    let mut binary = binary_content();
    binary.push(b'\n');
    assert!(step("memccat binary.bin").stdout == binary, "binary value");
    assert_eq!(
        step("memccat --flag flagged newone").stdout,
        b"7\nx\n0\nnew\n\n"
    );
    let after_expiry = step("memccat -v short-lived newone flagged");
    assert_eq!(after_expiry.code, 1);
    assert!(
        String::from_utf8_lossy(&after_expiry.stdout).contains("key: flagged"),
        "the 100 s item outlives the 3 s ones"
    );
}

#[test]
fn memcstat_and_memcdump_show_what_was_stored() {
    let files = Files::new("stat");
    let tailcache = start_tailcache(&["-m", "64"]);
    let servers = format!("--servers={}", tailcache.memcache);
    let names = ["a.txt", "flagged", "newone", "short-lived", "binary.bin"];
    let mut args = vec![servers.clone()];
    args.extend(names.iter().map(|n| n.to_string()));
    assert_eq!(run_tool("memccp", &args, &files.dir).code, 0);

    let stat = run_tool("memcstat", std::slice::from_ref(&servers), &files.dir);
    assert_eq!(stat.code, 0, "{}", stat.stderr);
    let text = String::from_utf8_lossy(&stat.stdout);
    assert!(
        text.contains(&format!(
            "Server: 127.0.0.1 ({})",
            tailcache.memcache.port()
        )),
        "{text}"
    );
    assert!(text.contains("\tversion: 1.6.18-tailcache-"), "{text}");
    assert!(text.contains("\tcurr_items: 5\n"), "{text}");
    assert!(text.contains("\tcmd_set: 5\n"), "{text}");

    let dump = run_tool("memcdump", std::slice::from_ref(&servers), &files.dir);
    assert_eq!(dump.code, 0, "{}", dump.stderr);
    let mut dumped: Vec<String> = String::from_utf8_lossy(&dump.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    dumped.sort();
    let mut stored: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    stored.sort();
    assert_eq!(dumped, stored, "memcdump lists each stored key once");
}

#[test]
fn memcslap_and_memcaslap_run_clean() {
    let files = Files::new("slap");
    let tailcache = start_tailcache(&["-m", "64"]);
    let servers = format!("--servers={}", tailcache.memcache);
    for test in ["set", "get"] {
        let args = [
            servers.clone(),
            "--concurrency=2".to_owned(),
            "--execute-number=500".to_owned(),
            format!("--test={test}"),
        ];
        let run = run_tool("memcslap", &args, &files.dir);
        assert_eq!(run.code, 0, "memcslap --test={test}: {}", run.stderr);
    }
    // memcaslap verifies half of its gets against what it set.
    let args: Vec<String> = [
        "-s",
        &tailcache.memcache.to_string(),
        "-t",
        "2s",
        "-T",
        "1",
        "-c",
        "4",
        "-v",
        "0.5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let run = run_tool("memcaslap", &args, &files.dir);
    let text = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.code, 0, "memcaslap: {text}{}", run.stderr);
    assert!(text.contains("verify_failed: 0\n"), "{text}");
    assert!(text.contains("get_misses: 0\n"), "{text}");
    let ops: u64 = text
        .split("Ops: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no Ops figure: {text}"));
    assert!(ops > 1000, "memcaslap did {ops} operations in 2 s");
}
