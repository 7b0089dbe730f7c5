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
    if d["waiting_for_sink"]:
        click.echo(f"no sink: {d['waiting_for_sink']} points kept in the outbox for the first sink "
                   "configured (--sink, $SIMPUL_SINKS or [monitoring] sinks)")
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
                    "the points are kept in the outbox (%s) and delivered to the first sink "
                    "configured; availability for the SLA reports is recorded either way",
                    (state_dir or app.settings.state_dir) / "outbox.sqlite")
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


FORMATS = {".html": "html", ".htm": "html", ".csv": "csv", ".json": "json"}


def _check_tz(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from .sla import zone

    try:
        zone(value)
    except UsageError as e:
        raise click.BadParameter(f"'{value}' is not a known time zone ({e.hint})") from None
    return value


def _output_format(fmt: str | None, output: Path | None) -> str:
    """The format to write: ``--format`` if given, else from ``-o``'s extension, else a table."""
    if output is None:
        return fmt or "table"
    if fmt == "table":
        raise UsageError(f"-o {output}: the table format only prints to the terminal",
                         hint="give --format html, csv or json, or a file ending in .html, .csv or .json")
    if fmt:
        return fmt
    inferred = FORMATS.get(output.suffix.lower())
    if inferred is None:
        raise UsageError(f"-o {output}: cannot tell the format from the extension "
                         f"'{output.suffix or '(none)'}'",
                         hint="give --format html, csv or json, or a file ending in .html, .csv or .json")
    return inferred


def _check_writable(output: Path) -> None:
    """Refuse an output that cannot be written before any work is done."""
    import os

    parent = output.parent
    if output.is_dir():
        raise UsageError(f"-o {output}: is a directory", hint="give a file name")
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise UsageError(f"-o {output}: cannot write there: {parent} {what}",
                         hint="create the directory first, or choose another path")
    if not os.access(parent, os.W_OK) or (output.exists() and not os.access(output, os.W_OK)):
        raise UsageError(f"-o {output}: cannot write there: permission denied")


def _write(output: Path, text: str) -> None:
    """Write ``text`` whole or not at all (temporary file in the same directory, then rename)."""
    import os
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, output)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise UsageError(f"-o {output}: cannot write: {e.strerror or e}") from e


@sla.command("report")
@click.option("--month", metavar="YYYY-MM", help="The month to report, e.g. 2026-10.")
@click.option("--year", type=int, metavar="YYYY",
              help="Instead of --month: twelve months per entity, e.g. 2026 (annual evaluation).")
@click.option("--by", type=click.Choice(["service", "opd", "desa", "device"]), default="service",
              show_default=True, help="One row per service, OPD site, desa site or device.")
@click.option("--lang", type=click.Choice(["id", "en"]), default="id", show_default=True,
              help="Bahasa Indonesia or English.")
@click.option("--format", "fmt", type=click.Choice(["table", "html", "csv", "json"]),
              help="Output format [default: table; with -o, taken from the file's extension].")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Write to this file (.html, .csv or .json) instead of stdout.")
@click.option("--outages", "outage_list", is_flag=True,
              help="Table/CSV: the outage list (one row per outage) instead of the summary.")
@click.option("--target", "default_target", type=click.FloatRange(0, 100, min_open=True),
              default=99.5, show_default=True,
              help="Target % for devices and sites (services and sites with their own target "
                   "in the inventory use that).")
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=90.0, show_default=True,
              help="Data coverage % below which the verdict is 'insufficient data' (0 turns it off).")
@click.option("--tz", default="Asia/Jakarta", show_default=True, callback=_check_tz,
              help="Time zone of the month boundaries, maintenance windows and the times shown "
                   "(Asia/Jakarta = WIB).")
@click.option("--state-dir", type=click.Path(path_type=Path),
              help="Where the ledger lives (default: settings state_dir).")
@click.option("--json", "json_", is_flag=True, help="Same as --format json.")
@pass_app
def report(app: AppContext, month: str | None, year: int | None, by: str, lang: str,
           fmt: str | None, output: Path | None, outage_list: bool, default_target: float,
           min_coverage: float, tz: str, state_dir: Path | None, json_: bool) -> int:
    """Availability per entity against its target for one month (or a year): data coverage
    and verdict, downtime, incidents, reboots, the outage list with causes; declared
    maintenance excluded; the previous month for comparison when it has data. HTML has charts
    and a timeline; CSV for spreadsheets. Only reads the ledger.

    \b
    Examples:
      simpul sla report --month 2026-10
      simpul sla report --month 2026-10 --by desa -o sla-desa-2026-10.html
      simpul sla report --month 2026-10 --by desa --outages --format csv --lang en
      simpul sla report --year 2026 --by service -o sla-2026.html
    """
    from .sla import month_range, parse_month, previous_month, year_months

    if month is not None and year is not None:
        raise UsageError("--month and --year: give one of them, not both")
    if month is None and year is None:
        raise UsageError("--month YYYY-MM or --year YYYY is required", hint="e.g. --month 2026-10")
    months = [month] if month is not None else year_months(int(year or 0))
    for m in months:
        parse_month(m)
    if app.want_json(json_):
        fmt = "json"
    fmt = _output_format(fmt, output)
    if output is not None:
        _check_writable(output)
    if outage_list and year is not None:
        raise UsageError("--outages: the outage list is per month; use --month")

    inv = app.inventory()
    now = time.time()
    sd = state_dir or app.settings.state_dir
    data = _LedgerData(sd / "ledger.sqlite")
    try:
        def rows_for(m: str) -> tuple[list[Any], float, float, float]:
            from .sla import report_rows

            start, period_end = month_range(m, tz)
            end = min(period_end, max(start, now))  # the current month is reported up to now
            ivs, evs = data.read(start, end)
            rows = report_rows(inv, ivs, evs, start, end, by=by, default_target=default_target,
                               tz=tz, min_coverage=min_coverage,
                               ongoing_at=end if end < period_end else None)
            return rows, start, end, period_end

        if year is not None:
            text = _year_output(app, inv, year, months, rows_for, now, tz, by, lang, fmt,
                                default_target, min_coverage)
        else:
            assert month is not None
            text = _month_output(inv, month, previous_month(month), rows_for, data, tz, by, lang,
                                 fmt, outage_list, default_target, min_coverage)
    finally:
        data.close()
    if text is not None:
        if output is not None:
            _write(output, text)
            click.echo(f"wrote {output}", err=True)
        else:
            click.echo(text, nl=False)
    return int(ExitCode.OK)


