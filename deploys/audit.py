"""``simpul harden audit``: every control checked, from inside (testinfra) and outside (probes).

Read-only by construction: the inside checks run through testinfra's ``ssh://`` backend (with a
ControlMaster, pinned host keys and BatchMode, so a password prompt can never hang a cron job),
and only execute the commands in :mod:`simpul.deploys.checks`; the outside checks only negotiate
and connect. Result per host and control: pass / fail / waived / na / unverified, with the reason.

**unverified** (*tidak terverifikasi*): a kernel-global control (``kernel.*``/``fs.*`` sysctls,
the audit daemon, the clock, modules) on a host that runs in a namespace or container, where it
cannot be enforced: its configuration is right, but whether it is in force cannot be proven
there. It is not a pass and it is left out of the score (the report says so). A wrong
configuration of such a control is still a **fail**.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from simpul.deploys.catalog import CONTROLS, Control
from simpul.deploys.checks import CHECKS, CheckCtx, Sh
from simpul.deploys.hostvars import decide, host_vars
from simpul.deploys.outside import SCAN_PORTS, Outside, outside
from simpul.inventory.models import Inventory
from simpul.results import Result, Status
from simpul.runner import Hook, run_each
from simpul.ssh import Target, preflight, public_key_line, server_target

log = logging.getLogger(__name__)

CStatus = Literal["pass", "fail", "waived", "na", "unverified"]
STATUSES: tuple[str, ...] = ("pass", "fail", "waived", "na", "unverified")


@dataclass
class ControlResult:
    control: Control
    status: CStatus
    detail: str
    config_only: bool = False
    waiver: dict[str, str] | None = None
    passes: bool | None = None  # for a waived control: would it pass? (None: not checked)

    def to_dict(self) -> dict[str, Any]:
        c = self.control
        return {"id": c.id, "family": c.family, "status": self.status, "detail": self.detail,
                "config_only": self.config_only, "profile": c.profile, "scope": c.scope,
                "change": c.change, "passes": self.passes,
                "title": {"id": c.title_id, "en": c.title_en},
                "rationale": {"id": c.rationale_id, "en": c.rationale_en},
                "refs": list(c.refs), "waiver": self.waiver}


@dataclass
class HostAudit:
    """The findings of one host's audit: the ``value`` of its :class:`Result`."""

    name: str
    reachable: bool = True
    message: str = ""
    confined: bool = False
    results: list[ControlResult] = field(default_factory=list)
    outside: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def score(self) -> int | None:
        """Passing share of the controls that were checked for real: waived, not applicable
        and *unverified* controls are left out."""
        p, f = self.count("pass"), self.count("fail")
        return round(100 * p / (p + f)) if p + f else None

    @property
    def failed(self) -> bool:
        return not self.reachable or bool(self.message) or self.count("fail") > 0

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.name, "reachable": self.reachable, "message": self.message,
                "confined": self.confined, "score": self.score,
                "counts": {s: self.count(s) for s in STATUSES},
                "seconds": round(self.seconds, 2), "outside": self.outside,
                "controls": [r.to_dict() for r in self.results]}


SSH_CONFIG = """Host {name}
  HostName {host}
  Port {port}
  User {user}
  IdentityFile {key}
  IdentitiesOnly yes
  UserKnownHostsFile {known_hosts}
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
  ConnectTimeout {timeout}
"""


def _testinfra_sh(t: Target, workdir: Path) -> tuple[Any, Path]:
    import testinfra

    cfg = workdir / f"{t.name}.ssh_config"
    cfg.write_text(SSH_CONFIG.format(name=t.name, host=t.host, port=t.port, user=t.user,
                                     key=t.key_file, known_hosts=t.known_hosts,
                                     timeout=int(t.timeout)))
    h = testinfra.get_host(f"ssh://{t.name}", ssh_config=str(cfg), sudo=True,
                           controlpath=str(workdir / f"cm-{t.name}"), controlpersist=30)
    return h, cfg


def audit_host(inv: Inventory, name: str, known_hosts: Path, *, today: date,
               ports: tuple[int, ...] = SCAN_PORTS, wrap_sh: Callable[[Sh], Sh] | None = None) -> Result:
    """Audit one host. Its :class:`Result` is OK when every applicable control passes,
    CHANGED (drift) when any fails; ``value`` holds the :class:`HostAudit` findings. A host
    that cannot be reached or used raises (the runner records it as unreachable/failed).

    ``wrap_sh`` wraps the command runner of the checks (the fixture recorder in
    ``tests/support/factrec.py`` writes down every command and its output through it)."""
    t0 = time.monotonic()
    ha = HostAudit(name)
    workdir = Path(tempfile.mkdtemp(prefix="simpul-audit-"))
    cfg: Path | None = None
    try:
        hv = host_vars(inv, name)
        t = server_target(inv, name, known_hosts)
        decisions = decide(hv, today)
        facts = preflight(t)
        ha.confined = facts.confined
        out: Outside = outside(t, ports=ports)
        ha.outside = out.to_dict()
        h, cfg = _testinfra_sh(t, workdir)

        def sh(cmd: str) -> tuple[int, str]:
            # testinfra's ssh backend treats exit 255 as an SSH failure (fail2ban-client exits
            # 255 when the daemon is down): carry the command's status in the output instead
            res = h.run(f"( {cmd} ); echo \"__simpul_rc=$?\"")
            out = str(res.stdout)
            body, _, tail = out.rstrip("\n").rpartition("__simpul_rc=")
            if not tail.strip().isdigit():
                return int(res.rc) or 1, out
            return int(tail.strip()), body

        ctx = CheckCtx(hv=hv, sh=wrap_sh(sh) if wrap_sh else sh, confined=facts.confined, outside=out,
                       pubkey=public_key_line(t.key_file), today=today)
        ha.results = check_controls(ctx, decisions, name)
    finally:
        if cfg is not None:
            subprocess.run(["ssh", "-F", str(cfg), "-o", f"ControlPath={workdir}/cm-{name}", "-O",
                            "exit", name], capture_output=True, check=False, timeout=10)
        for p in sorted(workdir.glob("*"), reverse=True):
            p.unlink(missing_ok=True)
        workdir.rmdir()
    ha.seconds = time.monotonic() - t0
    fails = ha.count("fail")
    log.info("%s: audit %s/%s pass in %.1f s", name, ha.count("pass"),
             ha.count("pass") + fails, ha.seconds)
    return Result(name, Status.CHANGED if fails else Status.OK,
                  f"{fails} control(s) failing" if fails else "", data=ha.to_dict(),
                  seconds=ha.seconds, value=ha)


