"""Run one of Simpul's small stdlib scripts on a server and stream its JSON lines back.

The drill client (:mod:`simpul.drc.loadgen`) and the observers (:mod:`simpul.drc.sampler`) run
on the servers for the whole drill. They are sent over a host-key-pinned SSH session
(:func:`simpul.ssh.connect`) as the argument of ``python3 -c`` (code only — the first line on
their stdin carries the configuration, including any password, so nothing secret shows in
``ps``); every line they print is parsed and kept with the time it arrived.
"""

from __future__ import annotations

import base64
import json
import logging
import shlex
import threading
import time
from importlib import resources
from typing import Any

from simpul.errors import UnreachableError
from simpul.ssh import Target, connect

log = logging.getLogger(__name__)

_BOOT = "import base64,sys;exec(compile(base64.b64decode(sys.argv[1]),sys.argv[2],'exec'))"


def script_source(name: str) -> str:
    """The text of ``simpul/drc/<name>.py`` (shipped with the package)."""
    return (resources.files("simpul.drc") / f"{name}.py").read_text()


class RemoteStream:
    """``python3 -u -c <script>`` on ``target``, configured through stdin, read line by line."""

    def __init__(self, target: Target, script: str, config: dict[str, Any], *, sudo: bool = False,
                 label: str = "") -> None:
        self.target = target
        self.label = label or script
        self._src = script_source(script)
        self._config = config
        self._sudo = sudo
        self.lines: list[dict[str, Any]] = []
        self.stderr = ""
        self._lock = threading.Lock()
        self._client: Any = None
        self._chan: Any = None
        self._reader: threading.Thread | None = None
        self.exit_status: int | None = None

    def start(self) -> RemoteStream:
        b64 = base64.b64encode(self._src.encode()).decode()
        cmd = f"python3 -u -c {shlex.quote(_BOOT)} {b64} {shlex.quote(self.label)}"
        if self._sudo:
            cmd = f"sudo -n -- {cmd}"
        self._client = connect(self.target)
        try:
            transport = self._client.get_transport()
            transport.set_keepalive(5)
            self._chan = transport.open_session()
            self._chan.exec_command(cmd)
            self._chan.sendall((json.dumps(self._config) + "\n").encode())
        except Exception as e:
            self._client.close()
            raise UnreachableError(self.target.name, f"cannot start {self.label}: {e}") from e
        self._reader = threading.Thread(target=self._read, name=f"simpul-{self.label}", daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        buf = b""
        f = self._chan.makefile("rb")
        for raw in f:
            buf = raw
            try:
                obj = json.loads(buf.decode(errors="replace"))
            except ValueError:
                log.debug("%s %s: %s", self.target.name, self.label, buf[:200])
                continue
            if isinstance(obj, dict):
                obj.setdefault("rx", time.time())
                with self._lock:
                    self.lines.append(obj)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.lines)

    @property
    def running(self) -> bool:
        return self._chan is not None and not self._chan.exit_status_ready()

    def stop(self, timeout: float = 15) -> list[dict[str, Any]]:
        """Ask the script to end (``stop`` on stdin), wait for it, return every line."""
        if self._chan is None:
            return self.snapshot()
        try:
            self._chan.sendall(b"stop\n")
            self._chan.shutdown_write()
        except OSError as e:
            log.debug("%s %s: stop: %s", self.target.name, self.label, e)
        deadline = time.monotonic() + timeout
        while not self._chan.exit_status_ready() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._reader is not None:
            self._reader.join(timeout=max(0.5, deadline - time.monotonic()))
        if self._chan.exit_status_ready():
            self.exit_status = self._chan.recv_exit_status()
        try:
            while self._chan.recv_stderr_ready():
                self.stderr += self._chan.recv_stderr(65536).decode(errors="replace")
        except OSError:
            pass
        self._client.close()
        self._chan = None
        return self.snapshot()
