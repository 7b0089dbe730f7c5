"""``simpul backup plan|deploy|run|status|check|forget``: backups to the DRC.

Thin: the deploy is :mod:`simpul.deploys.backup` (pyinfra), the work on the servers is done by
``simpul-backup`` there (:mod:`simpul.drc.remote`), verdicts are :mod:`simpul.drc.status`.
Perbup Temanggung 83/2021 Pasal 15; Pergub Jambi 12/2022 Pasal 24(4), 26(1)(e); Pergub Kalteng
24/2022 Pasal 11(2)(b), 14.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from simpul.context import AppContext, pass_app
from simpul.errors import ExitCode, UsageError
from simpul.output import print_json, table
from simpul.results import Result, Status, exit_code_for

log = logging.getLogger(__name__)

_json = click.option("--json", "json_", is_flag=True, help="Machine-readable results on stdout.")
_kh = click.option("--known-hosts", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                   help="known_hosts file pinning the servers' host keys.")
_policy = click.option("--policy", "-p", "policies", multiple=True,
                       help="Only this backup policy (repeatable).")
_limit = click.option("--limit", "-l", "limits", multiple=True,
                      help="Only these servers: a name, group or key=value selector (a comma means or; repeating ANDs).")


def _setup(app: AppContext, known_hosts: Path | None) -> tuple[Any, Path]:
    from simpul.ssh import known_hosts_path

    return app.inventory(), known_hosts_path(app.settings.state_dir, known_hosts)


def _check_policies(inv: Any, policies: tuple[str, ...]) -> list[str] | None:
    if not policies:
        return None
    bad = [p for p in policies if p not in inv.backup_policies]
    if bad:
        raise UsageError(f"unknown backup policy {', '.join(bad)} "
                         f"(policies: {', '.join(sorted(inv.backup_policies)) or 'none'})")
    return list(policies)


def _hosts(inv: Any, limits: tuple[str, ...]) -> list[str] | None:
    if not limits:
        return None
    from simpul.inventory import select

    return select(inv, limits, kind="server")


@click.group()
def backup() -> None:
    """Backups to the DRC: deploy the jobs, run them, watch their freshness, check and prune
    the repositories (Perbup Temanggung 83/2021 Pasal 15; Pergub Jambi 12/2022 Pasal 26(1)(e)).

    \b
    Examples:
      simpul backup plan
      simpul backup deploy --apply
      simpul backup run --policy simpeg-db
      simpul backup status            # exit 6 when a backup is older than its RPO
      simpul backup check             # restic check at the DRC (read-data per policy)
      simpul backup forget --apply    # retention, at the DRC only
      simpul drill restore --service simpeg --execute
    """


def _print_deploy(results: list[Result], *, diffs: bool) -> None:
    for r in results:
        role = r.data.get("role", "")
        click.echo(f"{r.target} ({role}): {r.status} — {r.message} ({r.seconds:.1f} s)")
        for ch in r.data.get("changes", []):
            click.echo(f"  ~ {ch['op']}")
            if diffs and ch["detail"]:
                for line in ch["detail"].splitlines()[:60]:
                    click.echo(f"      {line}")


def _deploy(app: AppContext, mode: str, limits: tuple[str, ...], json_: bool,
            known_hosts: Path | None, parallel: int) -> int:
    from simpul.deploys import backup_spec as bs
    from simpul.deploys.backup import deploy

    inv, kh = _setup(app, known_hosts)
    hosts = _hosts(inv, limits)
    hooks: list[Any] = []
    if mode == "apply":
        hooks.append(app.recorder("backup.deploy", refs=bs.REFS,
                                  params=lambda r: {"role": r.data.get("role"),
                                                    "changed_ops": r.data.get("changed_ops"),
                                                    "changes": [c["op"] for c in r.data.get("changes", [])]}))
    n = len(hosts) if hosts is not None else len({j.host for j in bs.jobs(inv)} | set(bs.destinations(inv)))
    with app.progress_hook(f"backup {mode}", n) as bar:
        results = deploy(inv, kh, "plan" if mode == "plan" else "apply", limit=hosts,
                         parallel=parallel, hooks=[bar, *hooks])
    code = exit_code_for(results, drift_is_failure=(mode == "plan"))
    if app.want_json(json_):
        print_json({"mode": mode, "exit_code": int(code), "hosts": [r.to_dict() for r in results]})
    else:
        _print_deploy(results, diffs=True)
    return int(code)


_par = click.option("--parallel", default=10, show_default=True, help="Servers at once.")


@backup.command()
@_limit
@_json
@_kh
@_par
@pass_app
def plan(app: AppContext, limits: tuple[str, ...], json_: bool, known_hosts: Path | None,
         parallel: int) -> int:
    """What 'deploy --apply' would change on the DRC and the source servers (changes nothing).

    Exit 0 when everything is in place, 6 when something would change, 4/5 when servers fail.
    Secret files are compared by checksum and never shown.

    \b
    Example:
      simpul backup plan --limit drc-backup
    """
    return _deploy(app, "plan", limits, json_, known_hosts, parallel)


@backup.command("deploy")
@_limit
@click.option("--apply", "do_apply", is_flag=True, help="Really change the servers (otherwise: plan).")
@_json
@_kh
@_par
@pass_app
def deploy_cmd(app: AppContext, limits: tuple[str, ...], do_apply: bool, json_: bool,
               known_hosts: Path | None, parallel: int) -> int:
    """Install the backup jobs: at the DRC the append-only REST server (rclone serve restic
    --append-only, TLS), the repositories and the retention/check cron jobs; on each source
    server simpul-backup, its configuration, the key and repository files (0600) and a cron line.

    Without --apply this is 'backup plan'. Every changed server is recorded in the operations log.

    \b
    Example:
      simpul backup deploy --apply
    """
    return _deploy(app, "apply" if do_apply else "plan", limits, json_, known_hosts, parallel)


@backup.command("run")
@_policy
@_limit
@_json
@_kh
@_par
@pass_app
def run_cmd(app: AppContext, policies: tuple[str, ...], limits: tuple[str, ...], json_: bool,
            known_hosts: Path | None, parallel: int) -> int:
    """Run backup jobs now (as cron would): dump, record the manifest, send one snapshot to
    the DRC. One line per policy and server; exit 5 if some failed.

    \b
    Example:
      simpul backup run --policy simpeg-db
    """
    from simpul.deploys import backup_spec as bs
    from simpul.drc.remote import call, target

    inv, kh = _setup(app, known_hosts)
    js = bs.jobs(inv, _check_policies(inv, policies), _hosts(inv, limits))
    if not js:
        raise UsageError("no backup job matches (see 'simpul inventory show backup')")

    def one(j: bs.Job) -> Result:
        doc = call(target(inv, j.host, kh), "run", j.policy, timeout=24 * 3600)
        st = {"ok": Status.CHANGED, "skipped": Status.SKIPPED}.get(doc.get("status", ""), Status.FAILED)
        if st is Status.CHANGED:
            msg = (f"snapshot {doc.get('snapshot')}: {doc.get('files')} files, {doc.get('tables')} "
                   f"tables, {_mb(doc.get('bytes'))} ({_mb((doc.get('restic') or {}).get('data_added'))} new)")
        else:
            msg = doc.get("message") or doc.get("status", "failed")
        data = {k: doc.get(k) for k in ("policy", "host", "status", "snapshot", "bytes", "files",
                                        "tables", "phases", "restic", "manifest_sha256", "seconds")}
        return Result(f"{j.policy}@{j.host}", st, msg, data)

    with app.progress_hook("backup run", len(js)) as bar:
        results = _run_each(js, one, parallel, [bar, app.recorder(
            "backup.run", refs=bs.REFS, params=lambda r: {
                "snapshot": r.data.get("snapshot"), "bytes": r.data.get("bytes"),
                "policy": r.data.get("policy")})])
    if app.want_json(json_):
        print_json([r.to_dict() for r in results])
    else:
        table("backup run", ["job", "status", "seconds", "result"],
              [[r.target, str(r.status), f"{r.seconds:.1f}", r.message] for r in results])
    return int(exit_code_for(results))


def _run_each(items: list[Any], fn: Any, parallel: int, hooks: list[Any]) -> list[Result]:
    from simpul.runner import run_each

    return run_each(items, fn, name=lambda j: f"{j.policy}@{j.host}", parallel=parallel, hooks=hooks)


def _mb(n: Any) -> str:
    if n is None:
        return "-"
    return f"{int(n) / 1e6:.1f} MB"


def collect_status(inv: Any, kh: Path, policies: list[str] | None) -> tuple[list[Any], datetime]:
    """Ask every repository once (in parallel) and judge every job (public: the demo and the
    tests use it)."""
    from simpul.deploys import backup_spec as bs
    from simpul.drc.remote import call, target
    from simpul.drc.status import judge
    from simpul.runner import run_each

    js = bs.job_groups(inv, policies)
    repos = sorted({(j.pol.destination, j.repository) for j in js})

    def ask(k: tuple[str, str]) -> Result:
        return Result(f"{k[0]}:{k[1]}", Status.OK, value=call(target(inv, k[0], kh), "drc-status",
                                                               k[1], timeout=600))

    answers = run_each(repos, ask, name=lambda k: f"{k[0]}:{k[1]}", parallel=10)
    docs = {(r.target.split(":")[0], r.target.split(":")[1]): r for r in answers}
    now = datetime.now(UTC)
    out = []
    for j in js:
        r = docs[(j.pol.destination, j.repository)]
        out.append(judge(inv, j.policy, j.hosts, r.value if r.ok else None, now,
                         error=r.message if not r.ok else None))
    return out, now


def write_gauges(state_dir: Path, statuses: list[Any], now: datetime) -> Path:
    """``<state_dir>/gauges/backup.json``: the file the poller turns into the ``backup``
    measurement (the contract is in docs/drc.md)."""
    from simpul.drc.status import gauge_document

    d = state_dir / "gauges"
    d.mkdir(parents=True, exist_ok=True)
    path = d / "backup.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(gauge_document(statuses, now), indent=1) + "\n")
    os.replace(tmp, path)
    return path


@backup.command()
@_policy
@_json
@_kh
@pass_app
def status(app: AppContext, policies: tuple[str, ...], json_: bool, known_hosts: Path | None) -> int:
    """Freshness and integrity of every backup job, judged at the DRC: newest snapshot age
    against the service's RPO, size, dedup ratio, last integrity check.

    Exit 0 when all are fresh and checked, 6 when any is older than its RPO, missing, never
    checked or failed its check, 4/5 when a DRC server cannot be asked. Also writes
    <state_dir>/gauges/backup.json for 'simpul poll' (measurement 'backup' in InfluxDB).

    \b
    Example:
      simpul backup status --json
    """
    from simpul.drc.status import fmt_age

    inv, kh = _setup(app, known_hosts)
    statuses, now = collect_status(inv, kh, _check_policies(inv, policies))
    gauge = write_gauges(app.settings.state_dir, statuses, now)
    bad = [s for s in statuses if not s.ok]
    if any(s.verdict == "unreachable" for s in statuses):
        code = ExitCode.UNREACHABLE if all(s.verdict == "unreachable" for s in statuses) else ExitCode.PARTIAL
    else:
        code = ExitCode.DRIFT if bad else ExitCode.OK
    if app.want_json(json_):
        print_json({"exit_code": int(code), "now": now.isoformat(timespec="seconds"),
                    "gauges": str(gauge), "jobs": [s.to_dict() for s in statuses]})
    else:
        table("backups at the DRC", ["policy", "server", "newest", "age", "target", "size",
                                     "dedup", "last check", "verdict"],
              [[s.policy, s.host, s.newest_id or "-", fmt_age(s.age), fmt_age(s.target),
                _mb(s.newest_bytes), f"{s.dedup_ratio:.1f}x" if s.dedup_ratio else "-",
                (f"{fmt_age(now - s.check_time)} ago " + ("ok" if s.check_ok else "FAILED"))
                if s.check_time else "never", s.verdict] for s in statuses])
        for s in bad:
            for why in s.reasons:
                click.echo(f"{s.policy}@{s.host}: {why}", err=True)
    return int(code)


@backup.command()
@_policy
@click.option("--mode", type=click.Choice(["metadata", "read-data", "read-data-subset"]),
              help="Override the policy's verify: mode.")
@_json
@_kh
@pass_app
def check(app: AppContext, policies: tuple[str, ...], mode: str | None, json_: bool,
          known_hosts: Path | None) -> int:
    """Check the repositories' integrity at the DRC now (restic check; read-data reads and
    authenticates every pack). Damaged packs are named with the files that use them.

    \b
    Example:
      simpul backup check --mode read-data
    """
    from simpul.deploys import backup_spec as bs
    from simpul.drc.remote import call, target
    from simpul.runner import run_each

    inv, kh = _setup(app, known_hosts)
    js = bs.jobs(inv, _check_policies(inv, policies))
    repos = sorted({(j.pol.destination, j.repository) for j in js})

    def one(k: tuple[str, str]) -> Result:
        args = ["drc-check", k[1]] + (["--mode", mode] if mode else [])
        doc = call(target(inv, k[0], kh), *args, timeout=48 * 3600)
        packs = doc.get("damaged_packs") or []
        if doc.get("ok"):
            msg = f"ok ({doc.get('mode')}{' ' + doc['subset'] if doc.get('subset') else ''}, {doc.get('seconds')} s)"
        else:
            msg = "; ".join([f"pack {p['pack'][:12]}…: {p['error']}; files: "
                             + ", ".join(f"{f['path']} ({f['snapshot']})" for f in p.get("files", [])[:5])
                             for p in packs] + (doc.get("errors") or [])[:3]) or "FAILED"
        return Result(f"{k[0]}:{k[1]}", Status.OK if doc.get("ok") else Status.FAILED, msg,
                      {k2: doc.get(k2) for k2 in ("mode", "subset", "seconds", "damaged_packs",
                                                   "errors", "hints", "time")})

    results = run_each(repos, one, name=lambda k: f"{k[0]}:{k[1]}", parallel=5,
                       hooks=[app.recorder("backup.check", refs=bs.REFS,
                                           params=lambda r: {"mode": r.data.get("mode"),
                                                             "damaged_packs": len(r.data.get("damaged_packs") or [])})])
    if app.want_json(json_):
        print_json([r.to_dict() for r in results])
    else:
        table("repository checks", ["repository", "status", "result"],
              [[r.target, str(r.status), r.message] for r in results])
    return int(exit_code_for(results))


@backup.command()
@_policy
@click.option("--apply", "do_apply", is_flag=True, help="Really forget and prune (otherwise: dry run).")
@_json
@_kh
@pass_app
def forget(app: AppContext, policies: tuple[str, ...], do_apply: bool, json_: bool,
           known_hosts: Path | None) -> int:
    """Apply the retention policies at the DRC (restic forget --group-by host + prune). The
    Pusat Data cannot do this: its credentials are append-only. Dry run unless --apply.

    \b
    Example:
      simpul backup forget                  # what would be removed, and why the rest is kept
      simpul backup forget --apply
    """
    from simpul.deploys import backup_spec as bs
    from simpul.drc.remote import call, target
    from simpul.runner import run_each

    inv, kh = _setup(app, known_hosts)
    chosen = _check_policies(inv, policies)
    js = bs.jobs(inv, chosen)
    units = sorted({(j.pol.destination, j.repository, j.policy) for j in js})

    def one(k: tuple[str, str, str]) -> Result:
        args = ["drc-forget", k[1], "--policy", k[2]] + ([] if do_apply else ["--dry-run"])
        doc = call(target(inv, k[0], kh), *args, timeout=48 * 3600)
        groups = (doc.get("policies") or {}).get(k[2], [])
        keep = sum(len(g["keep"]) for g in groups)
        remove = sum(len(g["remove"]) for g in groups)
        verb = "removed" if do_apply else "would remove"
        st = Status.CHANGED if remove else Status.OK
        return Result(f"{k[2]} ({k[0]}:{k[1]})", st, f"keep {keep}, {verb} {remove}"
                      + (" (pruned)" if doc.get("pruned") else ""),
                      {"groups": groups, "dry_run": not do_apply, "pruned": doc.get("pruned")})

    hooks = [app.recorder("backup.forget", refs=bs.REFS, params=lambda r: {
        "removed": sum(len(g["remove"]) for g in r.data.get("groups", [])),
        "kept": sum(len(g["keep"]) for g in r.data.get("groups", []))})] if do_apply else []
    results = run_each(units, one, name=lambda k: k[2], parallel=1, hooks=hooks)
    if app.want_json(json_):
        print_json([r.to_dict() for r in results])
    else:
        table("retention at the DRC" + ("" if do_apply else " (dry run)"),
              ["policy", "status", "result"], [[r.target, str(r.status), r.message] for r in results])
    return int(exit_code_for(results, drift_is_failure=not do_apply))
