//! One engine behind three protocols: a key written through memcache,
//! RESP or HTTP reads back through the other two; and the command-line
//! clients (redis-cli, curl) work against the built binary.

mod support;

use std::io::Write;
use std::process::Command;
use support::{connect, exchange, read_until, require_tool, start_tailcache, Tailcache};

fn memcache_get(server: &Tailcache, key: &str) -> Vec<u8> {
    let mut stream = connect(server.memcache);
    exchange(&mut stream, format!("get {key}\r\n").as_bytes(), b"END\r\n")
}

fn resp(server: &Tailcache, request: &[u8], terminator_count: usize) -> Vec<u8> {
    let mut stream = connect(server.resp);
    stream.write_all(request).unwrap();
    let mut reply = Vec::new();
    while reply.windows(2).filter(|w| w == b"\r\n").count() < terminator_count {
        let part = read_until(&mut stream, b"\r\n");
        assert!(!part.is_empty(), "RESP server closed early: {reply:?}");
        reply.extend(part);
    }
    reply
}

fn http(server: &Tailcache, request: &str) -> String {
    let mut stream = connect(server.http);
    stream.write_all(request.as_bytes()).unwrap();
    // Connection: close in every request: read to EOF.
    String::from_utf8_lossy(&read_until(&mut stream, b"\0never\0")).into_owned()
}

#[test]
fn a_key_set_through_one_protocol_reads_through_the_others() {
    let server = start_tailcache(&[]);
    let mut mc = connect(server.memcache);
    assert_eq!(
        exchange(&mut mc, b"set from:mc 7 0 5\r\nhello\r\n", b"\r\n"),
        b"STORED\r\n"
    );
    assert_eq!(resp(&server, b"GET from:mc\r\n", 2), b"$5\r\nhello\r\n");
    let reply = http(
        &server,
        "GET /keys/from:mc HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(
        reply.contains("X-Flags: 7\r\n") && reply.ends_with("\r\n\r\nhello"),
        "{reply}"
    );

    assert_eq!(
        resp(
            &server,
            b"*3\r\n$3\r\nSET\r\n$9\r\nfrom:resp\r\n$3\r\nabc\r\n",
            1
        ),
        b"+OK\r\n"
    );
    assert_eq!(
        memcache_get(&server, "from:resp"),
        b"VALUE from:resp 0 3\r\nabc\r\nEND\r\n"
    );
    let reply = http(
        &server,
        "GET /keys/from:resp HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.ends_with("\r\n\r\nabc"), "{reply}");

    let put = "PUT /keys/from:http?ttl=100&flags=9 HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody";
    assert!(http(&server, put).starts_with("HTTP/1.1 201 Created\r\n"));
    assert_eq!(
        memcache_get(&server, "from:http"),
        b"VALUE from:http 9 4\r\nbody\r\nEND\r\n"
    );
    assert_eq!(resp(&server, b"GET from:http\r\n", 2), b"$4\r\nbody\r\n");
    let ttl = resp(&server, b"TTL from:http\r\n", 1);
    assert!(ttl == b":100\r\n" || ttl == b":99\r\n", "{ttl:?}");

    // Deletes and counters are shared too.
    assert_eq!(resp(&server, b"DEL from:mc\r\n", 1), b":1\r\n");
    assert_eq!(memcache_get(&server, "from:mc"), b"END\r\n");
    assert_eq!(
        exchange(&mut mc, b"set n 0 0 2\r\n40\r\n", b"\r\n"),
        b"STORED\r\n"
    );
    assert_eq!(resp(&server, b"INCRBY n 2\r\n", 1), b":42\r\n");
    assert_eq!(exchange(&mut mc, b"incr n 1\r\n", b"\r\n"), b"43\r\n");
    let reply = http(
        &server,
        "DELETE /keys/n HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 204 No Content\r\n"), "{reply}");
    assert_eq!(exchange(&mut mc, b"get n\r\n", b"END\r\n"), b"END\r\n");
}

