"""SIGTERM to ``simpul poll`` while a sink hangs: it stops within about a second (not after the
sink's HTTP timeout) and the batch it was delivering stays in the outbox (issue 9 #19)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.smallinv import write_small_inventory

from simpul.monitoring.outbox import Outbox

pytestmark = pytest.mark.slow


class HangingHttp:
    """Accepts connections on loopback, reads the request, never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            self.accepted.set()

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def test_sigterm_while_a_sink_hangs_stops_quickly_and_keeps_the_batch(tmp_path: Path) -> None:
    hang = HangingHttp()
    try:
        inv = write_small_inventory(tmp_path, {n: {"env": "SIMPUL_T_KEY"}
                                               for n in ("snmp-auth", "snmp-priv", "login")})
        state = tmp_path / "state"
        sink = f"influx-v1+http://127.0.0.1:{hang.port}?db=simpul"
        env = {**os.environ, "SIMPUL_T_KEY": "a-long-enough-key", "SIMPUL_CONFIG": os.devnull,
               "SIMPUL_STATE_DIR": str(state)}
        # nobody answers SNMP at 127.0.0.41:19999: the cycle writes its poll-status line
        p = subprocess.Popen([sys.executable, "-m", "simpul.cli", "-i", str(inv), "poll", "--icmp",
                              "none", "--timeout", "0.3", "--retries", "0", "--interval", "300",
                              "--sink", sink], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        assert hang.accepted.wait(20), "the poller never tried to deliver"
        time.sleep(0.3)  # it is now waiting for the sink's answer (timeout 10 s)
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        rc = p.wait(15)
        took = time.monotonic() - t0
        _, err = p.communicate()
    finally:
        hang.close()
    assert rc == 0, err
    assert took < 3.0, f"took {took:.1f}s to stop (the sink's timeout is 10 s)"
    assert "stopping without waiting for a sink that does not answer" in err
    box = Outbox(state / "outbox.sqlite")
    try:
        batches, lines = box.pending(f"influx-v1:http://127.0.0.1:{hang.port}/simpul")
    finally:
        box.close()
    assert batches == 1 and lines >= 1  # the batch that was on its way is still there
