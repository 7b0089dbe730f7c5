"""Backup policies in the inventory, and what the backup deploy derives from them (pure)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from simpul.deploys import backup_spec as bs
from simpul.inventory import load_inventory
from simpul.inventory.loader import InventoryInvalid
from simpul.inventory.models import BackupPolicy, BackupSource, Retention, cron_for_every

REPO = Path(__file__).resolve().parents[2]
KEY = "kunci-repositori-lab-0123456789abcdef"


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(InventoryInvalid) as ei:
        load_inventory(directory)
    return [str(p) for p in ei.value.problems]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def policy(**kw: object) -> BackupPolicy:
    base: dict[str, object] = {"sources": [{"type": "paths", "paths": ["/srv"]}], "every": "1d",
                               "destination": "drc-backup", "repository": "/srv/restic/x",
                               "encryption_key": "k"}
    return BackupPolicy.model_validate({**base, **kw})


# --- schema ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("every", "cron"), [
    (timedelta(minutes=15), r"^\d+-59/15 \* \* \* \*$"),
    (timedelta(hours=6), r"^\d+ \d-23/6 \* \* \*$"),
    (timedelta(days=1), r"^\d+ [1-4] \* \* \*$"),
    (timedelta(minutes=1), r"^\* \* \* \* \*$"),
])
def test_cron_for_every(every: timedelta, cron: str) -> None:
    import re

    for off in (0, 7, 12345, 99999):
        s = cron_for_every(every, off)
        assert s is not None and re.match(cron, s), s


def test_cron_offsets_stay_inside_the_period() -> None:
    for off in range(200):
        m = int((cron_for_every(timedelta(minutes=15), off) or "").split("-")[0])
        assert 0 <= m < 15


@pytest.mark.parametrize("every", [timedelta(minutes=7), timedelta(hours=5), timedelta(days=2),
                                   timedelta(seconds=90)])
def test_unschedulable_periods(every: timedelta) -> None:
    assert cron_for_every(every) is None


def test_policy_needs_a_schedulable_period_or_a_schedule() -> None:
    with pytest.raises(ValidationError, match="cannot be scheduled with cron"):
        policy(every="7m")
    assert policy(every="7m", schedule="*/7  * * * *").schedule == "*/7 * * * *"
    with pytest.raises(ValidationError, match="not a cron schedule"):
        policy(schedule="every day")


def test_sources_are_complete_and_not_mixed() -> None:
    with pytest.raises(ValidationError, match="needs database"):
        BackupSource(type="mariadb")
    with pytest.raises(ValidationError, match="needs paths"):
        BackupSource(type="paths")
    with pytest.raises(ValidationError, match="for database sources"):
        BackupSource(type="paths", paths=["/srv"], database="x")
    with pytest.raises(ValidationError, match="for paths sources"):
        BackupSource(type="postgres", database="simpeg", paths=["/srv"])
    with pytest.raises(ValidationError):
        BackupSource(type="paths", paths=["relative/path"])
    assert BackupSource(type="postgres", database="all").on == "primary"


def test_a_retention_that_keeps_nothing_is_refused() -> None:
    with pytest.raises(ValidationError, match="keeps nothing"):
        Retention(daily=0, weekly=0, monthly=0)


def test_repository_path_names_the_repository() -> None:
    with pytest.raises(ValidationError):
        policy(repository="/srv/restic/Bad_Name")
    with pytest.raises(ValidationError):
        policy(repository="relative/x")


# --- cross-checks -----------------------------------------------------------------------------


def test_lab_inventory_policies() -> None:
    inv = load_inventory(REPO / "inventory" / "lab")
    assert [(j.policy, j.host) for j in bs.jobs(inv)] == [("simpeg-app", "pd-app"),
                                                          ("simpeg-db", "pd-db"), ("simpeg-db", "drc-db")]
    # the database policy runs on both database servers; whichever is the primary dumps, so
    # freshness and drills take them together
    assert [(g.policy, g.hosts) for g in bs.job_groups(inv)] == [
        ("simpeg-app", ("pd-app",)), ("simpeg-db", ("pd-db", "drc-db"))]
    (d,) = bs.destinations(inv).values()
    assert (d.name, d.address, d.port, d.root) == ("drc-backup", "10.199.65.12", 8000, "/srv/restic")
    assert sorted(d.repos["simpeg"].policies) == ["simpeg-app", "simpeg-db"]
    assert d.repos["simpeg"].verify() == "read-data"


def test_backup_cross_checks(lab_copy: Path) -> None:
    f = lab_copy / "servers.yaml"
    edit(f, "services: [ssh, snmp, restic-rest]", "services: [ssh, snmp]")
    edit(f, "    service: simpeg\n", "    service: no-such-service\n")  # simpeg-db
    text = f.read_text()
    i = text.index("  simpeg-app:")
    f.write_text(text[:i] + text[i:].replace("    every: 15m\n", "    every: 1d\n", 1))
    probs = "\n".join(problems_of(lab_copy))
    assert "does not list the service restic-rest" in probs
    assert "unknown service 'no-such-service'" in probs
    assert "backup_policies.simpeg-app.every: a backup every 1d cannot meet service 'simpeg''s RPO of 15m" in probs


def test_repositories_of_one_destination_share_a_root_and_a_key(lab_copy: Path) -> None:
    f = lab_copy / "servers.yaml"
    text = f.read_text()
    i = text.index("  simpeg-app:")
    f.write_text(text[:i] + text[i:].replace("repository: /srv/restic/simpeg",
                                             "repository: /data/restic/simpeg", 1))
    assert any("must sit in one directory" in p for p in problems_of(lab_copy))
    f.write_text(text[:i] + text[i:].replace("encryption_key: lab-restic-key",
                                             "encryption_key: lab-snmp-auth", 1))
    assert any("one repository has one key" in p for p in problems_of(lab_copy))


def test_policy_nobody_uses_is_reported(lab_copy: Path) -> None:
    edit(lab_copy / "servers.yaml", "backup: [simpeg-app], ", "")
    assert any("backup_policies.simpeg-app: no server lists this policy" in p
               for p in problems_of(lab_copy))


# --- derived files ----------------------------------------------------------------------------


def test_rest_password_is_derived_per_repository_and_htpasswd_holds_only_a_hash() -> None:
    a = bs.rest_password(KEY, "simpeg")
    assert a == bs.rest_password(KEY, "simpeg") and len(a) == 40
    assert a != bs.rest_password(KEY, "portal") and a != bs.rest_password(KEY + "x", "simpeg")
    line = bs.htpasswd_line("simpeg", a)
    user, _, h = line.partition(":")
    assert user == "simpeg" and a not in line
    assert h == "{SHA}" + base64.b64encode(hashlib.sha1(a.encode()).digest()).decode()


def test_source_and_drc_configs_hold_no_secret() -> None:
    inv = load_inventory(REPO / "inventory" / "lab")
    dest = bs.destinations(inv)["drc-backup"]
    job = bs.jobs(inv, ["simpeg-db"])[0]
    conf = json.loads(bs.source_config(job, dest))
    assert conf["repository_file"].endswith("simpeg-db.repo") and conf["host"] == "pd-db"
    assert conf["sources"] == [{"type": "postgres", "database": "simpeg", "on": "primary"}]
    drc = json.loads(bs.drc_config(dest.repos["simpeg"]))
    assert drc["policies"]["simpeg-db"]["retention"] == {"last": 4, "hourly": 24, "daily": 7,
                                                         "weekly": 4, "monthly": 12, "yearly": 0}
    url = bs.repository_url(dest, "simpeg", "PW")
    assert url == "rest:https://simpeg:PW@10.199.65.12:8000/simpeg/"


def test_cron_files() -> None:
    inv = load_inventory(REPO / "inventory" / "lab")
    src = bs.cron_source(bs.jobs(inv, hosts=["pd-db"]))
    (line,) = [ln for ln in src.splitlines() if "simpul-backup run" in ln]
    assert line.split()[1:5] == ["*", "*", "*", "*"] and "-59/15" in line.split()[0]
    assert line.endswith("root /usr/local/sbin/simpul-backup run simpeg-db >/dev/null 2>&1")
    drc = bs.cron_drc(bs.destinations(inv)["drc-backup"])
    assert "drc-forget simpeg" in drc and "drc-check simpeg" in drc


def test_retention_args() -> None:
    p = policy(retention={"last": 2, "daily": 7, "weekly": 0, "monthly": 3, "within": "36h"})
    assert bs.retention_args(p) == ["--keep-last", "2", "--keep-daily", "7", "--keep-monthly", "3",
                                    "--keep-within", "36h"]


def test_host_specs_keep_secrets_out_of_files(monkeypatch: pytest.MonkeyPatch, lab_copy: Path) -> None:
    from simpul.deploys.backup import drc_spec, source_spec

    secret = lab_copy / "restic-key"
    secret.write_text(KEY + "\n")
    secret.chmod(0o600)
    edit(lab_copy / "organisation.yaml", "lab-restic-key: {file: /var/lib/simpul/lab/secrets/restic-password}",
         f"lab-restic-key: {{file: {secret}}}")
    inv = load_inventory(lab_copy)
    pw = bs.rest_password(KEY, "simpeg")
    d = drc_spec(inv, bs.destinations(inv)["drc-backup"])
    s = source_spec(inv, "pd-db", {"drc-backup": "-----BEGIN CERTIFICATE-----\nX\n"})
    for h in (d, s):
        for f in h.files:
            assert KEY not in f.content and pw not in f.content, f.path
    modes = {x.path: (x.mode, x.user) for x in d.secrets}
    assert modes["/etc/simpul/backup/drc/simpeg.key"] == ("400", "restic")
    assert {x.path: x.mode for x in s.secrets} == {"/etc/simpul/backup/simpeg-db.key": "600",
                                                    "/etc/simpul/backup/simpeg-db.repo": "600"}
    repo_file = next(x for x in s.secrets if x.path.endswith(".repo"))
    assert pw in repo_file.value and repr(repo_file).find(pw) == -1  # never in a repr/log line
    assert "python3-psycopg2" in s.packages and "restic" in s.packages
    assert any(f.path == "/etc/simpul/backup/drc-backup.pem" and "BEGIN CERTIFICATE" in f.content
               for f in s.files)
