"""``simpul harden plan|apply|audit|controls`` and ``simpul run`` (registered by simpul.cli)."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from simpul.context import AppContext, pass_app
from simpul.errors import ExitCode
from simpul.inventory import load_inventory, select
from simpul.oplog import OpLog
from simpul.output import print_json, table
from simpul.results import Status, exit_code_for

if TYPE_CHECKING:
    from simpul.deploys.runner import Mode

log = logging.getLogger(__name__)

_limit = click.option("--limit", "-l", "limits", multiple=True,
                      help="Selector: server name, group, or key=value (site, role, ...). Repeat to AND.")
_json = click.option("--json", "json_", is_flag=True, help="Machine-readable results on stdout.")
_kh = click.option("--known-hosts", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                   help="known_hosts file pinning the servers' host keys.")
_par = click.option("--parallel", default=10, show_default=True, help="Hosts at once.")


def _setup(app: AppContext, limits: tuple[str, ...], known_hosts: Path | None) -> tuple[Any, list[str], Path]:
    from simpul.deploys.connection import known_hosts_path

    inv = load_inventory(app.inventory_dir)
    names = select(inv, limits, kind="server")
    return inv, names, known_hosts_path(app.settings.state_dir, known_hosts)


@click.group()
def harden() -> None:
    """Plan, apply and audit server hardening (controls SSH-*, ACC-*, PAM-*, SYS-*, FW-*, ...).

    \b
    Examples:
      simpul harden plan --limit site=pusat-data
      simpul harden apply --limit pd-web --apply
      simpul harden audit --html audit.html --lang id
    """


def _print_runs(runs: list[Any], *, diffs: bool) -> None:
    for hr in runs:
        head = f"{hr.name}: {hr.status}"
        if hr.status in (Status.FAILED, Status.UNREACHABLE):
            pass
        elif hr.mode == "plan":
            head += f" — {len(hr.changes)} change(s) would be made" if hr.changes else " — no changes"
        else:
            head += f" — {hr.changed_ops} operation(s) changed" if hr.changed_ops else " — nothing to change"
        click.echo(f"{head} ({hr.seconds:.1f} s)" + ("  [namespace: kernel-global settings as configuration]"
                                                     if hr.confined else ""))
        if hr.message:
            click.echo(f"  reason: {hr.message}")
        for ch in hr.changes:
            click.echo(f"  ~ {ch['op']}")
            if diffs and ch["detail"]:
                for line in ch["detail"].splitlines()[:80]:
                    click.echo(f"      {line}")


def _plan_or_apply(app: AppContext, limits: tuple[str, ...], json_: bool, known_hosts: Path | None,
                   parallel: int, mode: Mode, guard_timeout: int = 90) -> int:
    from simpul.deploys.runner import Overrides, run_hosts

    inv, names, kh = _setup(app, limits, known_hosts)
    oplog = OpLog(app.settings.oplog) if mode == "apply" else None
    runs = run_hosts(inv, names, mode, kh, parallel=parallel, oplog=oplog,
                     overrides=Overrides(guard_timeout=guard_timeout))
    results = [hr.result() for hr in runs]
    code = exit_code_for(results, drift_is_failure=(mode == "plan"))
    if json_ or app.json:
        print_json({"mode": mode, "exit_code": int(code), "hosts": [r.to_dict() for r in results]})
    else:
        _print_runs(runs, diffs=True)
    return int(code)


@harden.command()
@_limit
@_json
@_kh
@_par
@pass_app
def plan(app: AppContext, limits: tuple[str, ...], json_: bool, known_hosts: Path | None,
         parallel: int) -> int:
    """Show what apply would change on each server (pyinfra dry run with diffs). Changes nothing.

    Exit 0 when nothing would change, 6 when something would (drift), 4/5 when hosts fail.

    \b
    Example:
      simpul harden plan --limit role=web
    """
    return _plan_or_apply(app, limits, json_, known_hosts, parallel, "plan")


@harden.command()
@_limit
@click.option("--apply", "do_apply", is_flag=True, help="Really change the servers (otherwise: plan).")
@_json
@_kh
@_par
@click.option("--guard-timeout", default=90, show_default=True, type=click.IntRange(20, 3600),
              help="Seconds before an unconfirmed sshd/PAM/sudo/firewall change reverts by itself.")
@pass_app
def apply(app: AppContext, limits: tuple[str, ...], do_apply: bool, json_: bool,
          known_hosts: Path | None, parallel: int, guard_timeout: int) -> int:
    """Harden the servers over SSH, in parallel, with the lock-out guard. Needs --apply.

    sshd, PAM, sudo and firewall changes are validated on the host first, then activated with a
    timed auto-revert that only a fresh SSH login (with sudo) can confirm. A failing host is
    reported with its reason; the others carry on (exit 5, or 4 if none was reachable). Every
    host's outcome is written to the operations log.

    \b
    Example:
      simpul harden apply --limit site=pusat-data --apply
    """
    if not do_apply:
        click.echo("harden apply: --apply not given; showing the plan only (nothing is changed)", err=True)
        return _plan_or_apply(app, limits, json_, known_hosts, parallel, "plan")
    return _plan_or_apply(app, limits, json_, known_hosts, parallel, "apply", guard_timeout)


@harden.command()
@_limit
@_json
@click.option("--html", "html", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write a self-contained HTML report (ID + EN) to this file.")
@click.option("--lang", type=click.Choice(["id", "en"]), default="id", show_default=True,
              help="Primary language of the report.")
@_kh
@_par
@pass_app
def audit(app: AppContext, limits: tuple[str, ...], json_: bool, html: Path | None, lang: str,
          known_hosts: Path | None, parallel: int) -> int:
    """Check every control from inside (testinfra) and outside (auth, crypto, open ports).

    Changes nothing. Per host and control: pass / fail / waived / not applicable, with the
    evidence. Exit 0 when everything applicable passes, 6 on any failing control, 4/5 when
    hosts cannot be audited.

    \b
    Examples:
      simpul harden audit --limit site=pusat-data
      simpul harden audit --html /srv/laporan/audit-2026-10.html --lang id
    """
    from simpul.deploys.audit import audit_hosts, report_data
    from simpul.deploys.report import render_html, render_text
    from simpul.results import Result

    inv, names, kh = _setup(app, limits, known_hosts)
    audits = audit_hosts(inv, names, kh, today=date.today(), parallel=parallel)
    data = report_data(inv, audits)
    if html:
        html.write_text(render_html(data, lang))
        click.echo(f"HTML report written to {html}", err=True)
    results = []
    for a in audits:
        if not a.reachable:
            results.append(Result(a.name, Status.UNREACHABLE, a.message))
        elif a.message:
            results.append(Result(a.name, Status.FAILED, a.message))
        else:
            results.append(Result(a.name, Status.CHANGED if a.count("fail") else Status.OK))
    code = exit_code_for(results, drift_is_failure=True)
    if json_ or app.json:
        print_json(data | {"exit_code": int(code)})
    else:
        table(None, ["host", "score", "pass", "fail", "waived", "n/a", "failing controls"],
              render_text(data, lang))
    return int(code)


@harden.command()
@_json
@click.option("--lang", type=click.Choice(["id", "en"]), default="en", show_default=True)
@pass_app
def controls(app: AppContext, json_: bool, lang: str) -> int:
    """List the controls catalog: ID, profile, title and references."""
    from simpul.deploys.catalog import CONTROLS

    if json_ or app.json:
        print_json([{"id": c.id, "family": c.family, "profile": c.profile, "scope": c.scope,
                     "title": {"id": c.title_id, "en": c.title_en}, "refs": list(c.refs),
                     "change": c.change, "note": c.note} for c in CONTROLS])
    else:
        table(None, ["id", "profile", "scope", "title", "references"],
              [[c.id, c.profile, c.scope, c.title(lang), "; ".join(c.refs)] for c in CONTROLS])
    return int(ExitCode.OK)


@click.command(context_settings={"ignore_unknown_options": True})
@_limit
@click.option("--apply", "do_apply", is_flag=True, help="Allow commands that may change state.")
@click.option("--sudo", is_flag=True, help="Run the command with sudo -n.")
@click.option("--timeout", default=120.0, show_default=True, help="Seconds per host.")
@_json
@_kh
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_app
def run(app: AppContext, limits: tuple[str, ...], do_apply: bool, sudo: bool, timeout: float,
        json_: bool, known_hosts: Path | None, command: tuple[str, ...]) -> int:
    """Run an ad-hoc command on servers (fabric), output grouped per host.

    Without --apply only read-only commands run (uptime, df, ss, ip addr, nft list, ...; no
    shell control characters). Every run is recorded in the operations log.

    \b
    Examples:
      simpul run --limit site=pusat-data -- uptime
      simpul run --limit pd-db --sudo -- nft list ruleset
      simpul run --limit role=web --apply --sudo -- apt-get -y install nginx
    """
    from simpul.deploys.adhoc import is_read_only, run_command
    from simpul.deploys.connection import target_for
    from simpul.errors import UsageError

    cmd = " ".join(command)
    if not do_apply:  # refuse before touching the inventory, secrets or the network
        ok, why = is_read_only(cmd)
        if not ok:
            raise UsageError(f"refusing to run without --apply: {why}",
                             hint="add --apply if the command is meant to change the servers")
    inv, names, kh = _setup(app, limits, known_hosts)
    targets = [target_for(inv, n, kh) for n in names]
    results = run_command(targets, cmd, apply=do_apply, sudo=sudo, timeout=timeout)
    oplog = OpLog(app.settings.oplog)
    for rr in results:
        oplog.append(action="run", target=rr.host,
                     result="unreachable" if rr.error else f"exit {rr.exit_code}",
                     params={"command": cmd, "apply": do_apply, "sudo": sudo})
    from simpul.results import Result

    res = [Result(r.host, Status.UNREACHABLE if r.error else Status.OK if r.exit_code == 0
                  else Status.FAILED, r.error) for r in results]
    code = exit_code_for(res)
    if json_ or app.json:
        print_json({"command": cmd, "exit_code": int(code), "hosts": [r.to_dict() for r in results]})
        return int(code)
    for r in results:
        status = r.error or f"exit {r.exit_code}"
        click.echo(f"===== {r.host} ({status}, {r.seconds:.1f} s) =====")
        if r.stdout:
            click.echo(r.stdout.rstrip("\n"))
        if r.stderr.strip():
            click.echo("--- stderr ---")
            click.echo(r.stderr.rstrip("\n"))
    return int(code)
