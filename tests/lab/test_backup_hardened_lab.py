"""Backups on hardened servers: the hardening deploy (nftables default-drop admitting the
inventory's services, sshd, PAM, file modes, ...) and the backup deploy together, and the
hardening audit still passes afterwards.

Uses a private pair of lab servers (``sthard<k>-pd`` at the Pusat Data, ``sthard<k>-drc`` at
the DRC; simpul.lab.private), so it runs beside the shared lab without touching it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from simpul.lab.private import PrivateLab, leftovers_of

pytestmark = pytest.mark.lab

SIMPUL = str(Path(sys.executable).parent / "simpul")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateLab]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    for b in ("ip", "unshare", "ssh-keygen", "ssh"):
        if shutil.which(b) is None:
            pytest.skip(f"missing {b}")
    pl = PrivateLab(tmp_path_factory.mktemp("sthard-backup"), ["pd", "drc"],
                    services={"pd": ["ssh", "snmp"], "drc": ["ssh", "snmp", "restic-rest", "syslog"]})
    try:
        pl.up()
        yield pl
    finally:
        pl.close()
        assert not leftovers_of(pl), "private lab namespaces left behind"


def backup_inventory(lab: PrivateLab) -> Path:
    d = lab.inventory_dir
    key = lab.base / "secrets" / "restic-key"
    key.write_text(os.urandom(24).hex() + "\n")
    key.chmod(0o600)
    org = yaml.safe_load((d / "organisation.yaml").read_text())
    org["secrets"]["sthard-restic"] = {"file": str(key)}
    org["sites"]["drc"] = {"type": "drc", "name": "DRC Uji"}
    org["services"] = {"arsip": {"name": "Arsip Uji", "owner": "pusat-data", "servers": [lab.n("pd")],
                                 "availability_target": 99.5, "rto": "4h", "rpo": "1d"}}
    org["backup_policies"] = {"arsip-harian": {
        "service": "arsip", "sources": [{"type": "paths", "paths": ["/srv/arsip"]}],
        "every": "1d", "destination": lab.n("drc"), "repository": "/srv/restic/arsip",
        "encryption_key": "sthard-restic", "verify": "read-data"}}
    (d / "organisation.yaml").write_text(yaml.safe_dump(org, sort_keys=False))
    srv = yaml.safe_load((d / "servers.yaml").read_text())
    srv["servers"][lab.n("drc")]["site"] = "drc"
    srv["servers"][lab.n("pd")]["backup"] = ["arsip-harian"]
    (d / "servers.yaml").write_text(yaml.safe_dump(srv, sort_keys=False))
    return d


def simpul(lab: PrivateLab, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIMPUL_STATE_DIR": str(lab.base / "simpul-state")}
    cp = subprocess.run([SIMPUL, "-i", str(lab.inventory_dir), *args, "--known-hosts",
                         str(lab.known_hosts)], capture_output=True, text=True, env=env,
                        timeout=900, check=False)
    assert cp.returncode in ok, f"{' '.join(args)}: exit {cp.returncode}\n{cp.stdout[-3000:]}\n{cp.stderr[-2000:]}"
    return cp


def failing(lab: PrivateLab) -> set[tuple[str, str, str]]:
    audit = json.loads(simpul(lab, "harden", "audit", "--json", ok=(0, 6)).stdout)
    return {(h["host"], c["id"], c["detail"]) for h in audit["hosts"] for c in h["controls"]
            if c["status"] == "fail"}


def test_backups_work_on_hardened_servers_and_the_audit_still_passes(lab: PrivateLab) -> None:
    backup_inventory(lab)
    simpul(lab, "harden", "apply", "--apply")
    before = failing(lab)
    pd = lab.server("pd")
    subprocess.run(["ssh", "-F", "/dev/null", "-i", str(lab.key), "-o", "BatchMode=yes",
                    "-o", f"UserKnownHostsFile={lab.known_hosts}", f"simpul@{pd.mgmt_ip}",
                    "sudo -n sh -c 'mkdir -p /srv/arsip && head -c 300000 /dev/urandom > /srv/arsip/a.pdf "
                    "&& echo surat > /srv/arsip/b.txt'"], check=True, timeout=60)
    simpul(lab, "backup", "deploy", "--apply")
    run = json.loads(simpul(lab, "backup", "run", "--json").stdout)
    assert run[0]["status"] == "changed" and run[0]["data"]["files"] == 2
    simpul(lab, "backup", "check")
    status = json.loads(simpul(lab, "backup", "status", "--json").stdout)
    assert status["exit_code"] == 0 and status["jobs"][0]["verdict"] == "ok"
    # the firewall admits restic-rest (8000) and nothing else new: the backup deploy makes no
    # control fail that passed after hardening
    after = failing(lab)
    assert before == set(), before  # hardened, audit passes
    assert after == set(), after  # and still passes with the backups deployed and run
