"""pymemcache's serializers and its RetryingClient against tailcache.

Run by tests/python_clients.rs against a tailcache started with
`-o idle_timeout=1` (and against memcached with the same flags), so that an
idle connection is closed by the server:
    python3 pymemcache_serde_retry.py HOST PORT
Exits non-zero (with the failed assertion) on any mismatch.
"""
import socket
import sys
import time

from pymemcache import serde
from pymemcache.client.base import Client
from pymemcache.client.retrying import RetryingClient
from pymemcache.exceptions import MemcacheUnexpectedCloseError

host, port = sys.argv[1], int(sys.argv[2])


def raw_get(key):
    """The VALUE line's flags and the stored bytes, read past any client."""
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"get " + key + b"\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = sock.recv(65536)
            assert chunk, "server closed"
            data += chunk
    header, _, rest = data.partition(b"\r\n")
    parts = header.split()
    assert parts[0] == b"VALUE", data[:100]
    length = int(parts[3])
    return int(parts[2]), rest[:length]


# The pickle serde: each Python type round-trips and is flagged as
# pymemcache documents (bytes 0, text 16, int 2, pickle 1).
# Every client waits for each store's reply: a get on another connection
# (raw_get) is only ordered after a store the server has answered.
client = Client(
    (host, port),
    serde=serde.pickle_serde,
    connect_timeout=5,
    timeout=5,
    default_noreply=False,
)
values = {
    "sd:bytes": (b"\x00\xffraw", 0),
    "sd:text": ("h\u00e9llo", 16),
    "sd:int": (1234567890123, 2),
    "sd:dict": ({"a": [1, 2.5, None], "b": ("t",)}, 1),
}
for key, (value, flags) in values.items():
    assert client.set(key, value) is True
for key, (value, flags) in values.items():
    got = client.get(key)
    assert got == value and type(got) is type(value), (key, got)
    assert raw_get(key.encode())[0] == flags, key
many = client.get_many(list(values))
assert {k: v for k, v in many.items()} == {k: v for k, (v, _) in values.items()}
# incr works on what the int serde stored as digits.
assert client.incr("sd:int", 1) == 1234567890124
assert client.get("sd:int") == 1234567890124

# The compressing serde: a compressible value is stored smaller and read
# back whole; a short one is stored as it is.
compressed = Client(
    (host, port),
    serde=serde.CompressedSerde(min_compress_len=100),
    connect_timeout=5,
    timeout=5,
    default_noreply=False,
)
big_text = "tailcache " * 20000
assert compressed.set("sd:zip", big_text) is True
assert compressed.get("sd:zip") == big_text
flags, stored = raw_get(b"sd:zip")
assert len(stored) < len(big_text) // 10, len(stored)
assert compressed.set("sd:short", b"tiny") is True
assert raw_get(b"sd:short") == (0, b"tiny")
assert compressed.get("sd:short") == b"tiny"

# RetryingClient: the server closes idle connections (idle_timeout=1;
# memcached notices within about 3 s). A plain client's next call fails on
# the dead socket; a retrying client's fails once and the retry, on a fresh
# connection, succeeds.
IDLE_CLOSE_WAIT_S = 4.5
plain = Client((host, port), connect_timeout=5, timeout=5, default_noreply=False)
retrying = RetryingClient(
    Client((host, port), connect_timeout=5, timeout=5, default_noreply=False),
    attempts=3,
    retry_delay=0.05,
    retry_for=[MemcacheUnexpectedCloseError, ConnectionError, BrokenPipeError],
)
assert plain.set("rt:a", b"1") is True
assert retrying.set("rt:b", b"2") is True
time.sleep(IDLE_CLOSE_WAIT_S)
try:
    plain.get("rt:a")
    raise AssertionError("the server was to close the idle connection")
except (MemcacheUnexpectedCloseError, ConnectionError, BrokenPipeError):
    pass
assert retrying.get_many(["rt:a", "rt:b"]) == {"rt:a": b"1", "rt:b": b"2"}
assert retrying.get("rt:a") == b"1"

# A server that is not there: every attempt fails and the error surfaces.
with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    dead_port = probe.getsockname()[1]
dead = RetryingClient(
    Client(("127.0.0.1", dead_port), connect_timeout=1, timeout=1),
    attempts=2,
    retry_delay=0.01,
    retry_for=[ConnectionError],
)
try:
    dead.get("rt:a")
    raise AssertionError("a dead server must fail")
except ConnectionError:
    pass
print("pymemcache serde and retrying: ok")
