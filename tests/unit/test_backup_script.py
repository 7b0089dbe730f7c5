"""The server-side program deploys/files/simpul-backup: its pure parts, run locally.

Manifests of files (sha256, cache reuse, digest, verification of a restored tree), the
checksum SQL it sends to PostgreSQL/MariaDB, restic check parsing (fixtures captured from
restic 0.14 on a repository with 16 flipped bytes in one pack, and with an unreferenced pack),
exclude matching, and the redaction of secrets from what it logs.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import ClassVar

import pytest

REPO = Path(__file__).resolve().parents[2]
FIX = Path(__file__).parent / "fixtures" / "restic"


@pytest.fixture(scope="module")
def sb() -> ModuleType:
    path = REPO / "deploys" / "files" / "simpul-backup"
    loader = importlib.machinery.SourceFileLoader("simpul_backup_program", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = mod
    loader.exec_module(mod)
    return mod


def make_tree(root: Path) -> None:
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "one.pdf").write_bytes(b"x" * 5000)
    (root / "a" / "b" / "two.txt").write_text("dua")
    (root / "a" / "skip.tmp").write_text("temporary")
    (root / "a" / "link").symlink_to("one.pdf")


def test_walk_hash_and_cache(sb: ModuleType, tmp_path: Path) -> None:
    make_tree(tmp_path)
    root = str(tmp_path / "a")
    files = sb.walk_files([root], ["*.tmp"])
    assert [p[len(root):] for p, _ in files] == ["/b/two.txt", "/link", "/one.pdf"]
    cache: dict[str, list[object]] = {}
    entries = sb.file_entries(files, cache)
    by = {e["p"][len(root):]: e for e in entries}
    assert by["/one.pdf"]["h"] == hashlib.sha256(b"x" * 5000).hexdigest()
    assert by["/one.pdf"]["s"] == 5000
    assert by["/link"]["h"] == "link:one.pdf"
    # an unchanged file is not read again: poison the cache and see it reused
    p = root + "/one.pdf"
    cache[p][4] = "cached"
    again = {e["p"]: e for e in sb.file_entries(sb.walk_files([root], ["*.tmp"]), cache)}
    assert again[p]["h"] == "cached"
    # a changed file (new mtime/size) is hashed again
    Path(p).write_bytes(b"y" * 10)
    fresh = {e["p"]: e for e in sb.file_entries(sb.walk_files([root], ["*.tmp"]), cache)}
    assert fresh[p]["h"] == hashlib.sha256(b"y" * 10).hexdigest()


def test_tree_digest_is_order_independent_and_content_sensitive(sb: ModuleType) -> None:
    a = [{"p": "/x", "s": 1, "h": "aa"}, {"p": "/y", "s": 2, "h": "bb"}]
    assert sb.tree_digest(a) == sb.tree_digest(list(reversed(a)))
    b = [{"p": "/x", "s": 1, "h": "aa"}, {"p": "/y", "s": 2, "h": "bc"}]
    assert sb.tree_digest(a) != sb.tree_digest(b)


def test_verify_tree_names_missing_changed_and_extra_files(sb: ModuleType, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    root = str(src / "a")
    entries = sb.file_entries(sb.walk_files([root], ["*.tmp"]), {})
    restored = tmp_path / "restore"
    target = Path(str(restored) + root)
    target.parent.mkdir(parents=True)
    os.system(f"cp -a {root} {target}")
    clean = sb.verify_tree(entries, str(restored), [root], ["*.tmp"])
    assert clean["missing"] == [] and clean["changed"] == [] and clean["checked"] == 3
    (target / "b" / "two.txt").unlink()
    with open(target / "one.pdf", "r+b") as f:  # same size, 16 bytes flipped
        f.seek(100)
        f.write(bytes(16))
    (target / "new.txt").write_text("baru")
    v = sb.verify_tree(entries, str(restored), [root], ["*.tmp"])
    assert v["missing"] == [root + "/b/two.txt"]
    assert [c["path"] for c in v["changed"]] == [root + "/one.pdf"]
    assert "want_sha256" in v["changed"][0]
    assert root + "/new.txt" in v["extra"]


@pytest.mark.parametrize(("path", "patterns", "hit"), [
    ("/srv/a/cache/x.pdf", ["cache"], True),
    ("/srv/a/x.tmp", ["*.tmp"], True),
    ("/srv/a/x.pdf", ["*.tmp"], False),
    ("/srv/a/tmp/x", ["/srv/a/tmp"], True),
    ("/srv/ab/x", ["/srv/a"], False),
    ("/srv/a/b/c", ["a/b"], True),
])
def test_excluded(sb: ModuleType, path: str, patterns: list[str], hit: bool) -> None:
    assert sb.excluded(path, patterns) is hit


def test_checksum_sql(sb: ModuleType) -> None:
    pg = sb.pg_table_sql("public", 'we"ird')
    assert 'FROM "public"."we""ird" t' in pg and "hash_record_extended(t, 0)" in pg and "count(*)" in pg
    assert "md5(t::text)" in sb.pg_table_sql("public", "x", "md5")
    count, checksum = sb.my_table_sql("absensi", "pre`sensi")
    assert count == "SELECT COUNT(*) FROM `absensi`.`pre``sensi`"
    assert checksum == "CHECKSUM TABLE `absensi`.`pre``sensi`"


def test_parse_check_damaged_pack(sb: ModuleType) -> None:
    res = sb.parse_check((FIX / "check-read-data-damaged.txt").read_text(), 1)
    assert res["ok"] is False
    assert [p["pack"] for p in res["damaged_packs"]] == [
        "733a6942818cb3075e7204fb059743c04a9dc8745fd5330cd901c91f0d83831f"]
    assert any("repository contains errors" in e for e in res["errors"])


def test_parse_check_unreferenced_pack_is_only_a_hint(sb: ModuleType) -> None:
    res = sb.parse_check((FIX / "check-read-data-unreferenced.txt").read_text(), 0)
    assert res["ok"] is True and res["damaged_packs"] == [] and res["errors"] == []
    assert len(res["hints"]) == 1


def test_parse_check_nonzero_exit_is_never_ok(sb: ModuleType) -> None:
    assert sb.parse_check("no errors were found\n", 1)["ok"] is False


def test_keep_args(sb: ModuleType) -> None:
    assert sb.keep_args({"last": 4, "hourly": 0, "daily": 7, "weekly": 4, "monthly": 12,
                         "yearly": 0, "within_hours": 48}) == [
        "--keep-last", "4", "--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "12",
        "--keep-within", "48h"]


def test_redactor(sb: ModuleType) -> None:
    r = sb.Redactor()
    r.add("s3cr3t-password-value", "abc")  # too short to redact safely: ignored
    assert r("Fatal: rest:https://simpeg:s3cr3t-password-value@10.0.0.1/ denied abc") == \
        "Fatal: rest:https://simpeg:***@10.0.0.1/ denied abc"


def test_secret_files_must_be_private(sb: ModuleType, tmp_path: Path) -> None:
    f = tmp_path / "key"
    f.write_text("kunci-rahasia\n")
    f.chmod(0o644)
    with pytest.raises(sb.Fail, match="too open"):
        sb.secret_text(f)
    f.chmod(0o600)
    assert sb.secret_text(f) == "kunci-rahasia"


def test_default_smoke_query_counts_the_largest_table(sb: ModuleType) -> None:
    tables = [{"name": "public.kecil", "rows": 5, "bytes": 8192},
              {"name": "public.presensi", "rows": 10, "bytes": 900000}]
    assert sb._default_smoke(tables, "postgres") == 'SELECT count(*) FROM "public"."presensi"'
    assert sb._default_smoke([{"name": "absensi.izin", "rows": 1, "bytes": 1}], "mariadb") == \
        "SELECT COUNT(*) FROM `absensi`.`izin`"


def test_a_recovering_postgresql_is_not_the_primary_but_other_errors_still_fail(sb: ModuleType) -> None:
    # the message as the lab's drc-db gave it while Patroni restarted it as a replica
    seen = ('postgres database simpeg (port 5432): connection to server on socket '
            '"/var/run/postgresql/.s.PGSQL.5432" failed: FATAL:  the database system is starting up')
    assert sb.pg_recovering(seen)
    assert sb.pg_recovering("FATAL:  the database system is not yet accepting connections\n"
                            "DETAIL:  Consistent recovery state has not been yet reached.")
    for other in ('FATAL:  database "simpeg" does not exist',
                  'FATAL:  password authentication failed for user "postgres"',
                  "FATAL:  the database system is shutting down",
                  "could not connect to server: Connection refused"):
        assert not sb.pg_recovering(other), other


def _fake_dumps(sb: ModuleType, monkeypatch: pytest.MonkeyPatch, behaviour: dict[str, object],
                log: list[str], together: int = 0) -> None:
    """Replace the real dumpers (they need PostgreSQL/MariaDB: tests/lab runs them) by
    functions that record when they ran and return or raise as told. ``together``: each waits
    until that many dumps are running at once (a barrier; it breaks if they run one by one)."""
    import threading
    import time

    barrier = threading.Barrier(together, timeout=20) if together else None

    def dump(src: dict[str, object], spool: Path) -> list[dict[str, object]]:
        name = str(src["database"])
        log.append(f"start {name} {threading.current_thread().name}")
        if barrier:
            barrier.wait()
        time.sleep(0.1)
        log.append(f"end {name}")
        what = behaviour[name]
        if isinstance(what, BaseException):
            raise what
        spool.mkdir(parents=True, exist_ok=True)
        f = spool / f"{name}.dump"
        f.write_bytes(f"{what} {src.get('port')}".encode())
        return [{"type": src["type"], "database": name, "file": str(f), "tables": []}]

    monkeypatch.setattr(sb, "dump_postgres", dump)
    monkeypatch.setattr(sb, "dump_mariadb", dump)


SRCS = [{"type": "postgres", "database": "pg"}, {"type": "mariadb", "database": "my"}]


def test_database_sources_run_side_by_side_in_policy_order(sb: ModuleType, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[str] = []
    _fake_dumps(sb, monkeypatch, {"pg": "pg-data", "my": "my-data"}, log, together=2)
    tree = tmp_path / "files"
    make_tree(tree)
    phases: dict[str, float] = {}
    sources, paths, exclude = sb.collect_sources(
        [*SRCS, {"type": "paths", "paths": [str(tree / "a")], "exclude": ["*.tmp"]}], tmp_path, {}, phases)
    assert [s.get("database", s["type"]) for s in sources] == ["pg", "my", "paths"]
    assert sources[0]["sha256"] == hashlib.sha256(b"pg-data None").hexdigest() and sources[0]["bytes"] == 12
    assert sources[2]["files"] == 3 and paths == [str(tree / "a")] and exclude == ["*.tmp"]
    # both dumps ran at the same time (else the barrier had broken), in two threads
    assert {e.split()[0] for e in log[:2]} == {"start"}, log
    assert log[0].split()[2] != log[1].split()[2]
    assert phases["dump"] >= 0.1 and "manifest" in phases


def test_a_failed_source_is_raised_only_after_every_dump_has_ended(sb: ModuleType, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[str] = []
    _fake_dumps(sb, monkeypatch, {"pg": sb.Fail("pg_dump simpeg: disk full"), "my": "ok"}, log)
    with pytest.raises(sb.Fail, match="disk full"):
        sb.collect_sources(SRCS, tmp_path, {}, {})
    assert sorted(e for e in log if e.startswith("end")) == ["end my", "end pg"]


def test_a_standby_anywhere_skips_the_run_even_beside_a_failure(sb: ModuleType, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[str] = []
    _fake_dumps(sb, monkeypatch, {"pg": sb.Fail("broken"), "my": sb.Standby("read-only replica")}, log)
    with pytest.raises(sb.Standby, match="replica"):
        sb.collect_sources(SRCS, tmp_path, {}, {})
    # a missing file set is reported as such, after the dumps have ended
    log.clear()
    _fake_dumps(sb, monkeypatch, {"pg": "x", "my": "y"}, log)
    with pytest.raises(sb.Fail, match="does not exist"):
        sb.collect_sources([*SRCS, {"type": "paths", "paths": [str(tmp_path / "nope")]}], tmp_path, {}, {})
    assert sorted(e for e in log if e.startswith("end")) == ["end my", "end pg"]


def test_two_sources_with_one_database_name_never_share_a_dump_file(sb: ModuleType, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Two PostgreSQL clusters (ports 5432 and 5433) may each hold a database called "pg": each
    source dumps into its own directory, so neither overwrites the other's dump."""
    log: list[str] = []
    _fake_dumps(sb, monkeypatch, {"pg": "data"}, log, together=2)
    srcs = [{"type": "postgres", "database": "pg", "port": 5432},
            {"type": "postgres", "database": "pg", "port": 5433}]
    sources, _, _ = sb.collect_sources(srcs, tmp_path, {}, {})
    assert len({s["file"] for s in sources}) == 2
    for s, port in zip(sources, (5432, 5433), strict=True):
        assert Path(s["file"]).read_bytes() == f"data {port}".encode()
        assert s["sha256"] == hashlib.sha256(f"data {port}".encode()).hexdigest()


