"""Backups to the DRC and restore drills against the real lab (issue 13, "Done when").

Order matters (pytest runs a file top to bottom): seed → deploy → back up every source →
status green / stale → an interrupted drill → a passing drill that removes its leftovers →
a tampered restore target → a corrupted pack → the Pusat Data cannot delete or overwrite →
retention at the DRC keeps exactly what the policy says → no secret in any argument list, log,
report or oplog → a server restart keeps everything working.

Leaves the lab as other domains expect it: data seeded, the backup jobs deployed and healthy,
every scratch removed, the repository undamaged, the test-only policy and repository removed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labkit import LabEnv

from simpul.deploys import backup_spec as bs
from simpul.drc.drill import DrillHooks, Unit, execute, plan_drill
from simpul.drc.remote import call
from simpul.drc.retention import RetentionRule, Snap, decide
from simpul.inventory import load_inventory
from simpul.ssh import server_target

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
LAB_INV = REPO / "inventory" / "lab"
SIMPUL = str(Path(sys.executable).parent / "simpul")
OUTPUTS: list[str] = []  # everything the commands printed, checked for secrets at the end


def simpul(state: Path, *args: str, inv: Path = LAB_INV, timeout: float = 900,
           ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIMPUL_STATE_DIR": str(state)}
    cp = subprocess.run([SIMPUL, "-i", str(inv), *args], capture_output=True, text=True,
                        timeout=timeout, env=env, check=False)
    OUTPUTS.append(cp.stdout + cp.stderr)
    assert cp.returncode in ok, f"simpul {' '.join(args)}: exit {cp.returncode}\n{cp.stdout[-3000:]}\n{cp.stderr[-3000:]}"
    return cp


def sh(lab: LabEnv, host: str, cmd: str, timeout: float = 120) -> str:
    cp = lab.ssh(host, f"sudo -n sh -c {json.dumps(cmd)}", timeout=timeout)
    assert cp.returncode == 0, f"{host}: {cmd}: {cp.stderr[-800:]}"
    return cp.stdout


@pytest.fixture(scope="module")
def ready(lab_env: LabEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Seeded, deployed, one backup of every source, one integrity check."""
    state = tmp_path_factory.mktemp("backup-state")
    simpul(state, "lab", "seed", timeout=1800)
    simpul(state, "backup", "deploy", "--apply", "--json")
    plan = simpul(state, "backup", "plan", "--json")  # converged: nothing left to do
    assert json.loads(plan.stdout)["exit_code"] == 0
    run = json.loads(simpul(state, "backup", "run", "--json", timeout=1800).stdout)
    simpul(state, "backup", "check", "--json")
    inv = load_inventory(LAB_INV)
    yield {"state": state, "run": run, "inv": inv, "kh": lab_env.st.known_hosts}


def drc_status(ready: dict[str, Any]) -> dict[str, Any]:
    t = server_target(ready["inv"], "drc-backup", ready["kh"])
    return call(t, "drc-status", "simpeg")


def test_every_source_has_a_snapshot_at_the_drc(ready: dict[str, Any], lab_env: LabEnv) -> None:
    jobs = {(r["data"]["policy"], r["data"]["host"]): r for r in ready["run"]}
    assert set(jobs) == {("simpeg-db", "pd-db"), ("simpeg-db", "drc-db"), ("simpeg-app", "pd-app")}
    assert jobs[("simpeg-app", "pd-app")]["status"] == "changed"
    assert jobs[("simpeg-app", "pd-app")]["data"]["files"] >= 400
    # simpeg-db runs on both database servers: the primary dumps, the other one skips
    db = {h: jobs[("simpeg-db", h)]["status"] for h in ("pd-db", "drc-db")}
    assert sorted(db.values()) == ["changed", "skipped"], db
    primary = next(h for h, st in db.items() if st == "changed")
    assert jobs[("simpeg-db", primary)]["data"]["tables"] >= 4
    snaps = drc_status(ready)["snapshots"]
    for (policy, host), r in jobs.items():
        if r["status"] != "changed":
            continue
        mine = [s for s in snaps if s["hostname"] == host and f"policy={policy}" in s["tags"]]
        assert any(s["id"].startswith(r["data"]["snapshot"]) for s in mine), (policy, host)
    owners = sh(lab_env, "drc-backup", "stat -c '%U' /srv/restic/simpeg /srv/restic/simpeg/config")
    assert owners.split() == ["restic", "restic"]


