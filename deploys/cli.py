"""``simpul harden plan|apply|audit|controls`` and ``simpul run`` (registered by simpul.cli)."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from simpul.context import AppContext, pass_app
from simpul.errors import ExitCode, UsageError
from simpul.inventory import select
from simpul.output import print_json, table
from simpul.results import Result, Status, exit_code_for

if TYPE_CHECKING:
    from simpul.deploys.runner import Mode

log = logging.getLogger(__name__)

_limit = click.option("--limit", "-l", "limits", multiple=True,
                      help="Selector: server name, group, or key=value (site, role, ...). Repeat to AND.")
_json = click.option("--json", "json_", is_flag=True, help="Machine-readable results on stdout.")
_kh = click.option("--known-hosts", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                   help="known_hosts file pinning the servers' host keys.")
# ad-hoc commands are change management (when --apply) and operational evidence either way
RUN_REFS = ["Pergub DKI 68/2022 Pasal 25 (manajemen perubahan)", "ISO/IEC 27001:2022 A.8.15, A.8.32"]
_par = click.option("--parallel", default=10, show_default=True, help="Hosts at once.")


def _setup(app: AppContext, limits: tuple[str, ...], known_hosts: Path | None) -> tuple[Any, list[str], Path]:
    from simpul.ssh import known_hosts_path

    inv = app.inventory()
    names = select(inv, limits, kind="server")
    return inv, names, known_hosts_path(app.settings.state_dir, known_hosts)


def _check_tz(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"'{value}' is not a known time zone (e.g. Asia/Jakarta, "
                                 "Asia/Makassar, Asia/Jayapura, UTC)") from None
    return value


@click.group()
def harden() -> None:
    """Plan, apply and audit server hardening (controls SSH-*, ACC-*, PAM-*, SYS-*, FW-*, ...).

    \b
    Examples:
      simpul harden plan --limit site=pusat-data
      simpul harden apply --limit pd-web --apply
      simpul harden audit --html audit.html --lang id
    """


def change_summary(changes: list[dict[str, Any]]) -> str:
    """``SSH-01 SSH-02 (2) FW-01; 1 supporting`` — the control IDs a host's changes touch, in
    order, with how many operations each (operation names end in ``| ID[, ID...]``; one that
    names no control, such as installing the lock-out guard, is *supporting*)."""
    import re

    counts: dict[str, int] = {}
    other = 0
    for ch in changes:
        ids = re.findall(r"\b[A-Z]+-\d+\b", ch["op"].rsplit("|", 1)[1]) if "|" in ch["op"] else []
        if not ids:
            other += 1
        for cid in ids:
            counts[cid] = counts.get(cid, 0) + 1
    out = " ".join(f"{c} ({n})" if n > 1 else c for c, n in counts.items())
    return f"{out}; {other} supporting" if other else out


def _print_runs(results: list[Result], mode: str, *, diffs: bool) -> None:
    """Per host one line (what would change, by control ID); with ``diffs`` every operation
    and its diff, pyinfra's ``--diff`` convention."""
    for r in results:
        head = f"{r.target}: {r.status}"
        changes = r.data.get("changes", [])
        if r.status in (Status.FAILED, Status.UNREACHABLE):
            pass
        elif mode == "plan":
            head += f" — {len(changes)} change(s) would be made" if changes else " — no changes"
        else:
            n = r.data.get("changed_ops", 0)
            head += f" — {n} operation(s) changed" if n else " — nothing to change"
        click.echo(f"{head} ({r.seconds:.1f} s)" + ("  [namespace: kernel-global settings as configuration]"
                                                   if r.data.get("confined") and diffs else ""))
        if r.message:
            click.echo(f"  reason: {r.message}")
        if changes and not diffs:
            click.echo(f"  controls: {change_summary(changes)}")
            continue
        for ch in changes:
            click.echo(f"  ~ {ch['op']}")
            if diffs and ch["detail"]:
                for line in ch["detail"].splitlines()[:80]:
                    click.echo(f"      {line}")


def _plan_or_apply(app: AppContext, limits: tuple[str, ...], json_: bool, known_hosts: Path | None,
                   parallel: int, mode: Mode, guard_timeout: int = 90, diff: bool = False) -> int:
    from simpul.deploys.runner import REFS, Overrides, controls_changed, run_hosts

    inv, names, kh = _setup(app, limits, known_hosts)
    with app.progress_hook(f"harden {mode}", len(names)) as bar:
        hooks: list[Any] = [bar]
        if mode == "apply":
            hooks.append(app.recorder(
                "harden.apply", refs=REFS,
                params=lambda r: {"changed_ops": r.data.get("changed_ops", 0),
                                  "controls_changed": controls_changed(r)}))
        results = run_hosts(inv, names, mode, kh, parallel=parallel, hooks=hooks,
                            overrides=Overrides(guard_timeout=guard_timeout))
    code = exit_code_for(results, drift_is_failure=(mode == "plan"))
    if app.want_json(json_):
        print_json({"mode": mode, "exit_code": int(code), "hosts": [r.to_dict() for r in results]})
    else:
        _print_runs(results, mode, diffs=diff)
        if mode == "plan" and not diff and any(r.data.get("changes") for r in results):
            click.echo("(per-operation diffs: add --diff)", err=True)
    return int(code)


_diff = click.option("--diff", is_flag=True,
                     help="Show every operation and its diff (default: one summary line per host).")


