"""Starting servers on loopback for the measuring scripts (sizing.py, bench-cluster.py)."""

import socket
import sys
import time


def free_port():
    """A loopback port free now (bound, then released for a server to take)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_serving(port, process, who, timeout_s=30):
    """Waits until `process` answers `version` on `port`; exits naming `who` if not."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{who}: a server exited at start ({process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                conn.sendall(b"version\r\n")
                if conn.recv(100):
                    return
        except OSError:
            time.sleep(0.02)
    sys.exit(f"{who}: a server did not answer within {timeout_s} s")
