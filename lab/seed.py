"""Real data for the lab's Pusat Data to protect (``simpul lab seed``).

Backups and restore drills need something worth restoring. This puts a SIMPEG-like data set
on the lab servers, generated on the servers themselves (deterministic, so every lab gets the
same rows and files):

- **pd-db**: PostgreSQL database ``simpeg`` on the local cluster, port 5432 (Debian's own
  ``15/main`` until a takeover deploy adopts it): ``unit_kerja``, ``pegawai``,
  ``riwayat_jabatan``, ``presensi`` — about 150 MB at scale 1;
- **pd-app**: MariaDB database ``absensi`` (``mesin``, ``presensi``, ``izin``; about 80 MB)
  and application files under ``/srv/simpeg/uploads`` (scanned documents; about 60 MB).

Idempotent and quick when already seeded: each data set carries a marker (a ``simpul_seed``
table, a ``.simpul-seed`` file) with its version and scale; a matching marker means "done"
(~1 s). A different scale or version is rebuilt. The data lives in the servers' overlays and
survives ``lab down``/``lab up``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simpul.errors import ConfigError, SimpulError
from simpul.inventory.models import Inventory
from simpul.results import Result, Status
from simpul.runner import Hook, run_each
from simpul.ssh import run, server_target

log = logging.getLogger(__name__)

VERSION = 1

PG_SQL = r"""
\set ON_ERROR_STOP on
DROP TABLE IF EXISTS presensi, riwayat_jabatan, pegawai, unit_kerja, simpul_seed CASCADE;
CREATE TABLE unit_kerja (
  id int PRIMARY KEY, kode text NOT NULL UNIQUE, nama text NOT NULL, opd text NOT NULL);
INSERT INTO unit_kerja
SELECT i, 'UK-' || lpad(i::text, 3, '0'),
       (ARRAY['Sekretariat','Bidang Mutasi','Bidang Pengembangan','Bidang Kesejahteraan',
              'Subbag Umum','Subbag Keuangan','Seksi Data','Seksi Layanan'])[1 + i % 8] || ' ' || i,
       (ARRAY['BKPSDM','Dinas Kesehatan','Dinas Pendidikan','Bappeda','DPUPR','Diskominfo',
              'Setda','Inspektorat','Dispermades','Satpol PP'])[1 + i % 10]
FROM generate_series(1, 40) i;
CREATE TABLE pegawai (
  id int PRIMARY KEY, nip char(18) NOT NULL UNIQUE, nama text NOT NULL, tgl_lahir date NOT NULL,
  jenis_kelamin char(1) NOT NULL, unit_id int NOT NULL REFERENCES unit_kerja,
  golongan text NOT NULL, jabatan text NOT NULL, aktif boolean NOT NULL, email text,
  alamat text, gaji_pokok numeric(12,2) NOT NULL, diperbarui timestamptz NOT NULL);
INSERT INTO pegawai
SELECT i,
       to_char(date '1965-01-01' + (i * 7919) % 12000, 'YYYYMMDD') || lpad(i::text, 10, '0'),
       (ARRAY['Agus','Budi','Citra','Dewi','Eko','Fitri','Gunawan','Hartini','Indra','Joko',
              'Kartika','Lestari','Mulyadi','Nur','Oktavia','Purwanto','Rina','Sri','Teguh',
              'Wahyu'])[1 + i % 20] || ' ' ||
       (ARRAY['Santoso','Rahmawati','Wibowo','Susanti','Prasetyo','Handayani','Nugroho',
              'Kusuma','Setiawan','Lestari','Hidayat','Wulandari'])[1 + (i / 20) % 12],
       date '1965-01-01' + (i * 7919) % 12000, CASE WHEN i % 2 = 0 THEN 'P' ELSE 'L' END,
       1 + i % 40, (ARRAY['II/a','II/b','II/c','III/a','III/b','III/c','III/d','IV/a','IV/b'])[1 + i % 9],
       (ARRAY['Pelaksana','Pengadministrasi','Analis','Pranata Komputer','Kepala Seksi',
              'Kepala Bidang','Perencana','Auditor'])[1 + (i * 7) % 8],
       i % 17 <> 0, 'pegawai' || i || '@lab.simpul.test',
       'Jl. ' || substr(md5(i::text), 1, 12) || ' No. ' || (i % 200),
       2500000 + (i * 37 % 3000000), timestamptz '2025-01-01 00:00:00+00' + (i || ' minutes')::interval
FROM generate_series(1, 20000 * :scale) i;
CREATE TABLE riwayat_jabatan (
  id bigint PRIMARY KEY, pegawai_id int NOT NULL REFERENCES pegawai, jabatan text NOT NULL,
  unit_id int NOT NULL, tmt date NOT NULL, sk_nomor text NOT NULL, keterangan text);