def check_controls(ctx: CheckCtx, decisions: dict[str, Any], name: str = "") -> list[ControlResult]:
    """Run every control's read-only check through ``ctx.sh`` and decide its status (pure given
    ``ctx.sh``: the offline fixture tests replay recorded command output through it)."""
    results: list[ControlResult] = []
    for c in CONTROLS:
        d = decisions[c.id]
        config_only = c.scope == "kernel" and ctx.confined
        if d.state == "na":
            results.append(ControlResult(c, "na", d.reason))
            continue
        try:
            passed, detail = CHECKS[c.id](ctx)
        except Exception as e:  # a check that cannot run fails its control, with the reason
            log.warning("%s: check %s raised %s", name, c.id, e)
            passed, detail = False, f"check could not run: {type(e).__name__}: {e}"
        if d.state == "waived":
            w = d.waiver
            results.append(ControlResult(
                c, "waived", f"{d.reason}; currently {'passes' if passed else 'fails'}: {detail}",
                config_only, {"reason": w.reason, "approver": w.approver,
                              "expires": w.expires.isoformat()} if w else None, passes=passed))
            continue
        if d.reason:  # e.g. an expired waiver
            detail = f"{d.reason}; {detail}"
        # kernel-global on a confined host: a right configuration is all that can be shown
        status: CStatus = "fail" if not passed else "unverified" if config_only else "pass"
        results.append(ControlResult(c, status, detail, config_only))
    return results


def audit_hosts(inv: Inventory, names: Sequence[str], known_hosts: Path, *, today: date | None = None,
                parallel: int = 10, ports: tuple[int, ...] = SCAN_PORTS,
                hooks: Sequence[Hook] = ()) -> list[Result]:
    """Audit ``names`` through the core runner; one :class:`Result` per host."""
    day = today or date.today()
    return run_each(names, lambda n: audit_host(inv, n, known_hosts, today=day, ports=ports),
                    parallel=parallel, hooks=hooks)


def findings(results: Sequence[Result]) -> list[HostAudit]:
    """The findings of each audited host; a host that could not be audited gets an empty
    :class:`HostAudit` carrying why (unreachable, or the preflight's reason)."""
    out = []
    for r in results:
        if isinstance(r.value, HostAudit):
            out.append(r.value)
        else:
            out.append(HostAudit(r.target, reachable=r.status is not Status.UNREACHABLE,
                                 message=r.message or str(r.status), seconds=r.seconds))
    return out


def report_data(inv: Inventory, results: Sequence[Result], *, now: datetime | None = None) -> dict[str, Any]:
    """The machine-readable audit report (the JSON output and the HTML report's input)."""
    now = now or datetime.now(UTC)
    audits = findings(results)
    return {
        "kind": "simpul.harden.audit", "version": 1,
        "generated": now.isoformat(timespec="seconds"),
        "organisation": inv.organisation.name,
        "summary": {
            "hosts": len(audits),
            "hosts_failing": sum(1 for a in audits if a.failed),
            "controls_failing": sum(a.count("fail") for a in audits),
            "controls_unverified": sum(a.count("unverified") for a in audits),
        },
        "hosts": [a.to_dict() for a in audits],
    }


# --- audit history: the previous audit to compare with ---------------------------------------

HISTORY_DIR = "audits"


def save_audit(state_dir: Path, data: dict[str, Any]) -> Path:
    """Keep this audit's JSON in ``<state_dir>/audits/`` (the next audit compares with it)."""
    import json
    import os

    d = state_dir / HISTORY_DIR
    d.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromisoformat(data["generated"]).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = d / f"audit-{stamp}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({k: v for k, v in data.items() if k != "previous"}, indent=1,
                              ensure_ascii=False))
    os.replace(tmp, path)
    return path


def previous_audit(state_dir: Path, hosts: Sequence[str]) -> dict[str, Any] | None:
    """The newest stored audit that audited any of ``hosts``; None when there is none."""
    import json

    d = state_dir / HISTORY_DIR
    if not d.is_dir():
        return None
    want = set(hosts)
    for path in sorted(d.glob("audit-*.json"), reverse=True):
        try:
            data = json.loads(path.read_text())
            audited = {h["host"] for h in data.get("hosts", []) if h.get("controls")}
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("%s: unreadable stored audit skipped (%s)", path, e)
            continue
        if audited & want:
            return dict(data)
    return None
