#!/usr/bin/env python3
"""Re-capture the golden replies in resp_golden_errors.rs from a real redis-server.

Usage: capture_redis.py PORT < cases.txt
Each input line is either a space-separated command (sent as multibulk) or
`RAW <python bytes literal>` (sent as is). Prints `request => reply` with `<CLOSED>`
appended when Redis closed the connection. Starts and stops its own redis-server on
127.0.0.1:PORT with persistence off. Not needed at test time.
"""
import socket
import subprocess
import sys
import time
import ast


def multibulk(args):
    out = b"*%d\r\n" % len(args)
    for arg in args:
        data = arg.encode()
        out += b"$%d\r\n%s\r\n" % (len(data), data)
    return out


def exchange(port, raw):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(raw)
    time.sleep(0.05)
    sock.settimeout(0.2)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                data += b"<CLOSED>"
                break
            data += chunk
    except socket.timeout:
        pass
    sock.close()
    return data


def main():
    port = int(sys.argv[1])
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        for line in sys.stdin:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            if line.startswith("RAW "):
                raw = ast.literal_eval(line[4:])
            else:
                raw = multibulk(line.split(" "))
            print(repr(raw), "=>", repr(exchange(port, raw)))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
