"""``simpul drill restore``: a measured restore drill of one service (loaded by ``simpul drill``).

Pergub Jambi 12/2022 Pasal 23(2)(e) (the contingency plan is tested regularly), 24(4); Pergub
Jateng (draft 2025) Pasal 11(6), 12(1)(g). The work is :mod:`simpul.drc.drill`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from simpul.context import AppContext, pass_app
from simpul.errors import ExitCode
from simpul.output import print_json, table

log = logging.getLogger(__name__)


@click.command()
@click.option("--service", "-s", required=True, help="The service to restore (inventory services:).")
@click.option("--snapshot", help="Restore this snapshot (ID or prefix) instead of the newest.")
@click.option("--execute", is_flag=True, help="Really run the drill (otherwise: show the plan).")
@click.option("--json", "json_", is_flag=True, help="Machine-readable result on stdout.")
@click.option("--known-hosts", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="known_hosts file pinning the servers' host keys.")
@pass_app
def restore(app: AppContext, service: str, snapshot: str | None, execute: bool, json_: bool,
            known_hosts: Path | None) -> int:
    """Restore a service's newest backups into scratch at the DRC, verify them against the
    backup-time record (read-data, every file, every table, a smoke query), measure RTO and RPO
    against the service's targets, clean up, and write the Berita Acara Uji Pemulihan.

    Without --execute: the plan (which snapshots, where, what will be verified). Exit 0 when the
    drill passes, 1 when anything fails verification or a target is missed (the report names
    the snapshot, pack, file or table), 130 when interrupted (the scratch is removed; if the
    process was killed, the next drill removes it and says so).

    \b
    Example:
      simpul drill restore --service simpeg
      simpul drill restore --service simpeg --execute
      simpul drill restore --service simpeg --snapshot 3b90caad --execute
    """
    from simpul.drc.drill import REFS, plan_drill, save
    from simpul.drc.drill import execute as run_drill
    from simpul.drc.report import human_bytes, human_seconds
    from simpul.ssh import known_hosts_path

    inv = app.inventory()
    kh = known_hosts_path(app.settings.state_dir, known_hosts)
    plan = plan_drill(inv, service, kh, snapshot=snapshot)
    if not execute:
        if app.want_json(json_):
            print_json({"mode": "plan", **plan.to_dict()})
        else:
            click.echo(f"Restore drill plan for {plan.title} ({service}): RTO target "
                       f"{human_seconds(plan.rto.total_seconds())}, RPO target "
                       f"{human_seconds(plan.rpo.total_seconds())}")
            table("snapshots to restore", ["unit", "snapshot", "taken", "size", "at"],
                  [[u.name, u.snapshot, u.snapshot_time.isoformat(timespec="seconds"),
                    human_bytes(u.logical_bytes), f"{u.destination}:{u.repository}"] for u in plan.units])
            click.echo(f"scratch: {plan.scratch}/{plan.drill_id} at {', '.join(plan.destinations)} "
                       "(removed afterwards; never over live data)")
            for i, s in enumerate(plan.to_dict()["steps"], 1):
                click.echo(f"  {i}. {s}")
            click.echo("Run it with --execute.")
        return int(ExitCode.OK)

    rec = run_drill(inv, plan, kh, app.settings.state_dir)
    paths = save(rec, app.settings.state_dir)
    data = rec.to_dict()
    app.record("drill.restore", service, data["result"], refs=REFS, params={
        "drill": plan.drill_id, "rto_s": data["rto_s"], "rpo_s": data["rpo_s"],
        "rto_ok": data["rto_ok"], "rpo_ok": data["rpo_ok"],
        "snapshots": [u.snapshot for u in plan.units], "findings": len(data["findings"]),
        "leftovers_removed": [x["drill"] for x in data["leftovers_removed"]],
        "scratch_left": data["scratch_left"], "report": str(paths["html"])})
    if app.want_json(json_):
        print_json({**data, "report_json": str(paths["json"]), "report_html": str(paths["html"])})
    else:
        for x in data["leftovers_removed"]:
            click.echo(f"found the scratch of an interrupted drill {x['drill']} at "
                       f"{x['destination']}: removed ({human_bytes(x['bytes'])}"
                       + (f"; {', '.join(x['stopped'])}" if x.get("stopped") else "") + ")")
        table(f"restore drill {plan.drill_id}", ["step", "unit", "seconds", "ok", "detail"],
              [[s["step"], s["unit"], f"{s['seconds']:.1f}", "yes" if s["ok"] else "NO", s["detail"]]
               for s in data["timeline"]])
        verdict = "PASSED" if data["result"] == "passed" else "FAILED"
        click.echo(f"{verdict}: RTO {human_seconds(data['rto_s'])} (target "
                   f"{human_seconds(data['targets']['rto_s'])}), RPO {human_seconds(data['rpo_s'])} "
                   f"(target {human_seconds(data['targets']['rpo_s'])}); scratch removed: "
                   f"{'no' if data['scratch_left'] else 'yes'}")
        for f in rec.findings[:25]:
            click.echo(f"  FAILED {f.line()}", err=True)
        if len(rec.findings) > 25:
            click.echo(f"  ... and {len(rec.findings) - 25} more (see the Berita Acara)", err=True)
        if rec.error:
            click.echo(f"  error: {rec.error}", err=True)
        click.echo(f"Berita Acara: {paths['html']}\nrecord: {paths['json']}")
    if rec.interrupted:
        return int(ExitCode.INTERRUPTED)
    return int(ExitCode.OK if rec.passed else ExitCode.ERROR)