class _FakeMy:
    """A recorded MariaDB conversation (the real one: tests/lab, where the drill's independent
    COUNT(*) of the restored copy must equal the backup-time count): two tables, an InnoDB one of
    3 rows and a MyISAM one of 2; ``Rows_read`` grows by the rows a statement reads."""

    ROWS: ClassVar[dict[str, int]] = {"t_inno": 3, "t_my": 2}

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.rows_read = 100

    def query(self, sql: str) -> list[list[str]]:
        self.sent.append(sql)
        if sql.startswith("SELECT TABLE_NAME"):
            return [["t_inno", "4096", "InnoDB"], ["t_my", "2048", "MyISAM"]]
        if sql.startswith("SHOW SESSION STATUS LIKE 'Rows_read'"):
            return [["Rows_read", str(self.rows_read)]]
        table = sql.rsplit("`", 2)[-2]
        if sql.startswith("CHECKSUM TABLE"):
            self.rows_read += self.ROWS[table] if table == "t_inno" else 0  # MyISAM: stored checksum
            return [[f"db.{table}", f"{len(table)}77"]]
        if sql.startswith("SELECT COUNT(*)"):
            self.rows_read += self.ROWS[table]
            return [[str(self.ROWS[table])]]
        raise AssertionError(sql)


def test_mariadb_backup_reads_each_innodb_table_once_and_the_drill_counts_independently(sb: ModuleType) -> None:
    s = _FakeMy()
    got = {t["name"]: t for t in sb.my_measure(s, "db")}
    assert got["db.t_inno"]["rows"] == 3 and got["db.t_inno"]["counted"] == "checksum-scan"
    assert got["db.t_my"]["rows"] == 2 and got["db.t_my"]["counted"] == "count"
    assert [q for q in s.sent if q.startswith("SELECT COUNT(*)")] == ["SELECT COUNT(*) FROM `db`.`t_my`"]
    assert got["db.t_inno"]["checksum"] == "677"
    # the restore drill: COUNT(*) of every table (an independent count of the restored copy)
    s = _FakeMy()
    drill = {t["name"]: t for t in sb.my_measure(s, "db", count="query")}
    assert {n: t["rows"] for n, t in drill.items()} == {"db.t_inno": 3, "db.t_my": 2}
    assert len([q for q in s.sent if q.startswith("SELECT COUNT(*)")]) == 2
    assert not [q for q in s.sent if "Rows_read" in q]
