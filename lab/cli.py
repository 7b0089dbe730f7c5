"""``simpul lab``: bring the built-in lab up or down, reset servers, show it, cut and degrade
its links.

Registered in ``simpul/cli.py`` as ``from simpul.lab.cli import lab``. Thin: every command calls
:mod:`simpul.lab.orchestrate` or :mod:`simpul.lab.wan`, formats the result and records the
state change in the operations log through the application context (the one writer).

Which inventory: ``--inventory DIR`` on the lab command, else the global ``simpul -i DIR``, else
``$SIMPUL_LAB_INVENTORY``, else the built-in ``inventory/lab``. (The settings' ``inventory`` is
for the production inventory and is not used to build a lab.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from simpul.context import AppContext, pass_app
from simpul.errors import ExitCode
from simpul.inventory.loader import load_inventory
from simpul.inventory.models import Inventory
from simpul.output import print_json, stderr, stdout, table

from . import orchestrate, wan
from .netns import LabError
from .topology import plan

INVENTORY_HELP = ("Lab inventory directory (default: the built-in inventory/lab, or "
                  "$SIMPUL_LAB_INVENTORY).")


# The lab is a test environment kept apart from production (ISO/IEC 27001:2022 A.8.31); its
# bring-up, tear-down, resets and link cuts are recorded like any other state change.
REFS = ["ISO/IEC 27001:2022 A.8.31 (pemisahan lingkungan uji dan produksi)",
        "Pergub Jambi 12/2022 Pasal 23(2)(e) (rencana kontinjensi diuji)"]


def _inv(app: AppContext, path: Path | None) -> Inventory:
    if path is None and app.inventory_given:
        path = app.inventory_dir
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
@pass_app
def up(app: AppContext, json_: bool, inventory: Path | None, no_servers: bool, quiet: bool) -> None:
    """Build the lab (idempotent: running it twice is harmless).

    \b
    Example:
      sudo simpul lab up && ssh -F /var/lib/simpul/lab/ssh_config core-1
    """
    inv = _inv(app, inventory)
    with _progress(quiet) as progress:
        rep = orchestrate.up(inv, progress=progress, servers=not no_servers)
    st = orchestrate.state()
    app.record("lab.up", "lab", "ok", refs=REFS,
               params={"inventory": inv.source, "routers": rep.routers, "servers": rep.servers,
                       "seconds": rep.seconds, "state_dir": str(st.root)})
    if app.want_json(json_):
        print_json({**rep.__dict__, "state_dir": str(st.root), "ssh_config": str(st.ssh_config)})
        return
    stdout.print(f"lab up in {rep.seconds:.1f} s: {rep.routers} routers, {rep.servers} servers "
                 f"(OSPF converged in {rep.ospf_seconds:.1f} s)")
    stdout.print(f"reach hosts with: ssh -F {st.ssh_config} core-1")


@lab.command()
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@json_option
@pass_app
def down(app: AppContext, json_: bool, quiet: bool) -> None:
    """Remove every namespace, link, route, mount and process the lab created.

    Works after a crash or a half-finished 'up' (finds the lab by its name prefixes and
    pidfiles) and touches nothing else.

    \b
    Example:
      sudo simpul lab down
    """
    try:
        with _progress(quiet) as progress:
            rep = orchestrate.down(progress=progress)
    except LabError as e:
        app.record("lab.down", "lab", "partial", refs=REFS, params={"problems": e.message})
        raise
    if rep.namespaces:
        app.record("lab.down", "lab", "ok", refs=REFS,
                   params={"namespaces": len(rep.namespaces), "seconds": rep.seconds})
    if app.want_json(json_):
        print_json(rep.__dict__)
        return
    stdout.print(f"lab down in {rep.seconds:.1f} s ({len(rep.namespaces)} namespaces removed)")


def _yn(v: Any) -> str:
    return "yes" if v else "no"


@lab.command()
@inventory_option
@json_option
@click.pass_context
@pass_app
def status(app: AppContext, ctx: click.Context, json_: bool, inventory: Path | None) -> None:
    """Every lab host with its address and whether SSH and SNMP answer.

    Exit code 0 if everything answers, 4 if the lab is down, 5 if some host does not answer.

    \b
    Example:
      simpul lab status --json     (or: simpul --json lab status)
    """
    data = orchestrate.status(_inv(app, inventory))
    if app.want_json(json_):
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


@lab.command()
@click.argument("hosts", nargs=-1)
@inventory_option
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@json_option
@pass_app
def reset(app: AppContext, hosts: tuple[str, ...], inventory: Path | None, quiet: bool,
          json_: bool) -> None:
    """Give lab servers a fresh disk, as the image made them (all servers if none named).

    'lab down' + 'lab up' keeps every server's changes on purpose: that is how a reboot is
    tested. 'lab reset' is the way back to fresh servers: each named server is stopped, its
    disk (overlay) wiped and — when the lab is up — booted again. Host keys are kept.

    \b
    Examples:
      sudo simpul lab reset pd-web pd-db
      sudo simpul lab reset            # every lab server
    """
    with _progress(quiet) as progress:
        done = orchestrate.reset(_inv(app, inventory), list(hosts) or None, progress=progress)
    for n in done:
        app.record("lab.reset", n, "ok", refs=REFS)
    if app.want_json(json_):
        print_json({"reset": done})
    else:
        stdout.print(f"reset {len(done)} server(s): {', '.join(done)}")


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


def _link_result(app: AppContext, json_: bool, name: str, state: wan.LinkState, action: str) -> None:
    app.record(f"lab.link.{action}", name, "ok", refs=REFS,
               params={"up": state.up, "loss": state.loss, "rate_mbit": state.rate_mbit})
    if app.want_json(json_):
        print_json({"link": name, **state.__dict__})
    else:
        rate = f"{state.rate_mbit:g} Mbit/s" if state.rate_mbit else "unlimited"
        stdout.print(f"{name}: {'up' if state.up else 'down'}, loss {state.loss:g} %, "
                     f"rate {rate}")


@link.command("down")
@click.argument("name")
@inventory_option
@json_option
@pass_app
def link_down(app: AppContext, json_: bool, name: str, inventory: Path | None) -> None:
    """Cut link NAME (both ends go down)."""
    topo = plan(_inv(app, inventory))
    _link_result(app, json_, name, wan.set_up(orchestrate.state(), topo, name, False), "down")


@link.command("up")
@click.argument("name")
@inventory_option
@json_option
@pass_app
def link_up(app: AppContext, json_: bool, name: str, inventory: Path | None) -> None:
    """Restore link NAME."""
    topo = plan(_inv(app, inventory))
    _link_result(app, json_, name, wan.set_up(orchestrate.state(), topo, name, True), "up")


@link.command("degrade")
@click.argument("name")
@click.option("--loss", type=click.FloatRange(0, 100), help="Packet loss in percent, each way.")
@click.option("--rate", help="Rate limit, e.g. 10mbit, 512kbit ('none' removes it).")
@click.option("--clear", is_flag=True, help="Remove loss and rate limit first.")
@inventory_option
@json_option
@pass_app
def link_degrade(app: AppContext, json_: bool, name: str, loss: float | None, rate: str | None,
                 clear: bool, inventory: Path | None) -> None:
    """Make link NAME lossy and/or slow (nftables loss, tbf rate; no netem on this kernel)."""
    if loss is None and rate is None and not clear:
        raise click.UsageError("give --loss, --rate or --clear")
    topo = plan(_inv(app, inventory))
    st = orchestrate.state()
    if rate is not None and rate.lower() in ("none", "0", "off"):
        # remove only the rate limit: clear everything, then put the loss back
        cur = wan.load_states(st).get(name)
        keep_loss = loss if loss is not None else (cur.loss if cur else 0.0)
        state = wan.degrade(st, topo, name, loss=keep_loss, rate_mbit=None, clear=True)
    else:
        state = wan.degrade(st, topo, name, loss=loss,
                            rate_mbit=wan.parse_rate(rate) if rate else None, clear=clear)
    _link_result(app, json_, name, state, "degrade")
