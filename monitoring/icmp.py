"""ICMP reachability (loss, latency) with one ``fping`` process for many hosts.

Radio-linked desa drop packets long before they drop SNMP sessions; the NOC wants loss and
latency per link (Perbup Temanggung 83/2021 Pasal 20: Dinkominfo monitors the intranet up to
every desa router). Points use Telegraf's ``ping`` schema (tag ``url``, fields
``percent_packet_loss``, ``average_response_ms``…), so existing dashboards work.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PingResult:
    address: str
    sent: int
    received: int
    rtts_ms: tuple[float, ...]

    @property
    def up(self) -> bool:
        return self.received > 0

    @property
    def loss_pct(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 100.0

    def fields(self) -> dict[str, float | int]:
        f: dict[str, float | int] = {
            "packets_transmitted": self.sent,
            "packets_received": self.received,
            "percent_packet_loss": round(self.loss_pct, 3),
            "result_code": 0 if self.up else 1,
        }
        if self.rtts_ms:
            f["average_response_ms"] = round(sum(self.rtts_ms) / len(self.rtts_ms), 3)
            f["minimum_response_ms"] = min(self.rtts_ms)
            f["maximum_response_ms"] = max(self.rtts_ms)
        return f


def parse_fping(output: str, count: int) -> dict[str, PingResult]:
    """Parse ``fping -C N -q`` output (``host : 0.36 - 0.04``; ``-`` is a lost reply).

    >>> parse_fping("10.0.0.1 : 1.10 - 1.30", 3)["10.0.0.1"].loss_pct
    33.333333333333336
    """
    out: dict[str, PingResult] = {}
    for raw in output.splitlines():
        host, sep, rest = raw.partition(" : ")
        if not sep:
            continue
        vals = rest.split()
        rtts = tuple(float(v) for v in vals if v != "-")
        out[host.strip()] = PingResult(host.strip(), len(vals) or count, len(rtts), rtts)
    return out


def ping_many(
    addresses: Sequence[str],
    *,
    count: int = 3,
    period_ms: int = 200,
    timeout_ms: int = 500,
    netns: str | None = None,
) -> dict[str, PingResult]:
    """Ping all ``addresses`` at once; a host that fping does not report counts as all lost.

    ``netns`` runs fping inside that network namespace (``ip netns exec``, needs root): the
    probe point. On a NOC host fping runs where the poller runs; in the built-in lab the desa
    loopbacks exist only inside the lab, so the probe runs in the core router's namespace.
    """
    if not addresses:
        return {}
    exe = shutil.which("fping")
    from simpul.errors import ConfigError

    if exe is None:
        raise ConfigError("fping is not installed", hint="apt-get install fping")
    argv = [exe, "-C", str(count), "-q", "-p", str(period_ms), "-t", str(timeout_ms), "-r", "0",
            *addresses]
    if netns:
        if not Path("/run/netns", netns).exists():
            raise ConfigError(f"icmp probe namespace '{netns}' does not exist",
                              hint="check --icmp-netns / $SIMPUL_ICMP_NETNS ('ip netns list')")
        argv = ["ip", "netns", "exec", netns, *argv]
    # fping exits 1 when some host is unreachable, 2 for unknown hosts: the output still holds
    # a line per host, on stderr.
    r = subprocess.run(argv, capture_output=True, text=True, check=False,
                       timeout=count * (period_ms + timeout_ms) / 1000 + 10)
    res = parse_fping(r.stderr + r.stdout, count)
    for a in addresses:
        if a not in res:
            log.debug("%s: no fping result, counted as lost", a)
            res[a] = PingResult(a, count, 0, ())
    return res
