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
@click.option("--head", "anchor", metavar="HASH",
              help="A head hash printed by an earlier verify and kept off this machine: the log "
                   "must still contain that record (catches a log rewritten from the start).")
@pass_app
def verify(app: AppContext, anchor: str | None) -> int:
    """Check the hash chain: exit 0 if intact, 1 if a record was edited, removed or reordered.

    On success it prints the head hash (the hash of the newest record). Keep it somewhere the
    machine's users cannot edit (the NOC logbook, a ticket, another server); later,
    ``--head HASH`` proves that the log still holds that record, unchanged.

    \b
    What the chain catches: an edited, removed, inserted or reordered record; records cut
    from the end (the .head file and its witness copy outside the state directory); the log
    and head deleted (the witness). What it cannot catch on its own: someone with write access
    who rewrites the log, the head and the witness consistently -- that is what --head is for.

    \b
    Examples:
      simpul oplog verify
      simpul oplog verify --head 3f5c0e9a1b2d4c6e
    """
    log = app.oplog
    rep = log.verify(anchor)
    if app.json:
        print_json({"ok": rep.ok, "records": rep.records, "problems": rep.problems,
                    "head": rep.head if rep.records else None, "notes": rep.notes,
                    "path": str(log.path), "witness": str(log.witness_path)})
    elif rep.ok:
        for n in rep.notes:
            click.echo(f"note: {n}", err=True)
        if rep.records:
            stdout.print(f"{log.path}: {rep.records} record(s), chain intact")
            stdout.print(f"head {rep.head} (record {rep.records}): keep this hash off this machine "
                         f"and check later with: simpul oplog verify --head {rep.head[:16]}",
                         soft_wrap=True)
        else:
            stdout.print(f"{log.path}: no records")
    else:
        for p in rep.problems:
            click.echo(p if p.startswith(f"{log.path}: ") else f"{log.path}: {p}")
        click.echo(f"{log.path}: verification FAILED ({len(rep.problems)} problem(s))", err=True)
    return int(ExitCode.OK if rep.ok else ExitCode.ERROR)
