"""Backup and restore throughput of ~1 GB of lab data: Simpul beside bare restic, in one run.

Boots a private pair of lab servers (``sthard<k>-pd`` at the Pusat Data, ``sthard<k>-drc`` at
the DRC; simpul.lab.private — it does not need the shared lab), seeds the SIMPEG-like data set at
``--scale`` (5 ≈ 1 GB of dumps and files), deploys the backup jobs and measures:

- **Simpul backup**, first runs (``--first-runs``, 3: each into freshly initialised repositories,
  file-hash cache emptied) and runs on unchanged data (``--runs``, 10), interleaved with the bare
  job (dumps in a consistent snapshot + table checksums, file manifest, one restic snapshot to
  the DRC's append-only REST server over TLS);
- **bare restic** over the same REST path: the same dumps (``pg_dump -Fc -Z0``,
  ``mariadb-dump --single-transaction``) then ``restic backup``, as often;
- **bare restic over SFTP** to the DRC (the SSH path the issue names), twice;
- **raw ``ssh cat``** of the same bytes, the ceiling of the link and ciphers;
- **restore**: bare ``restic restore`` at the DRC, bare ``restic restore`` over SFTP, and a
  full Simpul restore drill (read-data check, restore, every file and table verified, smoke
  queries, scratch removed) — its RTO is "restore + full verification".

Targets (issue 13): Simpul's overhead over bare restic ≤ 10 % (judged on the medians: first runs,
and runs on unchanged data); restore + full verification of the lab data set ≤ 60 s. Page caches are warmed before the first measurement, so every tool reads
warm data. The machine is shared: numbers move with the load of other work.

    sudo .venv/bin/python benchmarks/bench_backup.py [--scale 5] [--runs 10] [--first-runs 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import time
from typing import Any

import yaml

from simpul.deploys.backup import deploy
from simpul.drc.drill import execute, plan_drill
from simpul.drc.remote import call
from simpul.inventory import load_inventory
from simpul.lab.private import PrivateLab, scratch_base
from simpul.lab.seed import seed_server
from simpul.ssh import run, server_target

MB = 1e6


def timed(fn, *a, **kw):  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    out = fn(*a, **kw)
    return time.monotonic() - t0, out


def write_inventory(lab: PrivateLab) -> None:
    d = lab.inventory_dir
    key = lab.base / "secrets" / "restic-key"
    key.write_text(os.urandom(24).hex() + "\n")
    key.chmod(0o600)
    org = yaml.safe_load((d / "organisation.yaml").read_text())
    org["secrets"]["bench-restic"] = {"file": str(key)}
    org["sites"]["drc"] = {"type": "drc", "name": "DRC Uji"}
    pd, drc = lab.n("pd"), lab.n("drc")
    svc = {"owner": "pusat-data", "servers": [pd], "availability_target": 99.9, "rto": "1h", "rpo": "1d"}
    org["services"] = {"simpeg": {"name": "SIMPEG (bench, ~1 GB)", **svc},
                       "simpeg-lab": {"name": "SIMPEG (the lab data set)", **svc}}
    common = {"every": "1d", "destination": drc, "encryption_key": "bench-restic", "verify": "read-data"}
    sources = [{"type": "postgres", "database": "simpeg"}, {"type": "mariadb", "database": "absensi"},
               {"type": "paths", "paths": ["/srv/simpeg/uploads"]}]
    org["backup_policies"] = {
        "labset": {"service": "simpeg-lab", "repository": "/srv/restic/labset", **common,
                   "sources": sources},
        "bench": {"service": "simpeg", "repository": "/srv/restic/bench", **common, "sources": sources},
        # a second repository behind the same append-only server, for bare restic
        "bare": {"repository": "/srv/restic/bare", **common,
                 "sources": [{"type": "paths", "paths": ["/srv/simpeg/uploads"]}]},
    }
    (d / "organisation.yaml").write_text(yaml.safe_dump(org, sort_keys=False))
    srv = yaml.safe_load((d / "servers.yaml").read_text())
    srv["servers"][drc]["site"] = "drc"
    srv["servers"][pd]["backup"] = ["labset", "bench", "bare"]
    (d / "servers.yaml").write_text(yaml.safe_dump(srv, sort_keys=False))


BARE_DUMPS = """set -e; rm -rf /var/tmp/bare; mkdir -p /var/tmp/bare/pg; chown postgres /var/tmp/bare/pg
runuser -u postgres -- pg_dump -Fc -Z0 -f /var/tmp/bare/pg/pg-simpeg.dump simpeg
mariadb-dump --single-transaction --routines --triggers --events --hex-blob --databases absensi > /var/tmp/bare/mariadb-absensi.sql
"""
REST = ("restic --repository-file /etc/simpul/backup/bare.repo --password-file /etc/simpul/backup/bare.key "
        "--cacert /etc/simpul/backup/{drc}.pem --cache-dir /var/cache/bench-bare")
SFTP = ("restic -r sftp:simpul@{drc_ip}:/home/simpul/bench-sftp --password-file /etc/simpul/backup/bare.key "
        "--cache-dir /var/cache/bench-sftp -o sftp.command='ssh -i /root/.ssh/bench -o "
        "UserKnownHostsFile=/root/.ssh/bench_known_hosts -o StrictHostKeyChecking=yes simpul@{drc_ip} -s sftp'")


def _steps(d: dict[str, Any]) -> str:
    """Where a drill's time went (sum of step durations; the checks run beside the restores)."""
    steps: dict[str, float] = {}
    for st in d["timeline"]:
        key = "check" if st["step"].startswith("restic check") else st["step"].split(" ")[0]
        steps[key] = steps.get(key, 0.0) + st["seconds"]
    return (f"check --read-data {steps.get('check', 0):.1f} s, restore {steps.get('restore', 0):.1f} s, "
            f"load {steps.get('load', 0):.1f} s, verify {steps.get('verify', 0):.1f} s; "
            f"{sum(u['files_checked'] for u in d['units'])} files, "
            f"{sum(len(u['tables']) for u in d['units'])} tables")


