"""Every classic memcache command and error reply through pymemcache.

Run by tests/python_clients.rs against a tailcache it started:
    python3 pymemcache_client.py HOST PORT
Exits non-zero (with the failed assertion) on any mismatch.
"""
import sys

from pymemcache.client.base import Client
from pymemcache.exceptions import (
    MemcacheClientError,
    MemcacheIllegalInputError,
    MemcacheServerError,
)

host, port = sys.argv[1], int(sys.argv[2])
client = Client((host, port), connect_timeout=5, timeout=5, default_noreply=False)

assert client.set("py:a", b"hello", expire=0, flags=3) is True
assert client.get("py:a") == b"hello"
assert client.get("py:missing") is None
assert client.get_many(["py:a", "py:missing"]) == {"py:a": b"hello"}

# add / replace / append / prepend
assert client.add("py:a", b"x") is False
assert client.add("py:b", b"b") is True
assert client.replace("py:none", b"x") is False
assert client.replace("py:b", b"bb") is True
assert client.append("py:a", b"!") is True
assert client.prepend("py:a", b"<") is True
assert client.get("py:a") == b"<hello!"

# gets / cas
value, cas = client.gets("py:a")
assert value == b"<hello!" and cas is not None
assert client.cas("py:a", b"new", cas) is True
assert client.cas("py:a", b"newer", cas) is False, "stale cas must fail"
assert client.cas("py:missing", b"x", b"1") is None
assert client.get("py:a") == b"new"

# incr / decr
client.set("py:n", b"10")
assert client.incr("py:n", 5) == 15
assert client.decr("py:n", 20) == 0
assert client.incr("py:missing", 1) is None
try:
    client.incr("py:a", 1)
    raise AssertionError("incr on a non-number must fail")
except MemcacheClientError as error:
    assert b"non-numeric" in str(error).encode() or "non-numeric" in str(error)

# touch / gat / gats / delete
assert client.touch("py:a", 100) is True
assert client.touch("py:missing", 100) is False
assert client.delete("py:a") is True
assert client.delete("py:a") is False
assert client.get("py:a") is None

# noreply forms: the next command still lines up
assert client.set("py:q", b"q", noreply=True) is True
assert client.get("py:q") == b"q"

# expiry in the past
client.set("py:past", b"x", expire=-1)
assert client.get("py:past") is None

# too large value: server error, connection still usable
try:
    client.set("py:big", b"x" * (2 * 1024 * 1024))
    raise AssertionError("a value over -I must be refused")
except MemcacheServerError as error:
    assert "too large" in str(error), error
assert client.get("py:b") == b"bb"

# keys the client refuses itself (long, with spaces)
for bad_key in ["k" * 251, "with space"]:
    try:
        client.get(bad_key)
        raise AssertionError("bad key accepted: %r" % bad_key)
    except MemcacheIllegalInputError:
        pass

# stats, version, flush_all
stats = client.stats()
# The names the issue lists, all memcached's.
for name in [
    b"pid", b"uptime", b"time", b"version", b"curr_connections", b"total_connections",
    b"cmd_get", b"cmd_set", b"get_hits", b"get_misses", b"curr_items", b"total_items",
    b"evictions", b"bytes", b"limit_maxbytes", b"threads",
]:
    assert name in stats, name
assert stats[b"cmd_get"] >= 5 and stats[b"get_hits"] >= 5, stats
assert stats[b"curr_connections"] >= 1 and stats[b"threads"] == 2, stats
for group in ["settings", "items", "slabs"]:
    assert isinstance(client.stats(group), dict)
assert client.stats("settings")[b"item_size_max"] == 1024 * 1024
assert client.version()
assert client.flush_all() is True
assert client.get("py:b") is None
client.quit()
print("pymemcache: ok")