INSERT INTO riwayat_jabatan
SELECT i, 1 + i % (20000 * :scale), 'Jabatan ' || (i % 97), 1 + i % 40,
       date '1995-01-01' + (i % 10000), '800/' || i || '/BKPSDM/' || (1995 + i % 30),
       'Keputusan ' || md5(i::text)
FROM generate_series(1, 200000 * :scale) i;
CREATE TABLE presensi (
  id bigint PRIMARY KEY, pegawai_id int NOT NULL, tanggal date NOT NULL, jam_masuk time,
  jam_pulang time, lokasi text NOT NULL, catatan text);
INSERT INTO presensi
SELECT i, 1 + i % (20000 * :scale), date '2024-01-01' + (i / (20000 * :scale))::int,
       time '07:00' + ((i * 13) % 5400 || ' seconds')::interval,
       CASE WHEN i % 23 = 0 THEN NULL ELSE time '15:30' + ((i * 7) % 7200 || ' seconds')::interval END,
       'Mesin ' || (1 + i % 30), CASE WHEN i % 11 = 0 THEN 'Dinas luar ' || substr(md5(i::text), 1, 8) END
FROM generate_series(1, 1000000 * :scale) i;
CREATE INDEX presensi_pegawai_tanggal ON presensi (pegawai_id, tanggal);
CREATE INDEX riwayat_pegawai ON riwayat_jabatan (pegawai_id);
CREATE TABLE simpul_seed (version int NOT NULL, scale int NOT NULL, created timestamptz NOT NULL);
INSERT INTO simpul_seed VALUES (:version, :scale, now());
ANALYZE;
"""

MY_SQL = r"""
DROP DATABASE IF EXISTS absensi;
CREATE DATABASE absensi CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE absensi;
CREATE TABLE mesin (
  id INT PRIMARY KEY, lokasi VARCHAR(100) NOT NULL, ip VARCHAR(15) NOT NULL, dipasang DATE NOT NULL
) ENGINE=InnoDB;
INSERT INTO mesin SELECT seq, CONCAT('Kantor ', seq), CONCAT('10.199.16.', 100 + seq),
       DATE '2020-01-01' + INTERVAL seq * 11 DAY FROM seq_1_to_30;
CREATE TABLE presensi (
  id BIGINT PRIMARY KEY, nip CHAR(18) NOT NULL, mesin_id INT NOT NULL, tanggal DATE NOT NULL,
  waktu DATETIME NOT NULL, jenis ENUM('masuk','pulang') NOT NULL, sumber VARCHAR(20) NOT NULL,
  keterangan VARCHAR(200), KEY presensi_nip_tanggal (nip, tanggal)
) ENGINE=InnoDB;
INSERT INTO presensi
SELECT seq, CONCAT('19', LPAD(seq % 100000000, 8, '0'), LPAD(seq % 100000, 8, '0')),
       1 + seq % 30, DATE '2024-01-01' + INTERVAL (seq DIV {per_day}) DAY,
       TIMESTAMP '2024-01-01 07:00:00' + INTERVAL (seq DIV {per_day}) DAY + INTERVAL ((seq * 13) % 36000) SECOND,
       IF(seq % 2 = 0, 'masuk', 'pulang'), ELT(1 + seq % 3, 'sidik-jari', 'wajah', 'aplikasi'),
       IF(seq % 9 = 0, CONCAT('Terlambat ', MD5(seq)), NULL)
FROM seq_1_to_{rows};
CREATE TABLE izin (
  id INT PRIMARY KEY, nip CHAR(18) NOT NULL, mulai DATE NOT NULL, selesai DATE NOT NULL,
  jenis VARCHAR(30) NOT NULL, alasan TEXT
) ENGINE=InnoDB;
INSERT INTO izin SELECT seq, CONCAT('19', LPAD(seq * 7 % 100000000, 8, '0'), LPAD(seq % 100000, 8, '0')),
       DATE '2024-01-01' + INTERVAL (seq % 700) DAY, DATE '2024-01-03' + INTERVAL (seq % 700) DAY,
       ELT(1 + seq % 4, 'cuti tahunan', 'sakit', 'dinas luar', 'cuti besar'),
       CONCAT('Alasan ', MD5(seq), ' ', MD5(seq + 1)) FROM seq_1_to_{izin};
