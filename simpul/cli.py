"""The ``simpul`` command: one thin CLI over the library.

Only this module catches every exception: a :class:`SimpulError` prints one clear line and
exits with its documented code; anything else prints "internal error (re-run with
--traceback)". Domain command groups are imported lazily, so ``simpul --help`` stays fast and a
broken optional dependency only breaks the commands that need it.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import signal
import sys
import threading
import traceback
from pathlib import Path

import click

from simpul.context import AppContext
from simpul.errors import ExitCode, SimpulError
from simpul.output import setup_logging, stderr
from simpul.settings import load_settings

log = logging.getLogger(__name__)

# name -> (module, attribute, one-line help). Loaded on first use.
LAZY: dict[str, tuple[str, str, str]] = {
    "inventory": ("simpul.inventory_cli", "inventory", "Check, show and draw the inventory."),
    "oplog": ("simpul.oplog_cli", "oplog", "Show and verify the operations log."),
    "lab": ("simpul.lab.cli", "lab", "Bring the built-in lab up or down; cut or degrade links."),
    "harden": ("simpul.deploys.cli", "harden", "Plan, apply and audit server hardening."),
    "run": ("simpul.deploys.cli", "run", "Run an ad-hoc command on servers (fabric)."),
    "ipam": ("simpul.network.ipam_cli", "ipam", "Allocate, reserve, release and reconcile intranet addresses."),
    "net": ("simpul.network.net_cli", "net", "Render, diff, push, back up and check router configs."),
    "poll": ("simpul.monitoring.cli", "poll", "Poll SNMP agents into InfluxDB (cron or service)."),
    "sla": ("simpul.monitoring.cli", "sla", "Availability and SLA reports."),
    "backup": ("simpul.drc.backup_cli", "backup", "Backup jobs to the DRC: plan, deploy, status."),
    "drc": ("simpul.drc.cluster_cli", "drc", "Database takeover by the DRC: plan, deploy, status."),
    "drill": ("simpul.drc.drill_cli", "drill", "Restore and failover drills with measured RTO/RPO."),
    "evidence": ("simpul.evidence.cli", "evidence", "Signed evidence packs for SPBE evaluation and Audit TIK."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *[n for n in LAZY if self._available(n)]])

    @staticmethod
    def _available(name: str) -> bool:
        mod = LAZY[name][0]
        try:
            return importlib.util.find_spec(mod) is not None
        except ModuleNotFoundError:
            return False

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        if cmd is not None or name not in LAZY:
            return cmd
        module, attr, _ = LAZY[name]
        if not self._available(name):
            return None
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in LAZY:
                rows.append((name, LAZY[name][2]))
            else:
                c = super().get_command(ctx, name)
                if c is not None and not c.hidden:
                    rows.append((name, c.get_short_help_str(80)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option(
    "-i",
    "--inventory",
    "inventory",
    type=click.Path(path_type=Path),
    help="Inventory directory (default: setting 'inventory', or inventory/lab).",
)
@click.option("--config", type=click.Path(path_type=Path), help="Settings file (TOML).")
@click.option("--json", "json_", is_flag=True, help="Machine-readable results on stdout.")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-v, -vv).")
@click.option("--traceback", is_flag=True, help="Show the full traceback of internal errors.")
@click.version_option(package_name="simpul")
@click.pass_context
def cli(
    ctx: click.Context,
    inventory: Path | None,
    config: Path | None,
    json_: bool,
    verbose: int,
    traceback: bool,
) -> None:
    """Simpul: infrastructure-as-code and monitoring for the Pusat Data, the DRC and the
    Jaringan Intra of a Dinas Kominfo.

    \b
    Examples:
      simpul inventory check inventory/contoh-kabupaten
      simpul lab up
      simpul harden plan --limit site=pusat-data
      simpul poll --once
    """
    setup_logging(verbose)
    settings = load_settings(config)
    if inventory is not None:
        settings = settings.model_copy(update={"inventory": inventory})
    ctx.obj = AppContext(settings=settings, json=json_, verbosity=verbose,
                         inventory_given=inventory is not None)


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the process exit code.

    SIGTERM is handled like Ctrl-C: every command's clean-up (``finally``, the runner's
    :class:`~simpul.runner.Interrupted`) runs — a drill heals the links it cut, a push leaves the
    revert timer armed, a build removes its temporary folder — and the exit code is 130.
    Commands with a shutdown of their own (``simpul poll``) install their own handler."""
    show_tb = "--traceback" in (argv if argv is not None else sys.argv[1:])
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        return _main(argv, show_tb)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None, show_tb: bool) -> int:
    try:
        rv = cli.main(args=argv, prog_name="simpul", standalone_mode=False)
    except click.exceptions.Exit as e:
        return int(e.exit_code)
    except click.ClickException as e:
        e.show()
        return int(ExitCode.USAGE if isinstance(e, click.UsageError) else e.exit_code)
    except (click.Abort, KeyboardInterrupt):
        stderr.print("interrupted")
        return int(ExitCode.INTERRUPTED)
    except SimpulError as e:
        msg = f"error: {e.message}"
        click.echo(msg, err=True)
        if e.hint:
            click.echo(f"  hint: {e.hint}", err=True)
        return int(e.exit_code)
    except BrokenPipeError:
        return int(ExitCode.OK)
    except Exception as e:
        if show_tb:
            traceback.print_exc()
        else:
            click.echo(f"internal error: {type(e).__name__}: {e} (re-run with --traceback)", err=True)
        return int(ExitCode.ERROR)
    if isinstance(rv, int):
        return rv
    return int(ExitCode.OK)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