@harden.command()
@_limit
@_json
@_kh
@_par
@_diff
@pass_app
def plan(app: AppContext, limits: tuple[str, ...], json_: bool, known_hosts: Path | None,
         parallel: int, diff: bool) -> int:
    """Show what apply would change on each server (pyinfra dry run). Changes nothing.

    Per host: how many changes and the control IDs they belong to; --diff shows every
    operation with its diff. Exit 0 when nothing would change, 6 when something would
    (drift), 4/5 when hosts fail.

    \b
    Examples:
      simpul harden plan --limit role=web
      simpul harden plan --limit pd-web --diff
    """
    return _plan_or_apply(app, limits, json_, known_hosts, parallel, "plan", diff=diff)


@harden.command()
@_limit
@click.option("--apply", "do_apply", is_flag=True, help="Really change the servers (otherwise: plan).")
@_json
@_kh
@_par
@click.option("--guard-timeout", default=90, show_default=True, type=click.IntRange(20, 3600),
              help="Seconds before an unconfirmed sshd/PAM/sudo/firewall change reverts by itself.")
@_diff
@pass_app
def apply(app: AppContext, limits: tuple[str, ...], do_apply: bool, json_: bool,
          known_hosts: Path | None, parallel: int, guard_timeout: int, diff: bool) -> int:
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
        return _plan_or_apply(app, limits, json_, known_hosts, parallel, "plan", diff=diff)
    return _plan_or_apply(app, limits, json_, known_hosts, parallel, "apply", guard_timeout, diff=diff)


@harden.command()
@_limit
@_json
@click.option("--html", "html", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write a self-contained HTML report (ID + EN) to this file.")
@click.option("--lang", type=click.Choice(["id", "en"]), default="id", show_default=True,
              help="Primary language of the report.")
@click.option("--tz", default="Asia/Jakarta", show_default=True, callback=_check_tz,
              help="Time zone of the report's timestamps (Asia/Jakarta = WIB).")
@_kh
@_par
@pass_app
def audit(app: AppContext, limits: tuple[str, ...], json_: bool, html: Path | None, lang: str,
          tz: str, known_hosts: Path | None, parallel: int) -> int:
    """Check every control from inside (testinfra) and outside (auth, crypto, open ports).

    Changes nothing on the servers. Per host and control: pass / fail / waived / not applicable
    / not verified (kernel-global settings on a host in a namespace: not in the score), with
    the evidence. Each audit's JSON is kept in <state_dir>/audits/ and the next audit reports
    new failures and fixed controls against it. Exit 0 when everything applicable passes, 6 on
    any failing control, 4/5 when hosts cannot be audited.

    \b
    Examples:
      simpul harden audit --limit site=pusat-data
      simpul harden audit --html /srv/laporan/audit-2026-10.html --lang id
    """
    from simpul.deploys.audit import audit_hosts, previous_audit, report_data, save_audit
    from simpul.deploys.report import compare_audits, comparison_text, render_html, render_text

    inv, names, kh = _setup(app, limits, known_hosts)
    if html is not None and not html.parent.is_dir():
        raise UsageError(f"--html {html}: the directory {html.parent} does not exist")
    with app.progress_hook("harden audit", len(names)) as bar:
        results = audit_hosts(inv, names, kh, today=date.today(), parallel=parallel, hooks=[bar])
    data = report_data(inv, results)
    audited = [h["host"] for h in data["hosts"] if h["controls"]]
    data["previous"] = compare_audits(previous_audit(app.settings.state_dir, audited), data)
    if audited:
        save_audit(app.settings.state_dir, data)
    if html:
        html.write_text(render_html(data, lang, tz))
        click.echo(f"HTML report written to {html}", err=True)
    code = exit_code_for(results, drift_is_failure=True)
    if app.want_json(json_):
        print_json(data | {"exit_code": int(code)})
    else:
        table(None, ["host", "score", "pass", "fail", "waived", "n/a", "not verified", "failing controls"],
              render_text(data, lang))
        click.echo(comparison_text(data["previous"], tz))
    return int(code)


@harden.command()
@_json
@click.option("--lang", type=click.Choice(["id", "en"]), default="en", show_default=True)
@pass_app
def controls(app: AppContext, json_: bool, lang: str) -> int:
    """List the controls catalog: ID, profile, title and references."""
    from simpul.deploys.catalog import CONTROLS

    if app.want_json(json_):
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
    from simpul.ssh import server_target

    cmd = " ".join(command)
    if not do_apply:  # refuse before touching the inventory, secrets or the network
        ok, why = is_read_only(cmd)
        if not ok:
            raise UsageError(f"refusing to run without --apply: {why}",
                             hint="add --apply if the command is meant to change the servers")
    inv, names, kh = _setup(app, limits, known_hosts)
    targets = [server_target(inv, n, kh) for n in names]
    rec = app.recorder("run", refs=RUN_REFS,
                       params=lambda r: {"command": cmd, "apply": do_apply, "sudo": sudo,
                                         "exit_code": r.data.get("exit_code")})
    with app.progress_hook("run", len(targets)) as bar:
        results = run_command(targets, cmd, apply=do_apply, sudo=sudo, timeout=timeout,
                              hooks=[bar, rec])
    code = exit_code_for(results)
    if app.want_json(json_):
        print_json({"command": cmd, "exit_code": int(code), "hosts": [r.to_dict() for r in results]})
        return int(code)
    for r in results:
        click.echo(f"===== {r.target} ({r.message or r.status}, {r.seconds:.1f} s) =====")
        if r.data.get("stdout"):
            click.echo(r.data["stdout"].rstrip("\n"))
        if r.data.get("stderr", "").strip():
            click.echo("--- stderr ---")
            click.echo(r.data["stderr"].rstrip("\n"))
    return int(code)
