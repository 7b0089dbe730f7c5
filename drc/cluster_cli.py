"""``simpul drc plan|deploy|status``: the DRC standby of each service (registered lazily as
``simpul drc`` by :mod:`simpul.cli`).

The cluster is built by :mod:`simpul.deploys.dbcluster` (pyinfra: etcd, Patroni, vip-manager);
this module selects, calls, prints and records. Regulation: Pergub Kalteng 24/2022 Pasal
11(2)(b), 14; Pergub Jambi 12/2022 Pasal 21(1)(c), 23(2)(c).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from simpul.context import AppContext, pass_app
from simpul.errors import ExitCode, UsageError
from simpul.output import print_json, stdout, table
from simpul.results import Result, Status, exit_code_for

_service = click.option("--service", "-s", "services", multiple=True,
                        help="Service name (repeat for several; default: every service with a standby).")
_json = click.option("--json", "json_", is_flag=True, help="Machine-readable results on stdout.")
_kh = click.option("--known-hosts", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                   help="known_hosts file pinning the servers' host keys.")


def _specs(app: AppContext, services: tuple[str, ...]) -> tuple[Any, list[Any]]:
    from simpul.deploys.dbcluster_render import cluster_spec, cluster_specs

    inv = app.inventory()
    specs = [cluster_spec(inv, s) for s in services] if services else cluster_specs(inv)
    if not specs:
        raise UsageError("no service in the inventory has a standby:",
                         hint="add services.<name>.standby (see inventory/README.md)")
    return inv, specs


def _known_hosts(app: AppContext, known_hosts: Path | None) -> Path:
    from simpul.ssh import known_hosts_path

    return known_hosts_path(app.settings.state_dir, known_hosts)


@click.group()
def drc() -> None:
    """The DRC standby of a service's database: etcd (3 members, a witness at the NOC), Patroni
    and vip-manager, from the inventory's services.<name>.standby.

    \b
    Examples:
      simpul drc plan                       # what would change on each server (exit 6 if anything)
      simpul drc deploy --apply             # build or converge the cluster
      simpul drc status --service simpeg    # leader, replicas, lag, sync standby, etcd, service address
    """


def _print(results: list[Result], *, plan: bool) -> None:
    for r in results:
        changes = r.data.get("changes", [])
        head = f"{r.target}: {r.status}"
        if r.status in (Status.FAILED, Status.UNREACHABLE):
            head += f" — {r.message}"
        elif changes:
            head += f" — {len(changes)} change(s){' would be made' if plan else ''}"
        else:
            head += " — no changes"
        stdout.print(head, markup=False, highlight=False)
        for c in changes:
            detail = str(c.get("detail", ""))
            first = detail.splitlines()[0] if detail else ""
            where = f"[{c['phase']}] " if c.get("phase") else ""
            stdout.print(f"  - {where}{c.get('op') or c.get('kind')}: {first}", markup=False,
                         highlight=False)


def _run(app: AppContext, services: tuple[str, ...], known_hosts: Path | None, mode: str,
         json_: bool) -> int:
    from simpul.deploys.dbcluster import deploy as run_deploy
    from simpul.deploys.dbcluster_render import REFS

    inv, specs = _specs(app, services)
    kh = _known_hosts(app, known_hosts)
    out: dict[str, list[Result]] = {}
    for spec in specs:
        def params(r: Result, service: str = spec.service) -> dict[str, Any]:
            return {"service": service, "changed_ops": r.data.get("changed_ops", 0),
                    "changes": [f"{c.get('op') or c.get('kind')}" for c in r.data.get("changes", [])]}

        hooks = [app.recorder("drc.deploy", refs=REFS, params=params)] if mode == "apply" else []
        out[spec.service] = run_deploy(inv, spec, kh, "apply" if mode == "apply" else "plan",
                                       hooks=hooks)
    allr = [r for rs in out.values() for r in rs]
    if app.want_json(json_):
        print_json({s: [r.to_dict() for r in rs] for s, rs in out.items()})
    else:
        for s, rs in out.items():
            stdout.print(f"== {s}", markup=False)
            _print(rs, plan=mode == "plan")
    return int(exit_code_for(allr, drift_is_failure=mode == "plan"))


@drc.command()
@_service
@_kh
@_json
@pass_app
@click.pass_context
def plan(ctx: click.Context, app: AppContext, services: tuple[str, ...], known_hosts: Path | None,
         json_: bool) -> None:
    """Show what 'drc deploy --apply' would change on each server (changes nothing).

    Exit 0 when everything is in place, 6 when something would change.

    \b
    Example:
      simpul drc plan --service simpeg
    """
    ctx.exit(_run(app, services, known_hosts, "plan", json_))


@drc.command()
@_service
@_kh
@click.option("--apply", "apply_", is_flag=True, help="Really change the servers (otherwise: plan).")
@_json
@pass_app
@click.pass_context
def deploy(ctx: click.Context, app: AppContext, services: tuple[str, ...], known_hosts: Path | None,
           apply_: bool, json_: bool) -> None:
    """Build or converge the standby: firewall openings (from the hardening controls), etcd on
    the members and the witness, Patroni adopting the existing database on the primary and
    cloning it to the DRC, vip-manager with the service address. A second run changes nothing.

    Without --apply this is 'drc plan'.

    \b
    Example:
      simpul drc deploy --service simpeg --apply
    """
    ctx.exit(_run(app, services, known_hosts, "apply" if apply_ else "plan", json_))


def _fmt_lag(b: int | None, s: float | None) -> str:
    parts = []
    if b is not None:
        parts.append(f"{b} B")
    if s is not None:
        parts.append(f"{s:.2f} s")
    return ", ".join(parts) or "?"


@drc.command()
@_service
@_kh
@_json
@pass_app
@click.pass_context
def status(ctx: click.Context, app: AppContext, services: tuple[str, ...], known_hosts: Path | None,
           json_: bool) -> None:
    """Per service: leader and site, replicas (state, lag in bytes and seconds, sync standby),
    timeline, who holds the service address, etcd on each member — and whether the DRC could
    take over now.

    Exit 0 when it could, 6 when it could not (replica down or lagging beyond the RPO, no
    synchronous standby for an RPO-0 service, etcd would lose its majority, address misplaced),
    4 when no server answers.

    \b
    Example:
      simpul drc status --service simpeg --json
    """
    from simpul.drc.cluster import read_status

    inv, specs = _specs(app, services)
    kh = _known_hosts(app, known_hosts)
    statuses = [read_status(inv, spec, kh)[0] for spec in specs]
    if app.want_json(json_):
        print_json([s.to_dict() for s in statuses])
    else:
        for s in statuses:
            verdict = "DRC can take over now" if s.can_take_over else "DRC could NOT take over now"
            stdout.print(f"== {s.service}: leader {s.leader or 'none'} ({s.leader_site or '-'}), "
                         f"timeline {s.timeline or '-'}, {s.replication} replication — {verdict}",
                         markup=False)
            table(None, ["replica", "site", "role", "state", "lag", "sync"],
                  [[r.name, r.site, r.role, r.state, _fmt_lag(r.lag_bytes, r.lag_seconds),
                    "yes" if r.sync else "no"] for r in s.replicas])
            stdout.print(f"service address {s.vip} on: {', '.join(s.vip_on) or 'nobody'}; etcd: "
                         + ", ".join(f"{n} {'ok' if v else 'DOWN' if v is False else '?'}"
                                     for n, v in s.etcd.items()), markup=False)
            for p in s.problems:
                stdout.print(f"  problem: {p}", markup=False)
            for n in s.notes:
                stdout.print(f"  note: {n}", markup=False)
    if all(s.leader is None and not any(s.etcd.values()) for s in statuses):
        ctx.exit(int(ExitCode.UNREACHABLE))
    ctx.exit(int(ExitCode.OK if all(s.can_take_over for s in statuses) else ExitCode.DRIFT))
