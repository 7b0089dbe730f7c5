"""Outside checks: what the management network actually sees of a server.

``sshd -T`` shows the configuration, not the running daemon (LAB-FACTS "Servers"), so audits
also ask the daemon itself: which authentication methods it offers, which kex/cipher/MAC a
client negotiates, whether weak algorithms are refused, and which TCP ports answer from the
management LAN. Nothing here logs in or changes anything (the one publickey attempt is as
``root``, to prove root is refused).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass, field
from typing import Any

import paramiko

from simpul.deploys.families.ssh import WEAK_CIPHERS, WEAK_KEX, WEAK_MACS
from simpul.ssh import Target, check_route, load_key

log = logging.getLogger(__name__)

# Ports scanned from the management LAN: the well-known range plus common service ports.
SCAN_PORTS = (*range(1, 1025), 1433, 1521, 2049, 2375, 3000, 3306, 3389, 5000, 5432, 5601, 5900,
              5984, 6379, 8000, 8008, 8080, 8086, 8443, 8888, 9000, 9090, 9100, 9200, 10050, 11211,
              27017)


@dataclass
class Outside:
    """What the network sees; ``errors`` lists probes that could not run."""

    auth_methods: list[str] = field(default_factory=list)
    root_key_refused: bool | None = None
    kex: str = ""
    cipher: str = ""
    mac: str = ""
    weak_refused: dict[str, bool] = field(default_factory=dict)
    open_tcp: list[int] = field(default_factory=list)
    closed_tcp_refused: int = 0  # answered with RST (not filtered)
    filtered_tcp: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _transport(t: Target, disabled: dict[str, list[str]] | None = None,
               channel: str = "") -> tuple[paramiko.Transport, _Capture]:
    sock = socket.create_connection((t.host, t.port), timeout=t.timeout)
    tr = paramiko.Transport(sock, disabled_algorithms=disabled)
    cap = _Capture()
    name = f"simpul.probe.{t.name}.{channel or id(tr)}"
    lg = logging.getLogger(name)
    lg.setLevel(logging.DEBUG)
    lg.propagate = False
    lg.addHandler(cap)
    tr.set_log_channel(name)
    tr.banner_timeout = t.timeout
    tr.start_client(timeout=t.timeout)
    return tr, cap


def negotiate(t: Target, out: Outside) -> None:
    """Offered auth methods, negotiated algorithms, root refused."""
    try:
        tr, cap = _transport(t, channel="nego")
    except (OSError, paramiko.SSHException, EOFError) as e:
        out.errors.append(f"ssh negotiation failed: {e}")
        return
    try:
        for line in cap.lines:
            for key, attr in (("Kex: ", "kex"), ("Cipher: ", "cipher"), ("MAC: ", "mac")):
                if line.startswith(key):
                    setattr(out, attr, line[len(key):].split(", ")[0].removeprefix("local="))
        try:
            tr.auth_none(t.user)
            out.auth_methods = ["none"]  # accepted without credentials: the worst case
        except paramiko.BadAuthenticationType as e:
            out.auth_methods = sorted(e.allowed_types)
        except paramiko.SSHException as e:
            out.errors.append(f"auth methods: {e}")
    finally:
        tr.close()
    try:
        tr, _ = _transport(t, channel="root")
        try:
            tr.auth_publickey("root", load_key(t.key_file))
            out.root_key_refused = False
        except (paramiko.AuthenticationException, paramiko.SSHException):
            out.root_key_refused = True
        finally:
            tr.close()
    except (OSError, paramiko.SSHException, EOFError) as e:
        out.errors.append(f"root probe failed: {e}")


def weak_algorithms(t: Target, out: Outside) -> None:
    """Offer only weak kex / ciphers / MACs: the server must refuse each set."""
    # what this paramiko can offer at all (private class attributes: no public API for them)
    sets: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
        "kex": ("kex", WEAK_KEX, tuple(getattr(paramiko.Transport, "_preferred_kex", ()))),
        "ciphers": ("ciphers", WEAK_CIPHERS, tuple(getattr(paramiko.Transport, "_preferred_ciphers", ()))),
        "macs": ("macs", WEAK_MACS, tuple(getattr(paramiko.Transport, "_preferred_macs", ()))),
    }
    for label, (kind, weak, available) in sets.items():
        offered = [a for a in available if a in weak]
        if not offered:
            continue
        disabled = {kind: [a for a in available if a not in weak]}
        try:
            tr, _ = _transport(t, disabled, channel=f"weak-{label}")
            tr.close()
            out.weak_refused[label] = False
        except (paramiko.SSHException, EOFError):
            out.weak_refused[label] = True
        except OSError as e:
            out.errors.append(f"weak {label} probe: {e}")


async def _scan(host: str, ports: tuple[int, ...], timeout: float, limit: int) -> tuple[list[int], int, int]:
    sem = asyncio.Semaphore(limit)
    open_, refused, filtered = [], 0, 0

    async def one(p: int) -> str:
        async with sem:
            try:
                _, w = await asyncio.wait_for(asyncio.open_connection(host, p), timeout)
                w.close()
                return "open"
            except ConnectionRefusedError:
                return "refused"
            except (TimeoutError, OSError):
                return "filtered"

    states = await asyncio.gather(*(one(p) for p in ports))
    for p, s in zip(ports, states, strict=True):
        if s == "open":
            open_.append(p)
        elif s == "refused":
            refused += 1
        else:
            filtered += 1
    return open_, refused, filtered


def scan(t: Target, out: Outside, ports: tuple[int, ...] = SCAN_PORTS, timeout: float = 0.6) -> None:
    """TCP connect scan of ``ports`` on the management address (this machine's lab only)."""
    out.open_tcp, out.closed_tcp_refused, out.filtered_tcp = asyncio.run(
        _scan(t.host, ports, timeout, 300))


def outside(t: Target, *, ports: tuple[int, ...] = SCAN_PORTS) -> Outside:
    check_route(t)  # never probe an address whose packets would leave this machine
    out = Outside()
    negotiate(t, out)
    weak_algorithms(t, out)
    scan(t, out, ports)
    return out
