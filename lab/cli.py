"""``simpul lab``: bring the built-in lab up or down, show it, cut and degrade its links.

Registered in ``simpul/cli.py`` as ``from simpul.lab.cli import lab``. Thin: every command calls
:mod:`simpul.lab.orchestrate` or :mod:`simpul.lab.wan` and only formats the result.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from simpul.errors import ExitCode
from simpul.inventory.loader import load_inventory
from simpul.inventory.models import Inventory
from simpul.output import print_json, stderr, stdout, table

from . import orchestrate, wan
from .topology import plan

INVENTORY_HELP = ("Lab inventory directory (default: the built-in inventory/lab, or "
                  "$SIMPUL_LAB_INVENTORY).")


def _json(ctx: click.Context) -> bool:
    """``simpul --json lab ...`` or ``simpul lab ... --json``."""
    obj = ctx.find_root().obj
    return bool(getattr(obj, "json", False)) or bool(ctx.params.get("json_"))


def _inv(path: Path | None) -> Inventory:
    return load_inventory(path or orchestrate.default_inventory())


@contextlib.contextmanager
def _progress(quiet: bool) -> Iterator[orchestrate.Progress]:
    """A rich status line on a TTY; silent otherwise (cron, CI, pipes)."""
    if quiet or not stderr.is_terminal:
        yield orchestrate._noop
        return
    with stderr.status("lab") as status:
        def update(msg: str) -> None:
            stderr.log(msg)
            status.update(msg)
        yield update


json_option = click.option("--json", "json_", is_flag=True,
                           help="Machine-readable result on stdout.")
inventory_option = click.option("--inventory", "inventory", type=click.Path(path_type=Path),
                                help=INVENTORY_HELP)


@click.group()
def lab() -> None:
    """The built-in lab: FRR routers, Debian servers, snmpd, InfluxDB, in namespaces.

    \b
    State (secrets, keys, configs, pidfiles) lives in $SIMPUL_LAB_DIR
    (default /var/lib/simpul/lab). Reach hosts by name:
      ssh -F /var/lib/simpul/lab/ssh_config core-1
    """


@lab.command()
@inventory_option
@click.option("--no-servers", is_flag=True, help="Routers and NOC services only.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@json_option
@click.pass_context
def up(ctx: click.Context, json_: bool, inventory: Path | None, no_servers: bool, quiet: bool) -> None:
    """Build the lab (idempotent: running it twice is harmless).

    \b
    Example:
      sudo simpul lab up && ssh -F /var/lib/simpul/lab/ssh_config core-1
    """
    with _progress(quiet) as progress:
        rep = orchestrate.up(_inv(inventory), progress=progress, servers=not no_servers)
    st = orchestrate.state()
    if _json(ctx):
        print_json({**rep.__dict__, "state_dir": str(st.root), "ssh_config": str(st.ssh_config)})
        return
    stdout.print(f"lab up in {rep.seconds:.1f} s: {rep.routers} routers, {rep.servers} servers "
                 f"(OSPF converged in {rep.ospf_seconds:.1f} s)")
    if rep.servers_skipped:
        stdout.print("servers skipped: simpul.lab.servers is not available")
    stdout.print(f"reach hosts with: ssh -F {st.ssh_config} core-1")


@lab.command()
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@json_option
@click.pass_context
def down(ctx: click.Context, json_: bool, quiet: bool) -> None:
    """Remove every namespace, link, route, mount and process the lab created.

    Works after a crash or a half-finished 'up' (finds the lab by its name prefixes and
    pidfiles) and touches nothing else.

    \b
    Example:
      sudo simpul lab down
    """
    with _progress(quiet) as progress:
        rep = orchestrate.down(progress=progress)
    if _json(ctx):
        print_json(rep.__dict__)
        return
    stdout.print(f"lab down in {rep.seconds:.1f} s ({len(rep.namespaces)} namespaces removed)")


def _yn(v: Any) -> str:
    return "yes" if v else "no"


@lab.command()
@inventory_option
@json_option
@click.pass_context
def status(ctx: click.Context, json_: bool, inventory: Path | None) -> None:
    """Every lab host with its address and whether SSH and SNMP answer.

    Exit code 0 if everything answers, 4 if the lab is down, 5 if some host does not answer.

    \b
    Example:
      simpul lab status --json     (or: simpul --json lab status)
    """
    data = orchestrate.status(_inv(inventory))
    if _json(ctx):
        print_json(data)
    else:
        table("lab hosts", ["host", "kind", "address", "running", "ssh", "snmp"],
              [[h["name"], h["kind"], h["address"], _yn(h["running"]), _yn(h["ssh"]),
                _yn(h["snmp"])] for h in data["hosts"]])
        table("links", ["link", "medium", "state", "loss %", "rate Mbit/s"],
              [[x["name"], x["medium"], x["state"], x["loss"], x["rate_mbit"]]
               for x in data["links"]])
        table("NOC services", ["service", "url", "pid", "healthy"],
              [[s["name"], s["url"], s["pid"], _yn(s["healthy"])] for s in data["services"]])
    if not data["up"]:
        ctx.exit(int(ExitCode.UNREACHABLE))
    bad = [h for h in data["hosts"] if not (h["ssh"] and h["snmp"])]
    bad += [s for s in data["services"] if not s["healthy"]]
    if bad:
        ctx.exit(int(ExitCode.PARTIAL))


@lab.group()
def link() -> None:
    """Cut, restore and degrade lab links (inventory link names, and 'wan').

    \b
    Examples:
      simpul lab link down wan
      simpul lab link up wan
      simpul lab link degrade core-kemloko --loss 5 --rate 10mbit
      simpul lab link degrade core-kemloko --clear
    """


def _link_result(ctx: click.Context, name: str, state: wan.LinkState) -> None:
    if _json(ctx):
        print_json({"link": name, **state.__dict__})
    else:
        rate = f"{state.rate_mbit:g} Mbit/s" if state.rate_mbit else "unlimited"
        stdout.print(f"{name}: {'up' if state.up else 'down'}, loss {state.loss:g} %, "
                     f"rate {rate}")


@link.command("down")
@click.argument("name")
@inventory_option
@json_option
@click.pass_context
def link_down(ctx: click.Context, json_: bool, name: str, inventory: Path | None) -> None:
    """Cut link NAME (both ends go down)."""
    topo = plan(_inv(inventory))
    _link_result(ctx, name, wan.set_up(orchestrate.state(), topo, name, False))


@link.command("up")
@click.argument("name")
@inventory_option
@json_option
@click.pass_context
def link_up(ctx: click.Context, json_: bool, name: str, inventory: Path | None) -> None:
    """Restore link NAME."""
    topo = plan(_inv(inventory))
    _link_result(ctx, name, wan.set_up(orchestrate.state(), topo, name, True))


@link.command("degrade")
@click.argument("name")
@click.option("--loss", type=click.FloatRange(0, 100), help="Packet loss in percent, each way.")
@click.option("--rate", help="Rate limit, e.g. 10mbit, 512kbit ('none' removes it).")
@click.option("--clear", is_flag=True, help="Remove loss and rate limit first.")
@inventory_option
@json_option
@click.pass_context
def link_degrade(ctx: click.Context, json_: bool, name: str, loss: float | None, rate: str | None,
                 clear: bool, inventory: Path | None) -> None:
    """Make link NAME lossy and/or slow (nftables loss, tbf rate; no netem on this kernel)."""
    if loss is None and rate is None and not clear:
        raise click.UsageError("give --loss, --rate or --clear")
    topo = plan(_inv(inventory))
    st = orchestrate.state()
    if rate is not None and rate.lower() in ("none", "0", "off"):
        # remove only the rate limit: clear everything, then put the loss back
        cur = wan.load_states(st).get(name)
        keep_loss = loss if loss is not None else (cur.loss if cur else 0.0)
        state = wan.degrade(st, topo, name, loss=keep_loss, rate_mbit=None, clear=True)
    else:
        state = wan.degrade(st, topo, name, loss=loss,
                            rate_mbit=wan.parse_rate(rate) if rate else None, clear=clear)
    _link_result(ctx, name, state)


# --- lab seed (issue 13: data for backups and restore drills; lab/seed.py) --------------------


@lab.command("seed")
@inventory_option
@click.option("--scale", type=click.IntRange(1, 20), default=1, show_default=True,
              help="Size multiplier (1: ~150 MB PostgreSQL, ~80 MB MariaDB, ~60 MB files).")
@json_option
@click.pass_context
def seed_cmd(ctx: click.Context, json_: bool, inventory: Path | None, scale: int) -> None:
    """Put SIMPEG-like data on the Pusat Data servers: PostgreSQL 'simpeg' on pd-db, MariaDB
    'absensi' and /srv/simpeg/uploads on pd-app (idempotent; ~1 s when already seeded).

    \b
    Example:
      sudo simpul lab up && sudo simpul lab seed
    """
    from simpul.context import AppContext
    from simpul.results import exit_code_for
    from simpul.ssh import known_hosts_path

    from .seed import seed

    inv = _inv(inventory)
    results = seed(inv, known_hosts_path(None, orchestrate.state().known_hosts), scale=scale)
    app = ctx.find_object(AppContext)
    if app is not None:
        for r in results:
            if r.changed or r.failed:
                app.record("lab.seed", r.target, str(r.status),
                           params={"scale": scale, "message": r.message})
    if _json(ctx):
        print_json([r.to_dict() for r in results])
    else:
        table("lab data", ["server", "status", "what", "seconds"],
              [[r.target, str(r.status), r.message, f"{r.seconds:.1f}"] for r in results])
    code = exit_code_for(results)
    if code:
        ctx.exit(int(code))