REINIT = ("set -e; for r in bench bare; do rm -rf /srv/restic/$r; runuser -u restic -- env HOME=/tmp "
          "restic --no-cache -q -r /srv/restic/$r --password-file /etc/simpul/backup/drc/$r.key init; done")
EMPTY_CACHES = "rm -rf /var/cache/simpul-backup /var/cache/bench-bare /var/lib/simpul-backup/bench.hashes.json"


def sh(t: Any, cmd: str, timeout: float = 3600) -> tuple[float, str]:
    t0 = time.monotonic()
    rc, out, err = run(t, cmd, sudo=True, timeout=timeout)
    if rc != 0:
        raise SystemExit(f"{t.name}: {cmd[:80]}...: exit {rc}: {err[-600:]}")
    return time.monotonic() - t0, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=5, help="data set size (5 ≈ 1 GB)")
    ap.add_argument("--runs", type=int, default=10, help="backups of unchanged data (each side)")
    ap.add_argument("--first-runs", type=int, default=3, help="first backups into empty repositories")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows: list[tuple[str, str, float, float, str]] = []  # what, run, seconds, MB, note

    with scratch_base("simpul-bench-backup-") as base, \
            PrivateLab(base, ["pd", "drc"],
                       services={"pd": ["ssh", "snmp"], "drc": ["ssh", "snmp", "restic-rest"]}) as lab:
        write_inventory(lab)
        inv = load_inventory(lab.inventory_dir)
        kh = lab.known_hosts
        pd, drc = lab.n("pd"), lab.n("drc")
        tp, td = server_target(inv, pd, kh), server_target(inv, drc, kh)
        kinds = ["postgres", "mariadb", "files"]
        s, r = timed(seed_server, inv, pd, kh, scale=1, kinds=kinds)
        print(f"lab data set seeded in {s:.0f} s")
        bad = [x for x in deploy(inv, kh, "apply") if x.failed]
        if bad:
            raise SystemExit(f"deploy failed: {[(x.target, x.message) for x in bad]}")
        # restore + full verification of the lab data set (scale 1, what `simpul lab seed` makes)
        s, doc = timed(call, tp, "run", "labset", timeout=7200)
        lab_bytes = doc["bytes"]
        lab_drill = execute(inv, plan_drill(inv, "simpeg-lab", kh), kh, lab.base / "state").to_dict()
        rows.append(("Simpul backup of the lab data set", "first", s, lab_bytes / MB, ""))
        rows.append(("Simpul restore drill of the lab data set (RTO)", lab_drill["result"],
                     lab_drill["rto_s"] or 0.0, lab_bytes / MB, _steps(lab_drill)))
        s, r = timed(seed_server, inv, pd, kh, scale=args.scale, kinds=kinds)
        print(f"scale {args.scale} seeded in {s:.0f} s: {r.message}")
        # warm the page cache for every tool alike
        sh(tp, "tar cf - /srv/simpeg/uploads /var/lib/postgresql /var/lib/mysql > /dev/null 2>&1; true")
        sh(tp, BARE_DUMPS)

        # --- backups: Simpul and bare restic over the same REST path, interleaved --------------
        pairs: dict[str, list[tuple[float, dict[str, Any], float, float]]] = {"first": [], "unchanged": []}
        total_bytes = 0
        for kind, n_runs in (("first", args.first_runs), ("unchanged", args.runs)):
            for i in range(n_runs):
                if kind == "first":  # empty repositories and caches: a first backup, each time
                    sh(td, REINIT)
                    sh(tp, EMPTY_CACHES)
                s, doc = timed(call, tp, "run", "bench", timeout=7200)
                if doc.get("status") != "ok":
                    raise SystemExit(f"simpul backup failed: {doc.get('message')}")
                total_bytes = doc["bytes"]
                ph = doc["phases"]
                sd, _ = sh(tp, BARE_DUMPS)
                sr, out = sh(tp, REST.format(drc=drc) + " backup --json -q /var/tmp/bare /srv/simpeg/uploads")
                added = json.loads(out.strip().splitlines()[-1]).get("data_added", 0)
                pairs[kind].append((s, doc, sd, sr))
                n = f"{'first' if kind == 'first' else 'same'} {i + 1}"
                rows.append(("Simpul backup (REST, append-only)", n, s, doc["bytes"] / MB,
                             f"dump+record {ph['dump']} s, manifest {ph['manifest']} s (beside the dumps), "
                             f"restic {ph['restic']} s; {doc['restic']['data_added'] / MB:.0f} MB new"))
                rows.append(("bare pg_dump + mariadb-dump + restic (same REST path)", n, sd + sr,
                             total_bytes / MB, f"dumps {sd:.1f} s, restic {sr:.1f} s; {added / MB:.0f} MB new"))
            print(f"{kind} runs done", flush=True)

        # --- bare restic over SFTP, raw ssh ---------------------------------------------------
        drc_pub = next(ln.split(" ", 1)[1] for ln in kh.read_text().splitlines()
                       if ln.startswith(lab.server("drc").mgmt_ip + " ssh-ed25519"))
        sh(tp, f"umask 077; mkdir -p /root/.ssh; rm -f /root/.ssh/bench /root/.ssh/bench.pub; "
               f"ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/bench; "
               f"echo '{lab.server('drc').mgmt_ip} {drc_pub}' > /root/.ssh/bench_known_hosts")
        _, pub = sh(tp, "cat /root/.ssh/bench.pub")
        sh(td, f"echo '{pub.strip()}' >> ~simpul/.ssh/authorized_keys; rm -rf ~simpul/bench-sftp")
        sftp = SFTP.format(drc_ip=lab.server("drc").mgmt_ip)
        sh(tp, sftp + " init")
        for n in ("first", "second"):
            sd, _ = sh(tp, BARE_DUMPS)
            sr, out = sh(tp, sftp + " backup --json -q /var/tmp/bare /srv/simpeg/uploads")
            rows.append(("bare restic over SFTP", n, sr, total_bytes / MB, f"(+ dumps {sd:.1f} s)"))
        s, _ = sh(tp, f"tar cf - /var/tmp/bare /srv/simpeg/uploads 2>/dev/null | ssh -i /root/.ssh/bench "
                      f"-o UserKnownHostsFile=/root/.ssh/bench_known_hosts -o StrictHostKeyChecking=yes "
                      f"simpul@{lab.server('drc').mgmt_ip} 'cat > /dev/null'")
        rows.append(("raw ssh cat (tar | ssh cat)", "-", s, total_bytes / MB, "ceiling of the link + ciphers"))

        # --- restores -------------------------------------------------------------------------
        s, _ = sh(td, "rm -rf /var/tmp/rb && mkdir /var/tmp/rb && chown restic /var/tmp/rb && "
                      "runuser -u restic -- restic -r /srv/restic/bare --password-file "
                      "/etc/simpul/backup/drc/bare.key --no-cache restore latest --target /var/tmp/rb "
                      "&& rm -rf /var/tmp/rb")
        rows.append(("bare restic restore at the DRC (local repository)", "-", s, total_bytes / MB, ""))
        s, _ = sh(tp, f"rm -rf /var/tmp/rs && {sftp} restore latest --target /var/tmp/rs && rm -rf /var/tmp/rs")
        rows.append(("bare restic restore over SFTP", "-", s, total_bytes / MB, ""))
        d = execute(inv, plan_drill(inv, "simpeg", kh), kh, lab.base / "state").to_dict()
        rows.append(("Simpul restore drill: restore + full verification (RTO)", d["result"],
                     d["rto_s"] or 0.0, total_bytes / MB, _steps(d)))
        sh(td, "sed -i '/simpul-sthard\\|root@sthard/d' ~simpul/.ssh/authorized_keys; rm -rf ~simpul/bench-sftp")

    print(f"\nBackup and restore of {total_bytes / MB:.0f} MB of lab data (scale {args.scale}): "
          "PostgreSQL dump, MariaDB dump, uploaded files")
    print(f"{'what':60} {'run':7} {'seconds':>8} {'MB/s':>7}  note")
    for what, n, s, mb, note in rows:
        print(f"{what:60} {n:7} {s:8.1f} {mb / s if s else 0:7.1f}  {note}")
    verdict = True
    for kind, ps in pairs.items():
        simpul = [p[0] for p in ps]
        bare = [p[2] + p[3] for p in ps]
        over = statistics.median(simpul) / statistics.median(bare) - 1
        per_pair = sorted(p[0] / (p[2] + p[3]) - 1 for p in ps)
        restic = statistics.median(p[1]["phases"]["restic"] for p in ps) / statistics.median(p[3] for p in ps) - 1
        dumps = statistics.median(p[1]["phases"]["dump"] for p in ps) / statistics.median(p[2] for p in ps) - 1
        verdict = verdict and over <= 0.10
        print(f"{kind} runs ({len(ps)}): Simpul median {statistics.median(simpul):.2f} s "
              f"({min(simpul):.2f}-{max(simpul):.2f}), bare median {statistics.median(bare):.2f} s "
              f"({min(bare):.2f}-{max(bare):.2f}): overhead {over * 100:+.1f} % (per pair "
              f"{per_pair[0] * 100:+.1f} … {per_pair[-1] * 100:+.1f} %); restic phase alone {restic * 100:+.1f} %, "
              f"dumps + record {dumps * 100:+.1f} %")
    print(f"overhead over bare dumps + restic, medians (target ≤ 10 %): {'met' if verdict else 'MISSED'}")
    for what, dd in (("the lab data set", lab_drill), (f"{total_bytes / MB:.0f} MB", d)):
        rto = dd["rto_s"] or 0
        print(f"restore + full verification of {what}: {rto:.1f} s, drill {dd['result']} "
              f"(target ≤ 60 s: {'met' if rto <= 60 and dd['result'] == 'passed' else 'MISSED'})")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 CPUs, shared with other work)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
