"""``simpul drill failover``: the failover drill of a service's DRC standby (loaded by
:mod:`simpul.drc.drill_cli`). Thin: plan, confirm, call :mod:`simpul.drc.failover`, render, record.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import click

from simpul.context import AppContext, pass_app
from simpul.errors import ExitCode, UsageError
from simpul.output import print_json, stderr, stdout, table

SCENARIO_CHOICES = ("switchover", "crash", "site-loss", "partition")


def _progress(quiet: bool) -> Any:
    if quiet or not stderr.is_terminal:
        return lambda _m: None

    def say(msg: str) -> None:
        stderr.log(msg)

    return say


def _print_plan(plan: Any) -> None:
    st = plan.status
    stdout.print(f"failover drill plan — service {plan.service}, scenario {plan.scenario}"
                 f"{' + failback' if plan.failback else ''} ({'lab' if plan.lab else 'real servers'})",
                 markup=False)
    stdout.print(f"leader now: {plan.leader or 'none'}; expected next leader: {plan.target}; "
                 f"replication {st.replication}", markup=False)
    for i, (id_text, en_text) in enumerate(plan.steps, 1):
        stdout.print(f"  {i}. {en_text}", markup=False, highlight=False)
        stdout.print(f"     {id_text}", markup=False, highlight=False, style="dim")
    if plan.refusals:
        stdout.print("the drill would be REFUSED:", markup=False)
        for r in plan.refusals:
            stdout.print(f"  - {r}", markup=False)
    else:
        stdout.print("pre-checks pass: run again with --execute", markup=False)


def _confirm(app: AppContext, plan: Any, confirm: str | None) -> None:
    """On real servers a drill interrupts a production service: the operator types its name."""
    if plan.lab:
        return
    if confirm is None and sys.stdin.isatty():
        confirm = click.prompt(f"This drill interrupts service '{plan.service}' on real servers. "
                               "Type the service name to go on", default="", show_default=False)
    if confirm != plan.service:
        raise UsageError(f"not confirmed: --execute on real servers needs --confirm {plan.service} "
                         "(or typing the service name at the prompt)")


@click.command()
@click.option("--service", "-s", help="The service whose standby is drilled (services.<name>.standby).")
@click.option("--scenario", type=click.Choice(SCENARIO_CHOICES),
              help="switchover | crash | site-loss | partition.")
@click.option("--execute", is_flag=True, help="Run the drill (otherwise: show the plan and the pre-checks).")
@click.option("--failback", is_flag=True,
              help="Switch back to the home primary afterwards (alone: switch back now).")
@click.option("--confirm", metavar="SERVICE", help="Typed confirmation for real (non-lab) servers.")
@click.option("--report", "-o", "report_path", type=click.Path(path_type=Path),
              help="Also write the HTML report (Berita Acara) here.")
@click.option("--history", "show_history", is_flag=True, help="Show the drill history and exit.")
@click.option("--known-hosts", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="known_hosts file pinning the servers' host keys.")
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
@click.option("--json", "json_", is_flag=True, help="Machine-readable result on stdout.")
@pass_app
@click.pass_context
def failover(ctx: click.Context, app: AppContext, service: str | None, scenario: str | None,
             execute: bool, failback: bool, confirm: str | None, report_path: Path | None,
             show_history: bool, known_hosts: Path | None, quiet: bool, json_: bool) -> None:
    """Failover drill of a service's DRC standby under load, with measured RTO and RPO
    (Pergub Jambi 12/2022 Pasal 23(2)(c), 23(2)(e); Pergub Kalteng 24/2022 Pasal 11(2)(b), 14).

    Without --execute: the plan and the pre-checks (exit 0 ready, 6 would be refused). With
    --execute: pre-checks (refused with the reason, nothing changed, exit 1), numbered writes
    from the NOC through the service address, the injection, RTO (to the first write the new
    primary acknowledged), RPO (acknowledged writes missing), divergence, healing (the old
    primary rejoins via pg_rewind), --failback, and the Berita Acara in JSON and HTML (kept in
    the state directory; exit 0 passed, 1 failed). Real servers need --confirm SERVICE.

    \b
    Examples:
      simpul drill failover --service simpeg --scenario switchover
      simpul drill failover --service simpeg --scenario crash --execute --failback -o crash.html
      simpul drill failover --service simpeg --failback --execute     # back to the Pusat Data
      simpul drill failover --history
    """
    from simpul.deploys.dbcluster_render import cluster_spec
    from simpul.drc import failover as fo
    from simpul.drc.failover_report import render_html
    from simpul.ssh import known_hosts_path

    state = app.settings.state_dir
    if show_history:
        rows = fo.history(state, service)
        if app.want_json(json_):
            print_json(rows)
        else:
            table("failover drills", ["run", "scenario", "passed", "RTO s", "failback RTO s", "RPO rows",
                                      "RPO ms", "divergent", "writes"],
                  [[r["run_id"], r["scenario"], "yes" if r["passed"] else "NO", r.get("rto_s"),
                    r.get("failback_rto_s"), r["rpo_rows"], r["rpo_ms"], r["divergent"], r["acks"]]
                   for r in rows])
        return
    if not service:
        raise UsageError("give --service (a service with a standby:), or --history")
    inv = app.inventory()
    spec = cluster_spec(inv, service)
    kh = known_hosts_path(state, known_hosts)
    plan = fo.plan_drill(inv, spec, scenario, failback, kh)
    if not execute:
        if app.want_json(json_):
            print_json(plan.to_dict())
        else:
            _print_plan(plan)
        ctx.exit(int(ExitCode.OK if not plan.refusals else ExitCode.DRIFT))
    _confirm(app, plan, confirm)
    drill = fo.Drill(inv, spec, plan, kh, progress=_progress(quiet or app.want_json(json_)))
    report = drill.run()  # DrillRefused propagates: one line, exit 1, nothing changed
    page = render_html(report)
    jpath, hpath = fo.save(report, state, page)
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(hpath, report_path)
    summ = fo.summary(report)
    app.record("drill.failover", service, "passed" if report["passed"] else "failed",
               params={**summ, "report": str(jpath),
                       "checks": {c["id"]: c["ok"] for c in report["checks"]}},
               refs=fo.REFS)
    if app.want_json(json_):
        print_json({**summ, "checks": report["checks"], "json": str(jpath), "html": str(hpath),
                    "problems": report["problems"], "advice": report["advice"]})
    else:
        stdout.print(f"failover drill {report['run_id']}: {'PASSED' if report['passed'] else 'FAILED'}",
                     markup=False)
        for c in report["checks"]:
            stdout.print(f"  [{'ok' if c['ok'] else 'FAIL'}] {c['en_text']}: {c['value']}",
                         markup=False, highlight=False)
        for p in report["problems"]:
            stdout.print(f"  problem: {p}", markup=False)
        if report["advice"]:
            stdout.print(f"  what to do: {report['advice']}", markup=False)
        stdout.print(f"report: {hpath}" + (f" (and {report_path})" if report_path else ""), markup=False)
    ctx.exit(int(ExitCode.OK if report["passed"] else ExitCode.ERROR))
