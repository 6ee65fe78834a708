"""python-memcached (the `memcache` module) against tailcache.

Run by tests/python_clients.rs:
    python3 python_memcached_client.py HOST PORT
Exits non-zero (with the failed assertion) on any mismatch.
"""
import socket
import sys

import memcache

host, port = sys.argv[1], int(sys.argv[2])
server = "%s:%d" % (host, port)
mc = memcache.Client([server], socket_timeout=5, cache_cas=True)

# Types: str, bytes, int and pickled objects, each flagged by the client.
assert mc.set("pm:s", "text") == 1
assert mc.get("pm:s") == "text"
assert mc.set("pm:b", b"\x00\x01raw") == 1
assert mc.get("pm:b") == b"\x00\x01raw"
assert mc.set("pm:i", 42) == 1
assert mc.get("pm:i") == 42
assert mc.set("pm:o", {"list": [1, 2], "t": (3,)}) == 1
assert mc.get("pm:o") == {"list": [1, 2], "t": (3,)}
assert mc.get("pm:missing") is None

# Multi-key with a prefix.
assert mc.set_multi({"x": "1", "y": "2"}, key_prefix="pm:m:") == []
assert mc.get_multi(["x", "y", "z"], key_prefix="pm:m:") == {"x": "1", "y": "2"}
assert mc.delete_multi(["x", "y"], key_prefix="pm:m:") == 1
assert mc.get_multi(["x", "y"], key_prefix="pm:m:") == {}

# add / replace / append / prepend.
assert mc.add("pm:s", "again") == 0
assert mc.add("pm:new", "n") == 1
assert mc.replace("pm:nothere", "x") == 0
assert mc.replace("pm:new", "nn") == 1
assert mc.append("pm:new", "!") == 1
assert mc.prepend("pm:new", "<") == 1
assert mc.get("pm:new") == "<nn!"

# incr / decr: memcached's 64-bit wrap-free arithmetic.
assert mc.set("pm:n", "10") == 1
assert mc.incr("pm:n", 5) == 15
assert mc.decr("pm:n", 100) == 0
assert mc.incr("pm:absent") is None

# gets / cas (cache_cas=True keeps the token).
assert mc.gets("pm:s") == "text"
assert mc.cas("pm:s", "swapped") == 1
assert mc.get("pm:s") == "swapped"
mc.gets("pm:s")
other = memcache.Client([server], socket_timeout=5)
assert other.set("pm:s", "changed elsewhere") == 1
assert mc.cas("pm:s", "stale") == 0, "a stale cas must fail"
assert mc.get("pm:s") == "changed elsewhere"

# touch, delete, expiry in the past.
assert mc.touch("pm:new", 100) == 1
assert mc.touch("pm:absent", 100) == 0
assert mc.delete("pm:new") == 1
assert mc.get("pm:new") is None
mc.set("pm:past", "x", time=-1)
assert mc.get("pm:past") is None

# A value over the server's item size: python-memcached refuses it itself
# (server_max_value_length); a raw set of the same size gets memcached's
# error, and the connection goes on.
assert mc.set("pm:big", "x" * (2 * 1024 * 1024)) == 0
with socket.create_connection((host, port), timeout=5) as sock:
    sock.sendall(b"set pm:big 0 0 2097152\r\n" + b"x" * 2097152 + b"\r\nget pm:s\r\n")
    data = b""
    while not data.endswith(b"END\r\n"):
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    assert data.startswith(b"SERVER_ERROR object too large for cache\r\n"), data[:80]
    assert b"VALUE pm:s" in data

# Stats as python-memcached reads them: [(server, {name: value})].
stats = mc.get_stats()
assert len(stats) == 1
name, values = stats[0]
assert name.startswith(server.encode() if isinstance(name, bytes) else server), name
for key in ["pid", "uptime", "curr_items", "cmd_get", "get_hits", "version"]:
    key_form = key.encode() if isinstance(next(iter(values)), bytes) else key
    assert key_form in values, key
settings = dict(mc.get_stats("settings")[0][1])
assert settings, "stats settings"

# flush_all, then a dead server is marked dead and skipped, not fatal.
mc.flush_all()
assert mc.get("pm:s") is None
with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    dead_port = probe.getsockname()[1]
dead = memcache.Client(["127.0.0.1:%d" % dead_port], socket_timeout=1, dead_retry=30)
assert dead.set("pm:dead", "x") == 0
assert dead.get("pm:dead") is None
mc.disconnect_all()
print("python-memcached: ok")