CREATE TABLE simpul_seed (version INT NOT NULL, scale INT NOT NULL, created DATETIME NOT NULL);
INSERT INTO simpul_seed VALUES ({version}, {scale}, NOW());
"""

# Runs on the server as root (python3 from stdin); prints one JSON line.
SERVER_SCRIPT = r'''
import json, os, random, subprocess, sys, time
KIND, VERSION, SCALE = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
HOME = len(sys.argv) < 5 or sys.argv[4] == "home"  # the data's home may start Debian's cluster
def sh(cmd, inp=None, user=None, check=True):
    full = (["runuser", "-u", user, "--"] if user else []) + cmd
    r = subprocess.run(full, input=inp, capture_output=True, text=True, cwd="/")
    if check and r.returncode != 0:
        raise SystemExit(json.dumps({"ok": False, "error": (r.stderr or r.stdout).strip()[-600:]}))
    return r
def out(**kw):
    print(json.dumps(kw)); sys.exit(0)
t0 = time.monotonic()
if KIND == "postgres":
    patroni = False
    for pid in os.listdir("/proc"):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        patroni = patroni or (pid.isdigit() and b"patroni" in cmd)
    if sh(["pg_isready", "-q", "-p", "5432"], check=False).returncode != 0:
        if not HOME and not patroni:
            out(ok=False, absent=True, error="no PostgreSQL runs here")
        if not patroni:  # Debian's own cluster (before a takeover deploy adopts it)
            sh(["pg_ctlcluster", "15", "main", "start"])
        # Patroni starts the database itself once its DCS has a quorum: wait for it
        for _ in range(1200 if patroni else 100):
            if sh(["pg_isready", "-q", "-p", "5432"], check=False).returncode == 0:
                break
            time.sleep(0.1)
        else:
            out(ok=False, error="PostgreSQL on port 5432 did not start"
                + (" (Patroni runs here: see 'simpul drc status')" if patroni else ""))
    if not patroni and HOME:
        sh(["update-rc.d", "postgresql", "enable"], check=False)
    r = sh(["psql", "-p", "5432", "-tAc",
            "SELECT version || ' ' || scale FROM simpul_seed", "simpeg"], user="postgres", check=False)
    if r.returncode == 0 and r.stdout.strip() == f"{VERSION} {SCALE}":
        out(ok=True, changed=False, seconds=round(time.monotonic() - t0, 2))
    rec = sh(["psql", "-p", "5432", "-tAc", "SELECT pg_is_in_recovery()", "postgres"], user="postgres")
    if rec.stdout.strip() == "t":
        out(ok=False, standby=True, error="the local PostgreSQL is a standby: seed on the primary")
    if sh(["psql", "-p", "5432", "-tAc", "SELECT 1 FROM pg_database WHERE datname='simpeg'", "postgres"],
          user="postgres").stdout.strip() != "1":
        sh(["createdb", "-p", "5432", "simpeg"], user="postgres")
    sh(["psql", "-p", "5432", "-q", "-v", f"scale={SCALE}", "-v", f"version={VERSION}", "-d", "simpeg"],
       inp=PG_SQL, user="postgres")
    size = sh(["psql", "-p", "5432", "-tAc", "SELECT pg_database_size('simpeg')", "postgres"], user="postgres").stdout.strip()
    out(ok=True, changed=True, bytes=int(size), seconds=round(time.monotonic() - t0, 2))
elif KIND == "mariadb":
    if sh(["mariadb-admin", "ping"], check=False).returncode != 0:
        sh(["/etc/init.d/mariadb", "start"])
    sh(["update-rc.d", "mariadb", "enable"], check=False)
    r = sh(["mariadb", "-N", "-B", "-e", "SELECT CONCAT(version, ' ', scale) FROM absensi.simpul_seed"], check=False)
    if r.returncode == 0 and r.stdout.strip() == f"{VERSION} {SCALE}":
        out(ok=True, changed=False, seconds=round(time.monotonic() - t0, 2))
    sh(["mariadb"], inp=MY_SQL)
    size = sh(["mariadb", "-N", "-B", "-e", "SELECT SUM(data_length + index_length) FROM information_schema.tables WHERE table_schema='absensi'"]).stdout.strip()
    out(ok=True, changed=True, bytes=int(float(size)), seconds=round(time.monotonic() - t0, 2))
elif KIND == "files":
    root = "/srv/simpeg/uploads"
    marker = os.path.join(root, ".simpul-seed")
    try:
        if open(marker).read().strip() == f"{VERSION} {SCALE}":
            out(ok=True, changed=False, seconds=round(time.monotonic() - t0, 2))
    except OSError:
        pass
    subprocess.run(["rm", "-rf", root], check=True)
    rnd = random.Random(20240601)
    total = n = 0
    for i in range(400 * SCALE):
        year = 2019 + i % 6
        unit = "unit-%02d" % (1 + i % 40)
        d = os.path.join(root, str(year), unit)
        os.makedirs(d, exist_ok=True)
        kind = ["sk-pangkat", "ijazah", "ktp", "kartu-pegawai", "sertifikat"][i % 5]
        size = rnd.randint(20_000, 280_000)
        p = os.path.join(d, "%s-%05d.pdf" % (kind, i))
        with open(p, "wb") as f:
            f.write(b"%PDF-1.4\n% Simpul lab: scanned document " + str(i).encode() + b"\n")
            f.write(rnd.randbytes(size))
        total += os.path.getsize(p); n += 1
    with open(os.path.join(root, "README.txt"), "w") as f:
        f.write("Dokumen kepegawaian hasil pindai (data lab Simpul, bukan data asli).\n")
    subprocess.run(["chown", "-R", "www-data:www-data", root], check=False)
    subprocess.run(["chmod", "-R", "u=rwX,g=rX,o=", root], check=False)
    with open(marker, "w") as f:
        f.write(f"{VERSION} {SCALE}\n")
    out(ok=True, changed=True, bytes=total, files=n, seconds=round(time.monotonic() - t0, 2))
'''


@dataclass(frozen=True)
class DataSet:
    """One piece of lab data: which server, which kind; ``alternates`` may hold it instead
    (the other member of a database cluster, when it is the primary)."""

    server: str
    kind: str  # postgres | mariadb | files
    what: str
    alternates: tuple[str, ...] = ()


DATASETS: tuple[DataSet, ...] = (
    # after a takeover deploy (Patroni) the primary may be drc-db: the data is seeded there and
    # replicates to pd-db
    DataSet("pd-db", "postgres", "PostgreSQL simpeg (port 5432)", ("drc-db",)),
    DataSet("pd-app", "mariadb", "MariaDB absensi"),
    DataSet("pd-app", "files", "files /srv/simpeg/uploads"),
)


def _script(kind: str, scale: int) -> str:
    per_day = 2000 * scale
    rows = 600000 * scale
    my = MY_SQL.format(per_day=per_day, rows=rows, izin=50000 * scale, version=VERSION, scale=scale)
    return (f"PG_SQL = {PG_SQL!r}\nMY_SQL = {my!r}\n" + SERVER_SCRIPT)


def seed_server(inv: Inventory, server: str, known_hosts: Path, *, scale: int = 1,
                kinds: Sequence[str] | None = None) -> Result:
    """Seed one server (sequentially): the lab's data sets for it, or the given ``kinds``
    (``postgres``, ``mariadb``, ``files``; for private labs and benchmarks). One Result."""
    t = server_target(inv, server, known_hosts)
    done = []
    changed = False
    sets = [d for d in DATASETS if d.server == server] if kinds is None else \
        [DataSet(server, k, next(d.what for d in DATASETS if d.kind == k)) for k in kinds]
    for ds in sets:
        where, res = server, _seed_one(t, ds.kind, scale, home=True)
        if res.get("standby"):  # the cluster's primary is elsewhere: seed it there
            for alt in (a for a in ds.alternates if a in inv.servers):
                r2 = _seed_one(server_target(inv, alt, known_hosts), ds.kind, scale, home=False)
                if r2.get("ok"):
                    where, res = alt, r2
                    break
        if not res.get("ok"):
            raise SimpulError(f"{server}: seeding {ds.what} failed: {res.get('error')}")
        changed = changed or bool(res.get("changed"))
        done.append({"data": ds.what, "changed": bool(res.get("changed")), "on": where,
                     "bytes": res.get("bytes"), "seconds": res.get("seconds")})
    msg = "; ".join(f"{d['data']}: {'seeded' if d['changed'] else 'already seeded'}"
                    + (f" on {d['on']} (the primary)" if d["on"] != server else "") for d in done)
    return Result(server, Status.CHANGED if changed else Status.OK, msg, {"datasets": done})


def _seed_one(t: Any, kind: str, scale: int, *, home: bool) -> dict[str, Any]:
    rc, out, err = run(t, f"python3 - {kind} {VERSION} {scale} {'home' if home else 'peer'}",
                       sudo=True, stdin=_script(kind, scale).encode(), timeout=1800)
    try:
        res: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SimpulError(f"{t.name}: seeding {kind} failed (exit {rc}): "
                          f"{(err or out).strip()[-300:]}") from None
    return res


def seed(inv: Inventory, known_hosts: Path, *, scale: int = 1,
         hooks: Sequence[Hook] = ()) -> list[Result]:
    """Seed the lab's Pusat Data servers in parallel (see the module docstring)."""
    if scale < 1 or scale > 20:
        raise ConfigError("scale must be between 1 and 20")
    servers = sorted({d.server for d in DATASETS})
    missing = [s for s in servers if s not in inv.servers]
    if missing:
        raise ConfigError(f"the inventory has no server {', '.join(missing)} (lab seed needs the lab inventory)")
    return run_each(servers, lambda s: seed_server(inv, s, known_hosts, scale=scale),
                    parallel=len(servers), hooks=hooks)
