"""What a restore must reproduce, and what it did (pure).

At backup time the job on the source server writes ``MANIFEST.json`` into the snapshot itself:
for every file set the size and sha256 of each file (and one digest over the list), for every
database the dump's size and sha256 and, per table, the row count and a content checksum taken
in the same database snapshot as the dump (``deploys/files/simpul-backup``). A restore drill
measures the restored copy the same way; this module compares the two and turns every
difference into a :class:`Finding` that names the snapshot, the file, the table or the pack.

Example::

    findings = compare_tables(unit="simpeg-db@pd-db", snapshot="3b90caad",
                              want=manifest_db["tables"], got=measured["tables"])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

KINDS = ("pack", "restore", "manifest", "file", "dump", "database", "table", "smoke", "target",
         "cleanup", "step")


@dataclass(frozen=True)
class Finding:
    """One thing that failed verification, named precisely (snapshot, file, table, pack)."""

    kind: str  # see KINDS
    subject: str  # the pack ID, the file path, the table name, ...
    detail: str
    unit: str = ""  # policy@host
    snapshot: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        where = f" in snapshot {self.snapshot}" if self.snapshot else ""
        unit = f" [{self.unit}]" if self.unit else ""
        return f"{self.kind} {self.subject}{where}: {self.detail}{unit}"


def compare_tables(want: list[dict[str, Any]], got: list[dict[str, Any]], *, unit: str = "",
                   snapshot: str = "", database: str = "") -> list[Finding]:
    """Every table of the backup-time record against the restored database."""
    have = {t["name"]: t for t in got}
    out: list[Finding] = []
    for t in want:
        name = t["name"]
        g = have.get(name)
        if g is None:
            out.append(Finding("table", name, f"missing from the restored database {database}".strip(),
                               unit, snapshot))
            continue
        if int(g["rows"]) != int(t["rows"]):
            out.append(Finding("table", name, f"{g['rows']} rows restored, {t['rows']} recorded at "
                                              "backup time", unit, snapshot))
        elif str(g["checksum"]) != str(t["checksum"]):
            out.append(Finding("table", name, f"content checksum {g['checksum']} differs from the "
                                              f"backup-time {t['checksum']} ({t['rows']} rows)",
                               unit, snapshot))
    known = {t["name"] for t in want}
    for name in sorted(set(have) - known):
        out.append(Finding("table", name, "in the restored database but not in the backup-time "
                                          "record", unit, snapshot))
    return out


def file_findings(res: dict[str, Any], *, unit: str, snapshot: str) -> list[Finding]:
    """Findings from one source's result of ``simpul-backup drill-verify-files``."""
    out: list[Finding] = []
    if res["type"] == "paths":
        for p in res.get("missing", []):
            out.append(Finding("file", p, "missing after restore (recorded in the manifest)",
                               unit, snapshot))
        for c in res.get("changed", []):
            if "want_sha256" in c:
                d = f"sha256 {c['got_sha256'][:16]}… differs from the manifest's {c['want_sha256'][:16]}…"
            elif "want_bytes" in c:
                d = f"{c['got_bytes']} bytes restored, {c['want_bytes']} recorded"
            else:
                d = f"restored as {c.get('got')}, recorded as {c.get('want')}"
            out.append(Finding("file", c["path"], d, unit, snapshot))
    else:
        got = res.get("got") or {}
        if got.get("missing"):
            out.append(Finding("dump", res["file"], f"{res['type']} dump of {res['database']} "
                                                    "missing after restore", unit, snapshot))
        elif got.get("sha256") != res.get("want_sha256"):
            out.append(Finding("dump", res["file"],
                               f"{res['type']} dump of {res['database']}: sha256 differs from the "
                               f"manifest ({got.get('bytes')} bytes restored, {res.get('want_bytes')} "
                               "recorded)", unit, snapshot))
    return out


def restore_findings(res: dict[str, Any], *, unit: str, snapshot: str, per_file: int = 10
                     ) -> list[Finding]:
    """restic restore's own errors (e.g. ``ciphertext verification failed``) per file; when
    many files fail for the same reason, one finding names the reason, the count and examples."""
    groups: dict[str, list[str]] = {}
    for e in res.get("errors", []):
        if not _metadata_only(e["error"]):
            groups.setdefault(e["error"], []).append(e["path"])
    out: list[Finding] = []
    for err, paths in groups.items():
        if len(paths) <= per_file:
            out += [Finding("restore", p, f"restic restore: {err}", unit, snapshot) for p in paths]
        else:
            out.append(Finding("restore", f"{len(paths)} files", f"restic restore: {err} (e.g. "
                               f"{', '.join(paths[:3])})", unit, snapshot))
    if res.get("rc") and not res.get("errors"):
        out.append(Finding("restore", snapshot, f"restic restore failed (exit {res['rc']}): "
                                                f"{res.get('message') or 'no detail'}", unit, snapshot))
    return out


def _metadata_only(err: str) -> bool:
    """Ownership cannot be restored by the unprivileged repository user: not a data error."""
    e = err.lower()
    return "lchown" in e or ("chown" in e and "operation not permitted" in e)


def check_findings(check: dict[str, Any], repo: str) -> list[Finding]:
    """``restic check --read-data`` results: every damaged pack, with the files that use it."""
    out: list[Finding] = []
    for p in check.get("damaged_packs", []):
        files = p.get("files") or []
        uses = ", ".join(f"{f['path']} (snapshot {f['snapshot']})" for f in files[:10])
        more = f" and {len(files) - 10} more" if len(files) > 10 else ""
        out.append(Finding("pack", p["pack"], f"{p['error']} in repository {repo}"
                                              + (f"; used by {uses}{more}" if files else ""),
                           snapshot=",".join(sorted({f['snapshot'] for f in files}))))
    if not check.get("ok") and not check.get("damaged_packs"):
        for e in (check.get("errors") or ["restic check failed"])[:10]:
            out.append(Finding("pack", repo, f"repository check: {e}"))
    return out


def summarise(manifest: dict[str, Any]) -> dict[str, Any]:
    """Counts for the report: files, bytes, databases, tables, rows recorded at backup time."""
    files = nbytes = tables = rows = 0
    dbs = []
    for s in manifest.get("sources", []):
        if s["type"] == "paths":
            files += int(s.get("files", 0))
            nbytes += int(s.get("bytes", 0))
        else:
            dbs.append(f"{s['type']} {s['database']}")
            nbytes += int(s.get("bytes", 0))
            tables += len(s.get("tables", []))
            rows += sum(int(t["rows"]) for t in s.get("tables", []))
    return {"files": files, "bytes": nbytes, "databases": dbs, "tables": tables, "rows": rows}