#[test]
fn http_answers_every_method_and_error() {
    let server = start_tailcache(&[]);
    let get_missing = http(
        &server,
        "GET /keys/none HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(
        get_missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{get_missing}"
    );
    let head = http(
        &server,
        "HEAD /keys/none HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(
        head.starts_with("HTTP/1.1 404") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    let bad_method = http(
        &server,
        "POST /keys/a HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert!(
        bad_method.starts_with("HTTP/1.1 405")
            && bad_method.contains("Allow: GET, HEAD, PUT, DELETE"),
        "{bad_method}"
    );
    let no_path = http(
        &server,
        "GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(no_path.starts_with("HTTP/1.1 404"), "{no_path}");
    let long_key = format!(
        "GET /keys/{} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "k".repeat(251)
    );
    assert!(http(&server, &long_key).starts_with("HTTP/1.1 400"));
    let too_large = "PUT /keys/big HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n";
    assert!(http(&server, too_large).starts_with("HTTP/1.1 413"));
    // Keep-alive and pipelining: two requests, two responses, in order.
    let mut stream = connect(server.http);
    let pipelined =
        "PUT /keys/p HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nxGET /keys/p HTTP/1.1\r\nHost: t\r\n\r\n";
    stream.write_all(pipelined.as_bytes()).unwrap();
    let replies = String::from_utf8_lossy(&read_until(&mut stream, b"\r\n\r\nx")).into_owned();
    assert!(
        replies.starts_with("HTTP/1.1 201 Created\r\n") && replies.contains("HTTP/1.1 200 OK\r\n"),
        "{replies}"
    );
}

#[test]
fn redis_cli_and_curl_work_unchanged() {
    let redis_cli = require_tool("redis-cli");
    let curl = require_tool("curl");
    let server = start_tailcache(&[]);
    let port = server.resp.port().to_string();
    let cli = |args: &[&str]| {
        let output = Command::new(&redis_cli)
            .args(["-h", "127.0.0.1", "-p", &port])
            .args(args)
            .output()
            .expect("run redis-cli");
        assert!(output.status.success(), "redis-cli {args:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    assert_eq!(cli(&["PING"]), "PONG");
    assert_eq!(cli(&["SET", "cli:a", "v1"]), "OK");
    assert_eq!(cli(&["GET", "cli:a"]), "v1");
    assert_eq!(
        cli(&["INCR", "cli:a"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        cli(&["NOSUCH"]),
        "ERR unknown command 'NOSUCH', with args beginning with:"
    );
    assert_eq!(cli(&["DBSIZE"]), "1");
    let hello = cli(&["-3", "HELLO", "3"]);
    assert!(
        hello.starts_with("server") && hello.contains("proto") && hello.contains('3'),
        "{hello}"
    );

    let url = format!("http://{}/keys/curl%20key?ttl=60", server.http);
    let curl_run = |args: &[&str]| {
        let output = Command::new(&curl)
            .args(["-s", "--max-time", "5"])
            .args(args)
            .output()
            .expect("run curl");
        assert!(output.status.success(), "curl {args:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert_eq!(
        curl_run(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "PUT",
            "--data-binary",
            "from curl",
            &url
        ]),
        "201"
    );
    assert_eq!(curl_run(&[&url]), "from curl");
    assert_eq!(cli(&["GET", "curl key"]), "from curl");
    assert_eq!(
        curl_run(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "DELETE",
            &url
        ]),
        "204"
    );
    assert_eq!(
        curl_run(&["-o", "/dev/null", "-w", "%{http_code}", &url]),
        "404"
    );
}

#[test]
fn resp_errors_keep_or_close_the_connection_as_redis_does() {
    let server = start_tailcache(&[]);
    let mut stream = connect(server.resp);
    let reply = exchange(&mut stream, b"*1\r\n$3\r\nGET\r\n", b"\r\n");
    assert_eq!(
        reply,
        b"-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(exchange(&mut stream, b"PING\r\n", b"\r\n"), b"+PONG\r\n");
    let reply = exchange(&mut stream, b"*1\r\n$abc\r\n", b"\r\n");
    assert_eq!(reply, b"-ERR Protocol error: invalid bulk length\r\n");
    assert!(
        read_until(&mut stream, b"\0never\0").is_empty(),
        "closed after a protocol error"
    );
}

#[test]
fn an_empty_resp_key_gets_a_clear_error() {
    let server = start_tailcache(&[]);
    let mut stream = connect(server.resp);
    let set = exchange(
        &mut stream,
        b"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$1\r\nv\r\n",
        b"\r\n",
    );
    assert_eq!(set, b"-ERR empty keys are not supported\r\n");
    let incr = exchange(&mut stream, b"*2\r\n$4\r\nINCR\r\n$0\r\n\r\n", b"\r\n");
    assert_eq!(incr, b"-ERR empty keys are not supported\r\n");
    let get = exchange(&mut stream, b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n", b"\r\n");
    assert_eq!(get, b"$-1\r\n");
}

#[test]
fn redis_benchmark_runs_against_the_resp_port() {
    let redis_benchmark = require_tool("redis-benchmark");
    let server = start_tailcache(&["-m", "64"]);
    let port = server.resp.port().to_string();
    for pipeline in ["1", "16"] {
        let output = Command::new(&redis_benchmark)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-q",
                "-c",
                "4",
                "-n",
                "2000",
            ])
            .args(["-P", pipeline, "-t", "set,get,incr,mset"])
            .output()
            .expect("run redis-benchmark");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "redis-benchmark -P {pipeline}: {stdout}"
        );
        // It reads `save` and `appendonly` with CONFIG GET first.
        assert!(
            !stdout.contains("WARNING") && !stderr.contains("WARNING"),
            "{stdout}{stderr}"
        );
        // -q ends each test with "NAME: <rate> requests per second".
        for test in ["SET", "GET", "INCR", "MSET (10 keys)"] {
            let done = format!("{test}: ");
            let rate: f64 = stdout
                .split('\r')
                .flat_map(|part| part.split('\n'))
                .filter_map(|line| line.trim().strip_prefix(&done))
                .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
                .next_back()
                .unwrap_or_else(|| panic!("no {test} result: {stdout}"));
            assert!(rate > 0.0, "{test}: {stdout}");
        }
    }
    assert_eq!(
        support::exchange(&mut connect(server.resp), b"DBSIZE\r\n", b"\r\n"),
        b":2\r\n",
        "without -r, redis-benchmark writes key:__rand_int__ (SET, MSET) and counter:__rand_int__"
    );
}
