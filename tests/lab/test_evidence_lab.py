"""The evidence pack built against the running lab: fresh audits and router facts collected
read-only, a verifying signature, no secret of the lab in any file, and tampering caught."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from labkit import LabEnv

from simpul.cli import main
from simpul.errors import ExitCode
from simpul.evidence.model import load_map
from simpul.evidence.pack import verify

pytestmark = pytest.mark.lab


def _lab_secret_values(env: LabEnv) -> dict[str, bytes]:
    out = {}
    for p in sorted(env.st.secrets.iterdir()):
        if p.suffix == ".pub" or not p.is_file():
            continue
        text = p.read_text().strip()
        if "PRIVATE KEY" in text:  # the key material, not the armour lines
            body = [ln for ln in text.splitlines() if ln and not ln.startswith("-----")]
            out[p.name] = "".join(body)[:40].encode()
        else:
            out[p.name] = text.encode()
    return out


def test_evidence_pack_of_the_lab(lab_env: LabEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SIMPUL_STATE_DIR", str(tmp_path / "state"))
    # a real state change of the period, recorded in the operations log
    assert main(["lab", "link", "down", "core-jampiroso"]) == ExitCode.OK
    assert main(["lab", "link", "up", "core-jampiroso"]) == ExitCode.OK
    capsys.readouterr()
    pack = tmp_path / "bukti"
    year = str(datetime.now(UTC).year)
    rc = main(["--json", "evidence", "build", "--period", year, "--out", str(pack)])
    out = json.loads(capsys.readouterr().out)
    failed = {n: e["summary"]["en"] for n, e in out["evidence"].items() if e["status"] == "failed"}
    assert rc == ExitCode.OK and not failed, failed
    ev = out["evidence"]
    # fresh implementation evidence from every lab server and router
    assert ev["harden-audit"]["status"] == "ok", ev["harden-audit"]
    assert ev["harden-audit"]["summary"]["en"].startswith(f"{len(lab_env.inv.servers)} of ")
    assert ev["router-facts"]["status"] == "ok" and ev["router-running"]["status"] == "ok"
    assert ev["oplog-extract"]["status"] == "ok" and "lab.link.down 1" in ev["oplog-extract"]["summary"]["en"]
    # no ledger in this state dir: a stated gap, not a crash
    assert ev["sla-monthly"]["status"] == "gap"
    assert {r["id"] for r in out["requirements"]} == {r.id for r in load_map().requirements}
    assert out["signed"]

    v = verify(pack)
    assert v.ok, v.problems
    secrets = _lab_secret_values(lab_env)
    assert "router-password" in secrets and "snmp-auth" in secrets
    for p in pack.rglob("*"):
        if p.is_file():
            body = p.read_bytes()
            leaked = [n for n, value in secrets.items() if value and value in body]
            assert not leaked, f"{p.relative_to(pack)} holds the lab secret(s) {leaked}"

    # one changed byte in a router's running config is named
    cfg = next((pack / "artefacts" / "router-running").glob("*.cfg"))
    cfg.write_bytes(cfg.read_bytes().replace(b"ospf", b"OSPF", 1))
    problems = verify(pack).problems
    assert f"artefacts/router-running/{cfg.name}: altered (sha256 differs from SHA256SUMS)" in problems
    assert main(["evidence", "verify", str(pack)]) == ExitCode.ERROR
