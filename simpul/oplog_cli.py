"""``simpul oplog show|verify``."""

from __future__ import annotations

import click

from simpul.context import AppContext, pass_app
from simpul.errors import ExitCode
from simpul.output import print_json, stdout, table


@click.group()
def oplog() -> None:
    """The operations log: every state change, hash-chained (tamper-evident)."""


@oplog.command()
@click.option("-n", "--last", type=int, default=20, show_default=True, help="How many records.")
@click.option("--action", help="Only records of this action (e.g. harden.apply).")
@click.option("--target", help="Only records about this target.")
@pass_app
def show(app: AppContext, last: int, action: str | None, target: str | None) -> int:
    """Show the newest records.

    \b
    Example:
      simpul oplog show -n 50 --action net.push
    """
    log = app.oplog
    recs = [
        r
        for r in log.records()
        if (not action or r.get("action") == action) and (not target or r.get("target") == target)
    ]
    recs = recs[-last:] if last > 0 else recs
    if app.json:
        print_json(recs)
    elif not recs:
        stdout.print(f"{log.path}: no records")
    else:
        table(
            str(log.path),
            ["#", "time (UTC)", "who", "action", "target", "result"],
            [
                [r.get("seq"), r.get("ts"), r.get("who"), r.get("action"), r.get("target"), r.get("result")]
                for r in recs
            ],
        )
    return int(ExitCode.OK)


@oplog.command()
@pass_app
def verify(app: AppContext) -> int:
    """Check the hash chain: exit 0 if intact, 1 if a record was edited, removed or reordered."""
    log = app.oplog
    rep = log.verify()
    if app.json:
        print_json({"ok": rep.ok, "records": rep.records, "problems": rep.problems, "path": str(log.path)})
    elif rep.ok:
        stdout.print(f"{log.path}: {rep.records} record(s), chain intact")
    else:
        for p in rep.problems:
            click.echo(f"{log.path}: {p}")
        click.echo(f"{log.path}: verification FAILED ({len(rep.problems)} problem(s))", err=True)
    return int(ExitCode.OK if rep.ok else ExitCode.ERROR)
