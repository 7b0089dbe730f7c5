"""A world for evidence-pack tests: a lab inventory whose secrets are files of known values, a
signing key, an hour of availability data, restore and failover drills and an oplog — and a
pack built from it with the producers that need no network (the "offline" map)."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from simpul.evidence.model import Period, RequirementMap, load_map
from simpul.evidence.pack import build
from simpul.evidence.producers import BuildContext
from simpul.inventory import load_inventory
from simpul.oplog import OpLog
from simpul.settings import Settings

OFFLINE = ["inventory-extract", "controls-catalog", "topology-overview", "backup-policies",
           "service-targets", "oplog-extract", "sla-monthly", "router-intended", "router-backup-history",
           "harden-audit-history", "topology-sites", "ipam-plan", "restore-drills",
           "failover-drills"]
SECRETS = {"router-password": "R0uter-Passw0rd-7x", "snmp-community": "c0mmunity-9q",
           "snmp-auth": "auth-K3y-55", "snmp-priv": "priv-K3y-66", "restic-password": "restic-Pw-88"}


def make_world(lab_copy: Path, tmp_path: Path) -> dict[str, Path]:
    """A lab inventory whose secrets live in files of known values, a signing key, an oplog."""
    sec = tmp_path / "secrets"
    sec.mkdir(mode=0o700)
    for name, value in SECRETS.items():
        (sec / name).write_text(value)
        (sec / name).chmod(0o600)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(sec / "evidence-signing-key")],
                   check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(sec / "id_ed25519")], check=True)
    org = lab_copy / "organisation.yaml"
    org.write_text(org.read_text().replace("/var/lib/simpul/lab/secrets", str(sec)))
    state = tmp_path / "state"
    # an hour of availability data this month: every lab host up, desa-kemloko down 10 minutes
    from simpul.monitoring.ledger import Ledger

    ledger = Ledger(state / "ledger.sqlite")
    now = datetime.now(UTC).timestamp()
    inv = load_inventory(lab_copy)
    for k in range(61):
        at = now - 3600 + 60 * k
        ledger.observe([(h, not (h == "desa-kemloko" and 20 <= k < 30), at)
                        for h in [*inv.devices, *inv.servers]], max_gap=180)
    ledger.close()
    # one restore drill this year, as 'simpul drill restore --execute' records it
    drill_dir = state / "drills" / "restore" / "d1"
    drill_dir.mkdir(parents=True)
    (drill_dir / "berita-acara.html").write_text("<html><body>Berita Acara Uji Pemulihan</body></html>")
    (state / "drills" / "restore" / "history.jsonl").write_text(json.dumps({
        "drill": "d1", "service": "simpeg", "result": "passed",
        "started": datetime.now(UTC).isoformat(timespec="seconds"), "rto_s": 7.8, "rpo_s": 5.8,
        "findings": 0, "report": str(drill_dir / "berita-acara.html")}) + "\n")
    # two failover drills this year, saved the way 'simpul drill failover --execute' saves them
    from simpul.drc.failover import save as save_failover
    for run_id, scenario, ok in (("f1", "switchover", True), ("f2", "partition", False)):
        report = {"run_id": run_id, "service": "simpeg", "scenario": scenario, "passed": ok,
                  "started": datetime.now(UTC).isoformat(timespec="seconds"), "lab": True,
                  "metrics": {"takeovers": [{"label": "takeover", "rto_s": 1.5}], "rpo_rows": 0,
                              "rpo_ms": 0.0, "divergent": [] if ok else [7], "acks": 900}}
        save_failover(report, state, f"<html><body>Berita Acara Uji Failover {scenario}</body></html>")
    log = OpLog(state / "oplog.jsonl")
    for i in range(4):
        log.append(action="harden.apply", target=f"pd-{i}", result="changed",
                   params={"community": SECRETS["snmp-community"], "n": i}, refs=["x"])
    return {"inv": lab_copy, "secrets": sec, "state": state}


def offline_map() -> RequirementMap:
    m = load_map()
    reqs = []
    for r in m.requirements:
        ev = {k: [p for p in v if p in OFFLINE] for k, v in r.evidence.items()}
        reqs.append(r.model_copy(update={"evidence": {k: v for k, v in ev.items() if v}}))
    return m.model_copy(update={"requirements": reqs})


def build_pack(world: dict[str, Path], out: Path) -> Path:
    inv = load_inventory(world["inv"])
    ctx = BuildContext(inv=inv, settings=Settings(state_dir=world["state"]),
                       period=Period.parse(str(datetime.now(UTC).year)), out=out)
    built = build(ctx, offline_map(), out, sign_key=world["secrets"] / "evidence-signing-key",
                  principal=inv.organisation.domain)
    assert built.signed and (out / "index.html").exists()
    assert sorted(built.evidence) == sorted(OFFLINE)
    failed = {n: e.summary.en for n, e in built.evidence.items() if e.status == "failed"}
    assert not failed, failed
    return out
