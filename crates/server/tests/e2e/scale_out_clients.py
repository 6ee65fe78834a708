"""Scale-out through real tools: twemproxy (nutcracker) in front of three tailcache
instances (memcache pool with pymemcache, redis pool with plain RESP), and
pymemcache's HashClient over them. Exits non-zero on any wrong result.

Usage: scale_out_clients.py PROXY_MC PROXY_REDIS MC1,MC2,MC3 (host:port each) STOP_FILE
The script writes "STOP" to stdout after its first phase and waits until the test has
stopped the third instance (it creates STOP_FILE), then checks that clients keep working.
"""
import os
import sys
import time

import socket
from pymemcache.client.base import Client
from pymemcache.client.hash import HashClient

KEYS = 10_000


class RespConnection:
    """Plain RESP2 over one socket: pipelined commands, decoded replies."""

    def __init__(self, address):
        self.sock = socket.create_connection(address, timeout=5)
        self.buf = b""

    def pipeline(self, commands):
        out = bytearray()
        for command in commands:
            out += b"*%d\r\n" % len(command)
            for arg in command:
                arg = arg.encode() if isinstance(arg, str) else arg
                out += b"$%d\r\n%s\r\n" % (len(arg), arg)
        self.sock.sendall(out)
        return [self.reply() for _ in commands]

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            while len(self.buf) < length + 2:
                self.buf += self.sock.recv(1 << 16)
            data, self.buf = self.buf[:length], self.buf[length + 2:]
            return data
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise RuntimeError(f"bad reply {line!r}")


def hostport(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def shares(instances, prefix):
    counts = []
    for address in instances:
        direct = Client(address, connect_timeout=2, timeout=5)
        keys = [f"{prefix}{i}" for i in range(KEYS)]
        found = 0
        for start in range(0, KEYS, 500):
            found += len(direct.get_many(keys[start:start + 500]))
        direct.close()
        counts.append(found)
    if sum(counts) != KEYS:
        fail(f"{prefix}: instances hold {counts}, {sum(counts)} in all, not {KEYS}")
    for count in counts:
        if not 0.20 * KEYS <= count <= 0.45 * KEYS:
            fail(f"{prefix}: unfair share {counts}")
    return counts


def eventually(what, attempt, seconds=20):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            if attempt():
                return
        except Exception as error:  # the proxy answers errors until it ejects the host
            last = error
        time.sleep(0.2)
    fail(f"{what} did not recover: {last!r}")


def main():
    proxy_mc, proxy_redis = hostport(sys.argv[1]), hostport(sys.argv[2])
    instances = [hostport(a) for a in sys.argv[3].split(",")]
    stop_file = sys.argv[4]

    mc = Client(proxy_mc, connect_timeout=2, timeout=5)
    for i in range(KEYS):
        mc.set(f"tw:{i}", f"value-{i}".encode(), noreply=False)
    for i in range(KEYS):
        if mc.get(f"tw:{i}") != f"value-{i}".encode():
            fail(f"tw:{i} through nutcracker")
    print("twemproxy memcache shares", shares(instances, "tw:"), flush=True)

    # redis-py 8 opens every connection with HELLO, which twemproxy does not proxy
    # (nor CLIENT SETINFO): the redis pool is driven with plain RESP, as redis-cli and
    # most clients configured for twemproxy speak it.
    rd = RespConnection(proxy_redis)
    replies = rd.pipeline([["SET", f"rd:{i}", f"r{i}"] for i in range(KEYS)])
    if replies != [b"OK"] * KEYS:
        fail("SET through the nutcracker redis pool")
    values = rd.pipeline([["MGET"] + [f"rd:{i}" for i in range(KEYS)]])[0]
    if values != [f"r{i}".encode() for i in range(KEYS)]:
        fail("redis pool through nutcracker lost keys")
    print("twemproxy redis pool: every key back", flush=True)

    # retry_attempts=0: the first failure takes a server out of the ring, so its
    # keys then go to the live ones.
    hc = HashClient(instances, connect_timeout=2, timeout=5, ignore_exc=True,
                    retry_attempts=0, dead_timeout=60, use_pooling=False)
    for i in range(KEYS):
        hc.set(f"hc:{i}", f"h{i}".encode())
    for i in range(KEYS):
        if hc.get(f"hc:{i}") != f"h{i}".encode():
            fail(f"hc:{i} through HashClient")
    print("hashclient shares", shares(instances, "hc:"), flush=True)
    lost = {f"hc:{i}" for i in range(KEYS)
            if Client(instances[2], timeout=5).get(f"hc:{i}") is not None}

    print("STOP", flush=True)
    deadline = time.monotonic() + 30
    while not os.path.exists(stop_file):
        if time.monotonic() > deadline:
            fail("the test never stopped the third instance")
        time.sleep(0.05)

    # nutcracker ejects the dead host (server_failure_limit 1) and rehashes.
    def proxy_works():
        mc.set("after:1", b"x", noreply=False)
        if mc.get("after:1") != b"x":
            return False
        resp = RespConnection(proxy_redis)
        return resp.pipeline([["SET", "after:2", "y"], ["GET", "after:2"]]) == [b"OK", b"y"]
    eventually("nutcracker after losing an instance", proxy_works)
    for i in range(200):
        mc.set(f"after:mc:{i}", b"v", noreply=False)
        if mc.get(f"after:mc:{i}") != b"v":
            fail(f"after:mc:{i} through nutcracker after the ejection")
    print("twemproxy keeps serving after an instance stopped", flush=True)

    # HashClient: the lost instance's keys miss, the rest are still there.
    misses = 0
    for i in range(KEYS):
        key = f"hc:{i}"
        value = hc.get(key)
        if key in lost:
            misses += value is None
        elif value != f"h{i}".encode():
            fail(f"{key} on a live instance lost after the other stopped")
    if misses != len(lost):
        fail(f"{len(lost)} keys were on the stopped instance, {misses} missed")
    for i in range(200):
        hc.set(f"new:{i}", b"n")
    stored = sum(hc.get(f"new:{i}") == b"n" for i in range(200))
    if stored != 200:
        fail(f"HashClient stored only {stored} of 200 new keys with one instance down")
    print(f"hashclient keeps serving: {misses} lost keys miss, {stored}/200 new keys stored",
          flush=True)


if __name__ == "__main__":
    main()
