"""``simpul net render|collect|diff|push|backup|drift`` (registered lazily by simpul.cli)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from simpul.context import AppContext, pass_app
from simpul.errors import ExitCode
from simpul.inventory import select
from simpul.output import print_json, table
from simpul.results import Result, Status, exit_code_for

log = logging.getLogger(__name__)

_limit = click.option("--limit", "-l", "limits", multiple=True,
                      help="Selector: router name, group, or key=value (site, role, platform, ...). "
                           "Repeat to AND.")
_json = click.option("--json", "json_", is_flag=True, help="Machine-readable results on stdout.")
_kh = click.option("--known-hosts", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                   help="known_hosts file pinning the routers' host keys (default: the lab's).")
_par = click.option("--parallel", default=20, show_default=True, type=click.IntRange(1, 200),
                    help="Routers at once.")


def _setup(app: AppContext, limits: tuple[str, ...], known_hosts: Path | None
           ) -> tuple[Any, list[str], Path]:
    from simpul.ssh import known_hosts_path

    inv = app.inventory()
    names = select(inv, limits, kind="device")
    return inv, names, known_hosts_path(app.settings.state_dir, known_hosts)


def _print(results: Sequence[Result], *, show_diff: bool) -> None:
    for r in results:
        click.echo(f"{r.target}: {r.status} — {r.message}" + (f" ({r.seconds:.1f} s)" if r.seconds else ""))
        if show_diff and r.diff:
            for line in r.diff.splitlines():
                click.echo(f"    {line}")


def _emit(app: AppContext, json_: bool, results: Sequence[Result], code: ExitCode,
          extra: dict[str, Any] | None = None, *, show_diff: bool = True) -> int:
    if app.want_json(json_):
        print_json({"exit_code": int(code), "routers": [r.to_dict() for r in results], **(extra or {})})
    else:
        _print(results, show_diff=show_diff)
    return int(code)


@click.group()
def net() -> None:
    """Jaringan Intra routers: render, diff, push with commit-confirm, back up, drift.

    Perbup Temanggung 83/2021 Pasal 20-21; Pergub Jambi 12/2022 Pasal 21(1)(b), 21(2);
    Pergub DKI 68/2022 Pasal 11; Pergub Kalteng 24/2022 Pasal 15.

    \b
    Examples:
      simpul net diff
      simpul net push --limit desa-kemloko --apply
      simpul net backup --notify mbox:/var/mail/noc
    """


@net.command()
@_limit
@click.option("-o", "--out", type=click.Path(path_type=Path, file_okay=False),
              help="Write the files to DIR/<router>/ instead of printing them.")
@pass_app
def render(app: AppContext, limits: tuple[str, ...], out: Path | None) -> int:
    """Render the intended config of routers from the inventory (no device is contacted).

    Secrets appear only as <secret:NAME>; they are resolved at push time.

    \b
    Example:
      simpul net render --limit desa-kemloko
      simpul -i inventory/contoh-kabupaten net render --limit platform=huawei -o /tmp/intended
    """
    from simpul.network.render import render as render_one

    inv = app.inventory()
    for name in select(inv, limits, kind="device"):
        r = render_one(inv, name)
        for fname, text in r.files.items():
            if out:
                p = out / name / fname
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(text)
            else:
                click.echo(f"### {name}/{fname}\n{text}")
        if out:
            click.echo(f"{name}: {', '.join(r.files)} written to {out / name}", err=True)
    return 0


@net.command()
@_limit
@_json
@_kh
@_par
@pass_app
def collect(app: AppContext, limits: tuple[str, ...], json_: bool, known_hosts: Path | None,
            parallel: int) -> int:
    """Collect router facts: version, interfaces and addresses, OSPF neighbours, routes, uptime.

    \b
    Example:
      simpul net collect --limit role=desa-edge --json
    """
    from simpul.network.collect import collect as collect_all

    inv, names, kh = _setup(app, limits, known_hosts)
    with app.progress_hook("net collect", len(names)) as bar:
        results = collect_all(inv, names, kh, parallel=parallel, hooks=[bar])
    code = exit_code_for(results)
    if app.want_json(json_):
        print_json({"exit_code": int(code), "routers": [r.to_dict() for r in results]})
    else:
        table(None, ["router", "status", "facts"], [[r.target, r.status, r.message] for r in results])
    return int(code)


@net.command()
@_limit
@_json
@_kh
@_par
@pass_app
def diff(app: AppContext, limits: tuple[str, ...], json_: bool, known_hosts: Path | None,
         parallel: int) -> int:
    """Intended vs running, as the exact commands a push would send ('no ...' lines included).

    Exit 0 when every router is in sync, 6 when any differs, 4/5 when routers cannot be reached.

    \b
    Example:
      simpul net diff --limit site=desa-kemloko
    """
    from simpul.network.push import plan

    inv, names, kh = _setup(app, limits, known_hosts)
    with app.progress_hook("net diff", len(names)) as bar:
        results = plan(inv, names, kh, parallel=parallel, hooks=[bar])
    return _emit(app, json_, results, exit_code_for(results, drift_is_failure=True))


@net.command()
@_limit
@click.option("--apply", "do_apply", is_flag=True, help="Really change the routers (otherwise: diff).")
@click.option("--revert-in", default=60, show_default=True, type=click.IntRange(5, 3600),
              help="Seconds before a router restores itself unless the push is confirmed.")
@click.option("--allow-unsaved", is_flag=True,
              help="Push even if a router has unsaved changes (they will be saved with the push).")
@_json
@_kh
@_par
@pass_app
def push(app: AppContext, limits: tuple[str, ...], do_apply: bool, revert_in: int, allow_unsaved: bool,
         json_: bool, known_hosts: Path | None, parallel: int) -> int:
    """Push the intended config with commit-confirm; a failing router never stops the others.

    Per router: pre-check (reachable, config saved, OSPF neighbours recorded, Pusat Data
    reachable), a way back on the device with a revert timer, only the diff applied, a
    post-check over a FRESH SSH login (management from the NOC, the OSPF neighbours back, the
    Pusat Data reachable), then confirm and save — or roll back (also when the pushing session
    is cut: the device's timer restores it). Every router's outcome goes to the operations log.
    Exit 0 ok, 5 when some routers failed, 4 when none was reachable.

    \b
    Examples:
      simpul net push --limit desa-kemloko            # shows the diff only
      simpul net push --limit desa-kemloko --apply
      simpul net push --apply --revert-in 120 --parallel 50
    """
    from simpul.network.intent import REFS
    from simpul.network.push import PushOptions, plan
    from simpul.network.push import push as push_all

    inv, names, kh = _setup(app, limits, known_hosts)
    if not do_apply:
        click.echo("net push: --apply not given; showing the diff only (nothing is changed)", err=True)
        with app.progress_hook("net diff", len(names)) as bar:
            results = plan(inv, names, kh, parallel=parallel, hooks=[bar])
        return _emit(app, json_, results, exit_code_for(results, drift_is_failure=True))
    opts = PushOptions(apply=True, revert_in=revert_in, allow_unsaved=allow_unsaved)
    rec = app.recorder("net.push", refs=REFS,
                       params=lambda r: {"lines": r.data.get("lines", 0),
                                         "checkpoint": r.data.get("checkpoint"),
                                         "commands": r.data.get("commands", [])[:200],
                                         "host": r.data.get("host", [])},
                       when=lambda r: r.status is not Status.OK or bool(r.data.get("lines")))
    with app.progress_hook("net push", len(names)) as bar:
        results = push_all(inv, names, kh, opts, parallel=parallel, hooks=[bar, rec])
    return _emit(app, json_, results, exit_code_for(results))


@net.command()
@_limit
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False),
              help="Git repository of the backups (default: <state_dir>/net-backup).")
@click.option("--notify", "notify_to", metavar="TARGET",
              help="Send a change notice: mbox:PATH, maildir:PATH or an http(s):// webhook.")
@_json
@_kh
@_par
@pass_app
def backup(app: AppContext, limits: tuple[str, ...], repo: Path | None, notify_to: str | None,
           json_: bool, known_hosts: Path | None, parallel: int) -> int:
    """Back up every router's running config into git: one file per router, one commit per run.

    Volatile lines are dropped and secrets replaced by a stable hash (a password change still
    shows as a change). With --notify, a notice with the diff goes to the NOC's mailbox/webhook.

    \b
    Examples:
      simpul net backup
      simpul net backup --repo /srv/simpul/net-backup --notify maildir:/var/mail/noc
    """
    from simpul.network.backup import GitRepo, notify
    from simpul.network.backup import backup as backup_all
    from simpul.network.intent import REFS

    inv, names, kh = _setup(app, limits, known_hosts)
    repo = repo or app.settings.state_dir / "net-backup"
    with app.progress_hook("net backup", len(names)) as bar:
        results, commit, changed = backup_all(inv, names, kh, repo, parallel=parallel, hooks=[bar])
    extra: dict[str, Any] = {"repo": str(repo), "commit": commit, "changed": changed}
    if commit:
        app.record("net.backup", str(repo), "changed", params={"commit": commit, "changed": changed},
                   refs=REFS)
        if notify_to:
            text = GitRepo(repo).git("show", "--stat", "--patch", "--format=%s%n%n%b", commit)
            extra["notified"] = notify(notify_to, f"[simpul] router config changed: {', '.join(changed)}",
                                       text)
    code = exit_code_for(results)
    if not app.want_json(json_):
        _print(results, show_diff=False)
        click.echo(f"backup: {repo}: " + (f"commit {commit[:12]} ({len(changed)} changed)" if commit
                                          else "no change since the last backup"))
    else:
        _emit(app, json_, results, code, extra)
    return int(code)


@net.command()
@_limit
@click.option("--notify", "notify_to", metavar="TARGET",
              help="Send a notice when drift is found: mbox:PATH, maildir:PATH or a webhook URL.")
@_json
@_kh
@_par
@pass_app
def drift(app: AppContext, limits: tuple[str, ...], notify_to: str | None, json_: bool,
          known_hosts: Path | None, parallel: int) -> int:
    """Drift per router: running vs intended, and running vs startup (unsaved changes).

    Exit 0 when nothing drifted, 6 on any drift, 4/5 when routers cannot be reached.

    \b
    Example:
      simpul net drift --limit role=desa-edge
    """
    from simpul.network.backup import drift as drift_all
    from simpul.network.backup import notify

    inv, names, kh = _setup(app, limits, known_hosts)
    with app.progress_hook("net drift", len(names)) as bar:
        results = drift_all(inv, names, kh, parallel=parallel, hooks=[bar])
    drifted = [r for r in results if r.status is Status.CHANGED]
    extra: dict[str, Any] = {}
    if drifted and notify_to:
        body = "\n\n".join(f"{r.target}: {r.message}\n{r.diff}" for r in drifted)
        extra["notified"] = notify(notify_to, f"[simpul] router drift: {', '.join(r.target for r in drifted)}",
                                   body)
    return _emit(app, json_, results, exit_code_for(results, drift_is_failure=True), extra)
