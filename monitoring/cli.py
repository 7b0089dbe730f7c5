"""``simpul poll`` and ``simpul sla report``: thin commands over the monitoring library."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path
from typing import Any, cast

import click

from simpul.context import AppContext, pass_app
from simpul.errors import ExitCode, LockedError, UsageError
from simpul.results import exit_code_for

log = logging.getLogger(__name__)


def _print_cycle(rep: Any, as_json: bool) -> None:
    from simpul.output import print_json, table

    if as_json:
        print_json(rep.to_dict())
        return
    d = rep.to_dict()
    click.echo(
        f"cycle {d['timestamp']}: {d['snmp']['ok']}/{d['snmp']['polled']} SNMP ok, "
        f"{len(d['icmp'])} pinged, {len(d['down'])} down, {d['lines']} points, "
        f"{d['wall_s']:.2f}s wall, {d['cpu_s']:.2f}s CPU"
    )
    if d["snmp"]["failed"]:
        table("SNMP failures", ["device", "error"], sorted(d["snmp"]["failed"].items()))
    if d["down"]:
        click.echo("down this cycle: " + ", ".join(d["down"]))
    if d["events"]:
        table("Events", ["device", "event", "detail"],
              [(e["entity"], e["kind"], e["detail"]) for e in d["events"]])
    for f in rep.flush:
        state = "ok" if f.ok else f"FAILED ({f.error})" if f.error else "rejected batches"
        click.echo(
            f"sink {f.sink}: {state}, delivered {f.delivered_lines} lines, "
            f"{f.pending_lines} waiting on disk"
        )


@click.command()
@click.option("--once", is_flag=True, help="Run one cycle and exit (for cron).")
@click.option("--sink", "sinks", multiple=True, metavar="URL",
              help="influx-v1+http://HOST:PORT?db=DB or influx-v2+http://HOST:PORT?bucket=B&org=O "
                   "(repeatable; default $SIMPUL_SINKS).")
@click.option("-l", "--limit", "limits", multiple=True, metavar="SELECTOR",
              help="Only these hosts (name, group, site=..., role=..., site_type=desa).")
@click.option("--engine", type=click.Choice(["gufo", "pysnmp"]), default="gufo", show_default=True,
              help="SNMP engine.")
@click.option("--interval", type=float, default=60.0, show_default=True,
              help="Seconds between cycles (long-running mode; also sets the ledger's gap limit).")
@click.option("--concurrency", type=int, default=100, show_default=True,
              help="Devices in flight at once.")
@click.option("--timeout", type=float, default=2.0, show_default=True,
              help="Seconds per SNMP request.")
@click.option("--retries", type=int, default=1, show_default=True, help="Retries per request.")
@click.option("--icmp", type=click.Choice(["desa", "all", "none"]), default="desa",
              show_default=True,
              help="Ping desa/kelurahan and radio-linked sites (desa), every host, or none.")
@click.option("--icmp-netns", metavar="NS", envvar="SIMPUL_ICMP_NETNS",
              help="Run the ICMP probe (fping) inside this network namespace: the NOC probe "
                   "point. Default: here; against the built-in lab while it is up, the lab core "
                   "router's namespace. 'none' forces here. [env SIMPUL_ICMP_NETNS]")
@click.option("--state-dir", type=click.Path(path_type=Path),
              help="Where the outbox, ledger and lock live (default: settings state_dir).")
@click.option("--json", "json_", is_flag=True, help="Print the cycle report as JSON.")
@pass_app
def poll(app: AppContext, once: bool, sinks: tuple[str, ...], limits: tuple[str, ...],
         engine: str, interval: float, concurrency: int, timeout: float, retries: int,
         icmp: str, icmp_netns: str | None, state_dir: Path | None, json_: bool) -> int:
    """Poll every device and server of the inventory with SNMP (and ping desa links).

    Points go to a durable outbox on disk first, then to each sink; a sink that is down keeps
    its points waiting, in order, until it returns. Two runs never overlap: a second run exits
    with a message (status 0 for --once, so cron stays quiet).

    \b
    Examples:
      simpul poll --once --sink 'influx-v1+http://127.0.0.1:8086?db=simpul'
      simpul poll --sink 'influx-v2+http://127.0.0.1:8428?bucket=simpul&org=dinas'
      simpul poll --once --limit site_type=desa --json
    """
    from simpul import labinfo
    from simpul.inventory import select
    from simpul.output import ProgressHook

    from .engine import make_engine
    from .poller import Poller, poll_lock
    from .sinks import sink_from_url, sinks_from_env
    from .targets import IcmpMode, build_hosts

    as_json = app.want_json(json_)
    sd = state_dir or app.settings.state_dir
    lab = labinfo.for_inventory(app.settings.inventory)  # polling the running built-in lab?
    urls = list(sinks) or sinks_from_env() or list(app.settings.monitoring.sinks)
    if not urls and lab and lab.get("sinks"):
        urls = list(lab["sinks"])
        log.info("sinks: the built-in lab's own stores (%s)", ", ".join(urls))
    if not urls:
        log.warning("no sink given (--sink, $SIMPUL_SINKS or [monitoring] sinks in simpul.toml): "
                    "points are only kept in the outbox")
    if interval <= 0 or concurrency <= 0 or timeout <= 0 or retries < 0:
        raise UsageError("--interval, --concurrency and --timeout must be positive")
    inv = app.inventory()
    names = select(inv, limits) if limits else None
    hosts = build_hosts(inv, names, icmp=cast(IcmpMode, icmp), timeout=timeout, retries=retries)
    if icmp_netns is None and any(h.icmp for h in hosts) and lab and lab.get("probe_netns"):
        # the lab's data plane is reachable only from its NOC probe point (simpul.labinfo)
        icmp_netns = str(lab["probe_netns"])
        log.info("icmp: probing from the lab's NOC probe point, namespace %s", icmp_netns)
    if icmp_netns == "none":
        icmp_netns = None
    sink_objs = [sink_from_url(u) for u in urls]
    try:
        with poll_lock(sd):
            eng = make_engine(engine)
            poller = Poller(hosts, eng, sd, sink_objs, concurrency=concurrency, interval=interval,
                            icmp_netns=icmp_netns)
            try:
                if once:
                    n = sum(1 for h in hosts if h.snmp)
                    with ProgressHook("polling", n) as bar:

                        async def one() -> Any:
                            try:
                                return await poller.cycle(hooks=[bar])
                            finally:
                                await eng.close()

                        rep = asyncio.run(one())
                    _print_cycle(rep, as_json)
                    return int(exit_code_for(rep.results()))
                return _serve(poller, as_json)
            finally:
                poller.close()
    except LockedError as e:
        # Overlap is expected when a cycle runs long: say so and leave quietly.
        if as_json:
            from simpul.output import print_json

            print_json({"skipped": True, "reason": e.message})
        click.echo(f"poll skipped: {e.message}", err=True)
        return int(ExitCode.OK) if once else int(e.exit_code)


def _serve(poller: Any, as_json: bool) -> int:
    """Long-running mode: cycles until SIGTERM/SIGINT, then finishes cleanly."""

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        worst = ExitCode.OK

        def on_cycle(rep: Any) -> None:
            nonlocal worst
            code = exit_code_for(rep.results())
            worst = max(worst, code) if code != ExitCode.OK else worst
            if as_json:
                from simpul.output import print_json

                print_json(rep.to_dict())
            else:
                d = rep.to_dict()
                log.warning(
                    "cycle %s: %d/%d SNMP ok, %d down, %d points, %.2fs wall",
                    d["timestamp"], d["snmp"]["ok"], d["snmp"]["polled"], len(d["down"]),
                    d["lines"], d["wall_s"],
                ) if d["snmp"]["failed"] or d["down"] else log.info(
                    "cycle %s: %d/%d SNMP ok, %d points, %.2fs wall",
                    d["timestamp"], d["snmp"]["ok"], d["snmp"]["polled"], d["lines"], d["wall_s"])

        try:
            n = await poller.run_forever(stop, on_cycle)
        finally:
            await poller.engine.close()
        log.warning("poll: stopped after %d cycle(s)", n)
        return int(ExitCode.OK)

    return asyncio.run(main())


@click.group()
def sla() -> None:
    """Availability and SLA reports from the availability ledger."""


@sla.command("report")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month to report, e.g. 2026-10.")
@click.option("--by", type=click.Choice(["service", "opd", "desa", "device"]), default="service",
              show_default=True, help="One row per service, OPD site, desa site or device.")
@click.option("--lang", type=click.Choice(["id", "en"]), default="id", show_default=True,
              help="Bahasa Indonesia or English.")
@click.option("--format", "fmt", type=click.Choice(["table", "html", "csv", "json"]),
              default="table", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Write to this file (html/csv/json); default stdout.")
@click.option("--target", "default_target", type=float, default=99.5, show_default=True,
              help="Target %% for devices and sites (services use their inventory target).")
@click.option("--tz", default="Asia/Jakarta", show_default=True,
              help="Time zone of the month boundaries and maintenance windows.")
@click.option("--state-dir", type=click.Path(path_type=Path),
              help="Where the ledger lives (default: settings state_dir).")
@click.option("--json", "json_", is_flag=True, help="Same as --format json.")
@pass_app
def report(app: AppContext, month: str, by: str, lang: str, fmt: str, output: Path | None,
           default_target: float, tz: str, state_dir: Path | None, json_: bool) -> int:
    """Availability per entity against its target for one month: downtime minutes, incidents,
    reboots; declared maintenance excluded. HTML has charts; CSV for spreadsheets.

    \b
    Examples:
      simpul sla report --month 2026-10
      simpul sla report --month 2026-10 --by desa --format html -o sla-desa-2026-10.html
      simpul sla report --month 2026-10 --by service --lang en --format csv
    """
    from simpul.output import print_json, table, to_json

    from .ledger import Ledger
    from .report import to_csv, to_html
    from .sla import month_range, report_rows

    if app.want_json(json_):
        fmt = "json"
    inv = app.inventory()
    start, end = month_range(month, tz)
    end = min(end, max(start, time.time()))  # the current month is reported up to now
    sd = state_dir or app.settings.state_dir
    path = sd / "ledger.sqlite"
    if not path.exists():
        log.warning("%s: no availability ledger yet (has 'simpul poll' run?)", path)
    ledger = Ledger(path)
    try:
        rows = report_rows(inv, ledger.intervals(start, end), ledger.events(start, end), start,
                           end, by=by, default_target=default_target, tz=tz)
    finally:
        ledger.close()
    if fmt == "table":
        from .report import CSV_COLUMNS, TEXT, _cells

        t = TEXT[lang]
        table(f"{t['title']} {month}", [t[c] for c in CSV_COLUMNS], [_cells(r, t) for r in rows])
    else:
        if fmt == "html":
            text = to_html(rows, month=month, by=by, start=start, end=end,
                           organisation=inv.organisation.name, lang=lang, tz=tz)
        elif fmt == "csv":
            text = to_csv(rows, lang)
        else:
            text = to_json({"month": month, "by": by, "tz": tz,
                            "rows": [r.to_dict() for r in rows]})
        if output:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
            click.echo(f"wrote {output}", err=True)
        elif fmt == "json":
            print_json({"month": month, "by": by, "tz": tz, "rows": [r.to_dict() for r in rows]})
        else:
            click.echo(text, nl=False)
    missed = [r for r in rows if r.met is False]
    if missed:
        log.info("%d of %d below target: %s", len(missed), len(rows),
                 ", ".join(r.entity for r in missed))
    return int(ExitCode.OK)