class _LedgerData:
    """The ledger, read-only; no ledger yet → no data (and the state dir is not created)."""

    def __init__(self, path: Path) -> None:
        from .ledger import Ledger

        self.path = path
        self.ledger: Any = None
        if not path.exists():
            log.warning("%s: no availability ledger yet (has 'simpul poll' run?); "
                        "every entity shows 'no data'", path)
            return
        self.ledger = Ledger(path, readonly=True)

    def read(self, start: float, end: float) -> tuple[dict[str, Any], list[Any]]:
        import sqlite3

        from simpul.errors import SimpulError

        if self.ledger is None:
            return {}, []
        try:
            return self.ledger.intervals(start, end), self.ledger.events(start, end)
        except sqlite3.DatabaseError as e:
            raise SimpulError(f"{self.path}: cannot read the availability ledger ({e})",
                              hint="restore it from a backup, or move it aside to start a new one"
                              ) from e

    def has_data(self, start: float, end: float) -> bool:
        ivs, _ = self.read(start, end)
        return any(ivs.values())

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()


def _month_output(inv: Any, month: str, prev: str, rows_for: Any, data: _LedgerData, tz: str,
                  by: str, lang: str, fmt: str, outage_list: bool, default_target: float,
                  min_coverage: float) -> str | None:
    from simpul.output import table, to_json

    from .report import TEXT, outages_csv, terminal_outages, terminal_summary, to_csv, to_html
    from .sla import attach_previous, month_range

    rows, start, end, period_end = rows_for(month)
    pstart, pend = month_range(prev, tz)
    prev_month: str | None = None
    if data.has_data(pstart, pend):
        prev_rows = rows_for(prev)[0]
        if attach_previous(rows, prev_rows, prev):
            prev_month = prev
    t = TEXT[lang]
    missed = [r for r in rows if r.met is False]
    if missed:
        log.info("%d of %d below target: %s", len(missed), len(rows),
                 ", ".join(r.entity for r in missed))
    if fmt == "table":
        if outage_list:
            table(f"{t['title_outages']} {month}", *terminal_outages(rows, t, lang, tz))
        else:
            table(f"{t['title']} {month}", *terminal_summary(rows, t, prev_month))
        return None
    if fmt == "html":
        return to_html(rows, month=month, by=by, start=start, end=end, period_end=period_end,
                       organisation=inv.organisation.name, lang=lang, tz=tz, prev_month=prev_month)
    if fmt == "csv":
        return outages_csv(rows, lang, tz) if outage_list else to_csv(rows, lang, prev_month=prev_month)
    return to_json({"month": month, "by": by, "tz": tz, "min_coverage_pct": min_coverage,
                    "default_target_pct": default_target, "previous_month": prev_month,
                    "rows": [r.to_dict(tz) for r in rows]}) + "\n"


def _year_output(app: AppContext, inv: Any, year: int, months: list[str], rows_for: Any,
                 now: float, tz: str, by: str, lang: str, fmt: str, default_target: float,
                 min_coverage: float) -> str | None:
    from simpul.output import table, to_json

    from .report import TEXT, year_cells, year_csv, year_header, year_html
    from .sla import month_range, year_rows

    per_month = [rows_for(m)[0] if month_range(m, tz)[0] < now else None for m in months]
    if all(m is None for m in per_month):
        raise UsageError(f"--year {year}: the year has not begun yet")
    yrows = year_rows(per_month)
    t = TEXT[lang]
    if fmt == "table":
        # the terminal drops the long official names; CSV and HTML keep them
        head = year_header(t, lang)
        table(f"{t['title_year']} {year}", head[:1] + head[2:],
              [(c := year_cells(y, t))[:1] + c[2:] for y in yrows])
        return None
    if fmt == "html":
        return year_html(yrows, year=year, by=by, organisation=inv.organisation.name, lang=lang, tz=tz)
    if fmt == "csv":
        return year_csv(yrows, lang)
    return to_json({"year": year, "by": by, "tz": tz, "months": months,
                    "min_coverage_pct": min_coverage, "default_target_pct": default_target,
                    "rows": [y.to_dict() for y in yrows]}) + "\n"
