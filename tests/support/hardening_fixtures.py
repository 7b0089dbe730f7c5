"""The hardening fixtures: recorded command output → parsed fact → check verdict (pyinfra style).

One JSON file per case, named after its subject, under ``tests/facts/``:

- ``tests/facts/<CONTROL-ID>/<case>.json`` — a control's read-only check
  (:data:`simpul.deploys.checks.CHECKS`): the host's inventory view (``HostVars``), whether it is
  confined, what the outside probes saw, the commands the check ran with their exit status and
  output, and the verdict (passed, detail);
- ``tests/facts/<Fact>/<case>.json`` — a pyinfra fact of :mod:`simpul.deploys.ops`: its
  arguments, the command it runs, the output lines and the parsed value.

``origin`` says where each came from: ``recorded: ...`` (by :mod:`support.factrec` from a real
lab server, naming its state: fresh or hardened) or ``hand-edited: ...`` (a case no lab server
can show, e.g. a host that is not a namespace, with what was changed and why). Replaying a
check runs exactly the recorded commands: a check that runs a command the fixture does not hold
fails, so changing a check's commands means recording again (``tests/support/factrec.py``).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from simpul.deploys.checks import CheckCtx
from simpul.deploys.hostvars import AdminSpec, HostVars, Port
from simpul.deploys.outside import Outside
from simpul.inventory.models import Waiver

FACTS_DIR = Path(__file__).resolve().parents[1] / "facts"


class StaleFixture(AssertionError):
    """The check ran a command the fixture did not record."""


def hostvars_to_json(hv: HostVars) -> dict[str, Any]:
    d = asdict(hv)
    d["mgmt_ip"] = str(hv.mgmt_ip)
    d["log_host_ip"] = str(hv.log_host_ip) if hv.log_host_ip else None
    d["noc_ranges"] = [str(n) for n in hv.noc_ranges]
    d["waivers"] = [w.model_dump(mode="json") for w in hv.waivers]
    d["admins"] = [{**asdict(a), "expires": a.expires.isoformat() if a.expires else None,
                    "keys": list(a.keys)} for a in hv.admins]
    d["ports"] = [asdict(p) for p in hv.ports]
    d["ntp_servers"] = list(hv.ntp_servers)
    return d


def hostvars_from_json(d: dict[str, Any]) -> HostVars:
    return HostVars(**{
        **d,
        "mgmt_ip": IPv4Address(d["mgmt_ip"]),
        "log_host_ip": IPv4Address(d["log_host_ip"]) if d["log_host_ip"] else None,
        "noc_ranges": tuple(IPv4Network(n) for n in d["noc_ranges"]),
        "ports": tuple(Port(**p) for p in d["ports"]),
        "ntp_servers": tuple(d["ntp_servers"]),
        "waivers": tuple(Waiver(**w) for w in d["waivers"]),
        "admins": tuple(AdminSpec(**{**a, "keys": tuple(a["keys"]),
                                     "expires": date.fromisoformat(a["expires"]) if a["expires"] else None})
                        for a in d["admins"]),
    })


def context_to_json(ctx: CheckCtx) -> dict[str, Any]:
    return {"confined": ctx.confined, "today": ctx.today.isoformat(), "pubkey": ctx.pubkey,
            "host": hostvars_to_json(ctx.hv), "outside": ctx.outside.to_dict()}


def replay_ctx(fixture: dict[str, Any]) -> tuple[CheckCtx, list[str]]:
    """A :class:`CheckCtx` whose ``sh`` answers from the fixture's commands; the list collects
    the commands the check asked for (in order)."""
    c = fixture["context"]
    answers = {x["cmd"]: (int(x["rc"]), str(x["output"])) for x in fixture["commands"]}
    asked: list[str] = []

    def sh(cmd: str) -> tuple[int, str]:
        asked.append(cmd)
        if cmd not in answers:
            raise StaleFixture(f"{fixture['subject']}/{fixture['case']}: the check ran a command the "
                               f"fixture did not record (record again: tests/support/factrec.py):\n{cmd}")
        return answers[cmd]

    ctx = CheckCtx(hv=hostvars_from_json(c["host"]), sh=sh, confined=bool(c["confined"]),
                   outside=Outside(**c["outside"]), pubkey=str(c["pubkey"]),
                   today=date.fromisoformat(c["today"]))
    return ctx, asked


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def check_fixtures() -> list[Path]:
    return sorted(p for p in FACTS_DIR.glob("*-*/*.json"))


def fact_fixtures() -> list[Path]:
    return sorted(p for p in FACTS_DIR.glob("*/*.json") if "-" not in p.parent.name)