def test_status_is_green_and_feeds_the_poller(ready: dict[str, Any]) -> None:
    cp = simpul(ready["state"], "backup", "status", "--json")
    doc = json.loads(cp.stdout)
    assert doc["exit_code"] == 0
    assert {(j["policy"], j["verdict"]) for j in doc["jobs"]} == {("simpeg-db", "ok"), ("simpeg-app", "ok")}
    for j in doc["jobs"]:
        assert j["age_s"] < 900 and j["dedup_ratio"] and j["last_check_ok"] is True
    gauge = json.loads((ready["state"] / "gauges" / "backup.json").read_text())
    from simpul.monitoring.gauges import document_lines

    lines = document_lines(gauge, time.time())
    assert len(lines) == 2 and all(ln.startswith("backup,") and "age_s=" in ln for ln in lines)


def test_status_exits_6_naming_the_policy_when_older_than_the_rpo(ready: dict[str, Any], lab_env: LabEnv,
                                                                   tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    shutil.copytree(LAB_INV, inv)
    f = inv / "servers.yaml"
    text = f.read_text().replace("    rpo: 15m\n", "    rpo: 20s\n", 1)
    text = text.replace("    every: 15m\n", "    every: 20s\n    schedule: \"* * * * *\"\n")
    f.write_text(text)
    # the deployed cron jobs (every 15 min) must not make a fresh backup while the RPO passes
    sources = ("pd-db", "drc-db", "pd-app")
    for h in sources:
        sh(lab_env, h, "kill $(cat /run/crond.pid) 2>/dev/null; rm -f /run/crond.pid; true")
    try:
        newest = max(s["time"] for s in drc_status(ready)["snapshots"])
        from simpul.drc.retention import parse_time

        age = time.time() - parse_time(newest).timestamp()
        if age < 22:
            time.sleep(22 - age)  # let the (short) RPO pass without a backup
        cp = simpul(ready["state"], "backup", "status", inv=inv, ok=(6,))
        assert "simpeg-db@pd-db,drc-db:" in cp.stderr and "simpeg-app@pd-app:" in cp.stderr, cp.stderr
        assert "older than the target 20s (service simpeg rpo)" in cp.stderr
    finally:
        for h in sources:
            sh(lab_env, h, "/etc/init.d/cron start >/dev/null")


def scratch_listing(lab: LabEnv) -> tuple[list[str], list[str]]:
    dirs = sh(lab, "drc-backup", "ls -1 /var/lib/simpul-backup/scratch 2>/dev/null; true").split()
    procs = [ln for ln in sh(lab, "drc-backup", "ps -eo args").splitlines() if "/scratch/" in ln]
    return dirs, procs


def test_an_interrupted_drill_is_cleaned_up_by_the_next(ready: dict[str, Any], lab_env: LabEnv) -> None:
    env = {**os.environ, "SIMPUL_STATE_DIR": str(ready["state"])}
    p = subprocess.Popen([SIMPUL, "-i", str(LAB_INV), "drill", "restore", "--service", "simpeg",
                          "--execute"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until a scratch database runs
            dirs, procs = scratch_listing(lab_env)
            if dirs and procs:
                break
            assert p.poll() is None, "the drill ended before it could be interrupted"
            time.sleep(0.3)
        else:
            pytest.fail("the drill never started a scratch database")
    finally:
        p.send_signal(signal.SIGKILL)  # as if the NOC machine lost power
        p.wait()
    dirs, _ = scratch_listing(lab_env)
    assert len(dirs) == 1
    ready["interrupted"] = dirs[0]


def test_restore_drill_passes_with_rto_and_rpo_and_leaves_no_scratch(ready: dict[str, Any],
                                                                       lab_env: LabEnv) -> None:
    cp = simpul(ready["state"], "drill", "restore", "--service", "simpeg", "--execute", "--json",
                timeout=1800)
    d = json.loads(cp.stdout)
    assert d["result"] == "passed", d["findings"]
    assert [x["drill"] for x in d["leftovers_removed"]] == [ready["interrupted"]]
    assert 0 < d["rto_s"] < d["targets"]["rto_s"] and 0 <= d["rpo_s"] < d["targets"]["rpo_s"]
    assert d["checks"][0]["ok"] and d["checks"][0]["mode"] == "read-data"
    units = {u["unit"]: u for u in d["units"]}
    assert units["simpeg-app@pd-app"]["files_checked"] >= 400
    tables = [t["table"] for u in d["units"] for t in u["tables"]]
    assert "public.presensi" in tables and "absensi.presensi" in tables
    assert all(t["ok"] for u in d["units"] for t in u["tables"])
    assert all(s["ok"] for u in d["units"] for s in u["smoke"]) and len(
        [s for u in d["units"] for s in u["smoke"]]) == 2
    assert d["scratch_left"] is False
    assert scratch_listing(lab_env) == ([], [])
    html = Path(d["report_html"]).read_text()
    assert "LULUS" in html and d["drill"] in html
    ready["report_html"] = d["report_html"]
    oplog = (ready["state"] / "oplog.jsonl").read_text().splitlines()
    rec = json.loads(oplog[-1])
    assert rec["action"] == "drill.restore" and rec["result"] == "passed"


def snapshot_of(ready: dict[str, Any], policy: str) -> str:
    snaps = [s for s in drc_status(ready)["snapshots"] if f"policy={policy}" in s["tags"]]
    return str(max(snaps, key=lambda s: s["time"])["short_id"])


def test_a_tampered_restore_target_fails_naming_the_table_and_the_file(ready: dict[str, Any],
                                                                          lab_env: LabEnv) -> None:
    inv = ready["inv"]
    plan = plan_drill(inv, "simpeg", ready["kh"])
    snaps = {u.policy: u.snapshot for u in plan.units}
    victim = "/srv/simpeg/uploads/2019/unit-01/sk-pangkat-00000.pdf"

    def tamper_table(u: Unit, db: dict[str, Any]) -> None:  # emptied after the record was written
        if db["engine"] == "postgres":
            sh(lab_env, "drc-backup", f"psql -h {db['socket']} -p {db['port']} -U postgres -d simpeg "
                                      "-c 'TRUNCATE presensi'")

    def remove_file(u: Unit, restored: str) -> None:
        if u.policy == "simpeg-app":
            sh(lab_env, "drc-backup", f"rm {restored}{victim}")

    rec = execute(inv, plan, ready["kh"], ready["state"],
                  hooks=DrillHooks(after_load=tamper_table, after_restore=remove_file))
    assert not rec.passed
    by_kind = {(f.kind, f.subject): f for f in rec.findings}
    table = by_kind[("table", "public.presensi")]
    assert table.detail.startswith("0 rows restored, ") and table.snapshot == snaps["simpeg-db"]
    missing = by_kind[("file", victim)]
    assert "missing" in missing.detail and missing.snapshot == snaps["simpeg-app"]
    assert {k for k, _ in by_kind} == {"table", "file"}, rec.findings  # nothing else failed
    assert scratch_listing(lab_env) == ([], [])


def test_a_damaged_pack_fails_naming_pack_and_file(ready: dict[str, Any], lab_env: LabEnv) -> None:
    pack = sh(lab_env, "drc-backup", "find /srv/restic/simpeg/data -type f -printf '%s %p\\n' | "
                                     "sort -n | tail -1 | cut -d' ' -f2").strip()
    pack_id = pack.rsplit("/", 1)[1]
    flip = ("import sys; p=sys.argv[1]; f=open(p,'r+b'); f.seek(4096); b=f.read(16); f.seek(4096); "
            "f.write(bytes(x ^ 0xFF for x in b)); f.close()")
    sh(lab_env, "drc-backup", f"python3 -c \"{flip}\" {pack}")
    try:
        cp = simpul(ready["state"], "drill", "restore", "--service", "simpeg", "--execute", "--json",
                    ok=(1,), timeout=1800)
        d = json.loads(cp.stdout)
        assert d["result"] == "failed"
        packs = [f for f in d["findings"] if f["kind"] == "pack"]
        assert [f["subject"] for f in packs] == [pack_id]
        used_by = {x["path"] for p in d["checks"][0]["damaged_packs"] for x in p["files"]}
        assert used_by, "restic find --pack named no file"
        named = {f["subject"] for f in d["findings"] if f["kind"] in ("file", "dump", "restore")}
        assert named & used_by, (named, used_by)
        html = Path(d["report_html"]).read_text()
        assert "GAGAL" in html and pack_id in html
        assert scratch_listing(lab_env) == ([], [])
    finally:
        sh(lab_env, "drc-backup", f"python3 -c \"{flip}\" {pack}")  # flip back: undamaged again
    chk = simpul(ready["state"], "backup", "check", "--mode", "read-data", "--json")
    assert json.loads(chk.stdout)[0]["status"] == "ok"


PROBE = r'''
import base64, json, ssl, sys, urllib.request, urllib.error
conf = json.load(open("/etc/simpul/backup/simpeg-db.json"))
url = open(conf["repository_file"]).read().strip()[len("rest:"):]
scheme, rest = url.split("://", 1)
cred, hostpath = rest.split("@", 1)
base = f"{scheme}://{hostpath}".rstrip("/")
root = base.rsplit("/", 1)[0]
auth = "Basic " + base64.b64encode(cred.encode()).decode()
ctx = ssl.create_default_context(cafile=conf["cacert"])
def req(method, url, data=None):
    r = urllib.request.Request(url, method=method, data=data, headers={
        "Authorization": auth, "Accept": "application/vnd.x.restic.rest.v2"})  # as restic asks
    try:
        with urllib.request.urlopen(r, context=ctx, timeout=20) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
snap = sys.argv[1]
code, body = req("GET", base + "/snapshots/")
names = [x["name"] for x in json.loads(body)] if code == 200 else []
pack = sys.argv[2]
out = {"list": code, "listed": snap in names,
       "delete_snapshot": req("DELETE", f"{base}/snapshots/{snap}")[0],
       "overwrite_snapshot": req("POST", f"{base}/snapshots/{snap}", b"ransom")[0],
       "delete_pack": req("DELETE", f"{base}/data/{pack}")[0],
       "overwrite_config": req("POST", f"{base}/config", b"ransom")[0],
       "delete_key": req("DELETE", f"{base}/keys/{sys.argv[3]}")[0],
       "other_repository": req("GET", root + "/otherrepo/config")[0]}
print(json.dumps(out))
'''


def test_the_pusat_data_cannot_delete_or_overwrite_a_snapshot(ready: dict[str, Any],
                                                              lab_env: LabEnv) -> None:
    st = drc_status(ready)
    snap = next(s["id"] for s in st["snapshots"] if "policy=simpeg-db" in s["tags"])
    pack = sh(lab_env, "drc-backup", "find /srv/restic/simpeg/data -type f | head -1").strip()
    key = sh(lab_env, "drc-backup", "ls /srv/restic/simpeg/keys | head -1").strip()
    files = f"/srv/restic/simpeg/snapshots/{snap} {pack} /srv/restic/simpeg/keys/{key} /srv/restic/simpeg/config"
    before = sh(lab_env, "drc-backup", f"sha256sum {files}")
    cp = subprocess.run(["ssh", "-F", str(lab_env.st.ssh_config), "-o", "BatchMode=yes", "pd-db",
                         f"sudo -n python3 - {snap} {pack.rsplit('/', 1)[1]} {key}"],
                        input=PROBE, capture_output=True, text=True, timeout=60, check=False)
    assert cp.returncode == 0, cp.stderr
    r = json.loads(cp.stdout)
    assert r["list"] == 200 and r["listed"]  # the credentials work: they can read and add
    for k in ("delete_snapshot", "overwrite_snapshot", "delete_pack", "overwrite_config", "delete_key"):
        assert r[k] == 403, (k, r)
    assert r["other_repository"] in (401, 403)
    after = sh(lab_env, "drc-backup", f"sha256sum {files}")
    assert before == after


RET_POLICY = """
  uji-retensi:
    description: test only (tests/lab/test_backup_lab.py)
    sources:
      - {type: paths, paths: [/etc/hostname]}
    every: 1d
    retention: {last: 1, daily: 3, weekly: 2, monthly: 2}
    destination: drc-backup
    repository: /srv/restic/uji-retensi
    encryption_key: lab-restic-key
    verify: metadata
"""


def test_retention_at_the_drc_keeps_exactly_the_policy(ready: dict[str, Any], lab_env: LabEnv,
                                                        tmp_path: Path) -> None:
    inv_dir = tmp_path / "inv"
    shutil.copytree(LAB_INV, inv_dir)
    f = inv_dir / "servers.yaml"
    f.write_text(f.read_text().replace("    backup: [simpeg-db]\n", "    backup: [simpeg-db, uji-retensi]\n")
                 + RET_POLICY)
    try:
        simpul(ready["state"], "backup", "deploy", "--apply", "--limit", "drc-backup,pd-db", inv=inv_dir)
        # 14 snapshots on a fake clock, sent by pd-db through the append-only server
        times = ["2026-01-03 10:00", "2026-01-20 10:00", "2026-02-02 09:00", "2026-02-14 23:50",
                 "2026-02-25 08:00", "2026-03-01 07:00", "2026-03-01 19:00", "2026-03-02 06:00",
                 "2026-03-08 12:00", "2026-03-09 01:00", "2026-03-09 02:00", "2026-03-10 03:00",
                 "2026-03-10 04:00", "2026-03-10 05:00"]
        cmds = " && ".join(
            f"restic --repository-file /etc/simpul/backup/uji-retensi.repo --password-file "
            f"/etc/simpul/backup/uji-retensi.key --cacert /etc/simpul/backup/drc-backup.pem "
            f"--cache-dir /var/cache/simpul-backup backup -q --host pd-db --tag simpul "
            f"--tag policy=uji-retensi --time '{t}:00' /etc/hostname" for t in times)
        sh(lab_env, "pd-db", cmds, timeout=300)
        t = server_target(ready["inv"], "drc-backup", ready["kh"])
        before = [Snap.from_restic(s) for s in call(t, "drc-status", "uji-retensi")["snapshots"]]
        assert len(before) == len(times)
        dry = json.loads(simpul(ready["state"], "backup", "forget", "--policy", "uji-retensi",
                                "--json", inv=inv_dir, ok=(6,)).stdout)
        want = decide(before, RetentionRule(last=1, daily=3, weekly=2, monthly=2))
        assert sorted(s for g in dry[0]["data"]["groups"] for s in g["keep"]) == sorted(
            s.id for s in want.kept)
        assert len(call(t, "drc-status", "uji-retensi")["snapshots"]) == len(times)  # dry run
        simpul(ready["state"], "backup", "forget", "--policy", "uji-retensi", "--apply", inv=inv_dir)
        after = sorted(s["id"] for s in call(t, "drc-status", "uji-retensi")["snapshots"])
        assert after == sorted(s.id for s in want.kept) and 0 < len(after) < len(times)
    finally:
        simpul(ready["state"], "backup", "deploy", "--apply", "--limit", "drc-backup,pd-db", ok=(0, 5))
        sh(lab_env, "drc-backup", "rm -rf /srv/restic/uji-retensi")
    assert "uji-retensi" not in sh(lab_env, "pd-db", "ls /etc/simpul/backup")


def test_no_secret_in_arguments_logs_reports_or_oplog(ready: dict[str, Any], lab_env: LabEnv) -> None:
    key = lab_env.st.secret("restic-password")
    secrets = {"repository key": key, "REST password": bs.rest_password(key, "simpeg")}
    seen: list[str] = []
    stop = threading.Event()

    def sample() -> None:  # the host sees every lab server's processes (nested pid namespaces);
        # read /proc/<pid>/cmdline: the whole argument list (ps truncates when piped)
        while not stop.is_set():
            for d in Path("/proc").iterdir():
                if not d.name.isdigit():
                    continue
                try:
                    ln = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                if "restic" in ln or "simpul" in ln or "pg_dump" in ln or "mariadb" in ln:
                    seen.append(ln)
            time.sleep(0.02)

    th = threading.Thread(target=sample)
    th.start()
    try:
        simpul(ready["state"], "backup", "run", timeout=1800)
    finally:
        stop.set()
        th.join()
    assert any(" backup --json --quiet --host " in ln for ln in seen), "sampling never saw restic backup"
    assert any("pg_dump" in ln for ln in seen) and any("mariadb-dump" in ln for ln in seen)
    texts = {"ps": "\n".join(seen), "command output": "\n".join(OUTPUTS),
             "oplog": (ready["state"] / "oplog.jsonl").read_text()}
    for h in ("pd-db", "pd-app", "drc-backup"):
        texts[f"{h} logs"] = sh(lab_env, h, "cat /var/log/simpul-backup.log /var/lib/simpul-backup/*.last.json "
                                            "/var/log/simpul-backup/*.log 2>/dev/null; true")
    for report in (ready["state"] / "drills" / "restore").rglob("*"):
        if report.is_file():
            texts[str(report)] = report.read_text()
    for where, text in texts.items():
        for what, value in secrets.items():
            assert len(value) >= 16 and value not in text, f"{what} found in {where}"


def test_jobs_survive_a_server_restart(ready: dict[str, Any], lab_env: LabEnv) -> None:
    """The DRC's REST server and a source (MariaDB, cron) come back by themselves after a
    reboot. (The database pair is left alone: the takeover tests own its leadership.)"""
    from simpul.lab import orchestrate, servers

    for name in ("drc-backup", "pd-app"):
        servers.stop_server(name, lab_env.st.root)
    orchestrate.up(lab_env.inv, st=lab_env.st)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the init starts MariaDB and the REST server
        if lab_env.ssh("pd-app", "mariadb-admin ping").returncode == 0 and \
                "rclone" in lab_env.ssh("drc-backup", "ps -eo comm").stdout:
            break
        time.sleep(0.5)
    run = json.loads(simpul(ready["state"], "backup", "run", "--json").stdout)
    by = {(r["data"]["policy"], r["data"]["host"]): r["status"] for r in run}
    assert by[("simpeg-app", "pd-app")] == "changed"
    assert sorted(by[("simpeg-db", h)] for h in ("pd-db", "drc-db")) == ["changed", "skipped"], by
    for h in ("pd-app", "drc-backup"):
        assert "cron" in sh(lab_env, h, "ps -eo comm")
