"""One driver per platform behind a lookup table, with napalm's interface.

napalm (``napalm/base/base.py``) is the example: ``get_config``, load a candidate, compare,
``commit_config(revert_in=...)``, ``confirm_commit``, ``discard_config``, ``rollback``. Here a
driver wraps one open :class:`~simpul.network.connection.Session`; the push workflow
(:mod:`simpul.network.push`) calls the same methods on every platform:

=================  ===============================================================================
platform           how commit-confirm works on the device
=================  ===============================================================================
frr (Linux+FRR)    the router's device helper (host side): checkpoint of the running config,
                   frr.conf and the management ACL (nftables); a timer restores all three with
                   FRR's own frr-reload.py unless ``confirm`` arrives over a *fresh* login
cisco_ios / xe     ``archive`` + ``configure terminal revert timer N``; confirm with
                   ``configure confirm``; roll back with ``configure revert now``
huawei (VRP)       two-stage commit: ``system-view`` ... ``commit trial N``; confirm with
                   ``commit``; roll back with ``abort trial``
mikrotik_routeros  a scheduled revert script (``/system scheduler`` + ``/system backup``) removed by
                   the confirm from a fresh login (safe mode cannot be confirmed from a new session)
=================  ===============================================================================

The lab runs only FRR: the other drivers are tested against recorded device answers
(``tests/unit/test_net_drivers.py``), which proves the command sequences, not the devices.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any, ClassVar

from simpul.errors import SimpulError
from simpul.inventory.models import Inventory

from .collect import HELPER, device_facts
from .connection import Session
from .differ import ConfigDiff, diff_config
from .parse import Facts
from .render import Rendered, resolve_secrets

log = logging.getLogger(__name__)

Step = Callable[[str], None]


class DriverError(SimpulError):
    """The device did not do what the driver asked (names the router)."""


@dataclass
class Change:
    """What a push would change on one router: the config diff and the host part (FRR ACL)."""

    config: ConfigDiff
    host: list[str] = field(default_factory=list)
    """Host-side actions (FRR: ``acl-set CIDR...``), shown in the diff as ``host: ...``."""

    @property
    def empty(self) -> bool:
        return self.config.empty and not self.host

    def text(self) -> str:
        out = self.config.text()
        for h in self.host:
            out += f"host: {h}\n"
        return out

    def line_count(self) -> int:
        return len(self.config.commands) + len(self.host)


class Driver:
    """Base driver: napalm-style operations over one session."""

    platform: ClassVar[str] = ""
    save_command: ClassVar[str] = "write memory"

    def __init__(self, session: Session, inv: Inventory) -> None:
        self.s = session
        self.inv = inv

    # --- read ------------------------------------------------------------------------------

    def get_facts(self) -> Facts:
        return device_facts(self.s)

    def get_config(self, which: str = "running") -> str:
        raise NotImplementedError

    def compare(self, rendered: Rendered) -> Change:
        return Change(diff_config(self.platform, rendered.main, self.get_config("running")))

    def unsaved(self) -> ConfigDiff:
        """Running vs startup: what would be lost on a reboot (empty = saved)."""
        return diff_config(self.platform, self.get_config("running"), self.get_config("startup"))

    # --- write -----------------------------------------------------------------------------

    def commit_config(self, change: Change, *, revert_in: int, step: Step | None = None,
                      chunk: int = 50) -> str:
        """Keep a way back, arm the revert timer, apply ``change``; return the checkpoint id."""
        raise NotImplementedError

    def confirm_commit(self, checkpoint: str) -> None:
        raise NotImplementedError

    def rollback(self, checkpoint: str) -> None:
        raise NotImplementedError

    def rollback_state(self, checkpoint: str) -> str | None:
        """'rolled back: <reason>' if the device rolled ``checkpoint`` back, else None."""
        return None

    def save(self) -> None:
        self.s.show(self.save_command)

    def ping(self, target: IPv4Address, source: IPv4Address | None) -> bool:
        raise NotImplementedError

    def _send(self, lines: list[str], step: Step | None, chunk: int) -> None:
        resolved = [resolve_secrets(self.inv, ln) if "<secret:" in ln else ln for ln in lines]
        for i in range(0, len(resolved), max(1, chunk)):
            self.s.configure(resolved[i:i + chunk])
            if step:
                step(f"applied {min(i + chunk, len(resolved))}/{len(resolved)} lines")


# --- FRR on Linux (the lab) ---------------------------------------------------------------------


class FrrDriver(Driver):
    """FRR over vtysh, with the router's device helper for the host part and commit-confirm."""

    platform = "frr"

    def helper(self, *args: str, timeout: float = 60) -> Any:
        rc, out, err = self.s.exec(" ".join([HELPER, *args]), timeout=timeout)
        err = "\n".join(ln for ln in err.splitlines() if not ln.startswith("sudo: unable to resolve host"))
        if rc != 0:
            raise DriverError(f"{self.s.name}: device helper '{args[0]}' failed: "
                              f"{(err or out).strip()[:300] or f'exit {rc}'}",
                              hint="the router needs the lab's device helper (simpul lab up installs it)")
        return json.loads(out) if out.strip().startswith(("{", "[")) else out

    def get_config(self, which: str = "running") -> str:
        if which == "running":
            return self.s.show("show running-config")
        return str(self.helper("startup"))

    def acl(self) -> list[IPv4Network]:
        info = self.helper("acl-show")
        return sorted(IPv4Network(a) for a in info.get("admit", [])) if info.get("present") else []

    def acl_present(self) -> bool:
        return bool(self.helper("acl-show").get("present"))

    def compare(self, rendered: Rendered) -> Change:
        change = Change(diff_config("frr", rendered.files["frr.conf"], self.get_config("running")))
        want = sorted(rendered.intent.mgmt_acl)
        info = self.helper("acl-show")
        have = sorted(IPv4Network(a) for a in info.get("admit", []))
        if not info.get("present") or have != want:
            change.host.append("acl-set " + " ".join(str(n) for n in want))
        return change

    def commit_config(self, change: Change, *, revert_in: int, step: Step | None = None,
                      chunk: int = 50) -> str:
        cid = str(self.helper("checkpoint")["id"])
        self.helper("arm", cid, str(revert_in))
        if step:
            step(f"checkpoint {cid}; rollback armed for {revert_in} s")
        self._send(change.config.commands, step, chunk)
        for h in change.host:
            self.helper(*h.split())
            if step:
                step(f"host: {h}")
        return cid

    def confirm_commit(self, checkpoint: str) -> None:
        self.helper("confirm", checkpoint)

    def rollback(self, checkpoint: str) -> None:
        self.helper("rollback", checkpoint, timeout=120)

    def rollback_state(self, checkpoint: str) -> str | None:
        st = self.helper("status")
        last = st.get("last_rollback") or {}
        if last.get("id") == checkpoint:
            probs = "; ".join(last.get("problems") or [])
            return f"{last.get('reason', 'rolled back')}{' (problems: ' + probs + ')' if probs else ''}"
        return None

    def armed(self) -> dict[str, Any] | None:
        return self.helper("status").get("armed")  # type: ignore[no-any-return]

    def save(self) -> None:
        out = self.s.show("write memory", read_timeout=60)
        if "[OK]" not in out and "Configuration saved" not in out:
            raise DriverError(f"{self.s.name}: write memory did not confirm: {out.strip()[-200:]}")

    def ping(self, target: IPv4Address, source: IPv4Address | None) -> bool:
        args = ["ping", str(target)] + ([str(source)] if source else [])
        return bool(self.helper(*args, timeout=30).get("reachable"))


# --- Cisco IOS / IOS-XE -------------------------------------------------------------------------


class CiscoIosDriver(Driver):
    """IOS: ``configure terminal revert timer`` (Configuration Rollback Confirmed Change).

    Needs ``archive`` configured (the driver adds ``archive / path flash:simpul-archive``): IOS
    saves the running config there before the change and restores it when the timer expires,
    also when the session that pushed is cut. ``configure confirm`` keeps the change.
    """

    platform = "cisco_ios"
    ARCHIVE: ClassVar[tuple[str, ...]] = ("archive", " path flash:simpul-archive", " maximum 5", "exit")

    def get_config(self, which: str = "running") -> str:
        return self.s.show("show running-config" if which == "running" else "show startup-config",
                           read_timeout=120)

    def commit_config(self, change: Change, *, revert_in: int, step: Step | None = None,
                      chunk: int = 50) -> str:
        self.s.configure(list(self.ARCHIVE))
        minutes = max(1, (revert_in + 59) // 60)
        lines = [resolve_secrets(self.inv, ln) if "<secret:" in ln else ln for ln in change.config.commands]
        self.s.conn.send_config_set(lines, config_mode_command=f"configure terminal revert timer {minutes}",
                                    error_pattern=self.s.platform.error_pattern)
        if step:
            step(f"applied {len(lines)} lines; revert timer {minutes} min")
        return f"revert-timer-{minutes}m"

    def confirm_commit(self, checkpoint: str) -> None:
        self.s.show("configure confirm")

    def rollback(self, checkpoint: str) -> None:
        self.s.show("configure revert now")

    def ping(self, target: IPv4Address, source: IPv4Address | None) -> bool:
        out = self.s.show(f"ping {target}" + (f" source {source}" if source else "") + " repeat 3")
        return "Success rate is 0 percent" not in out and "!" in out


class CiscoXeDriver(CiscoIosDriver):
    platform = "cisco_xe"


# --- Huawei VRP ---------------------------------------------------------------------------------


class HuaweiDriver(Driver):
    """VRP two-stage commit: changes in ``system-view`` stay a candidate until ``commit``;
    ``commit trial N`` activates them for N seconds and reverts unless ``commit`` follows."""

    platform = "huawei"
    save_command = "save"

    def get_config(self, which: str = "running") -> str:
        return self.s.show("display current-configuration" if which == "running"
                           else "display saved-configuration", read_timeout=120)

    def commit_config(self, change: Change, *, revert_in: int, step: Step | None = None,
                      chunk: int = 50) -> str:
        lines = [resolve_secrets(self.inv, ln) if "<secret:" in ln else ln for ln in change.config.commands]
        self.s.conn.send_config_set([*lines, f"commit trial {max(60, revert_in)}"],
                                    error_pattern=self.s.platform.error_pattern)
        if step:
            step(f"applied {len(lines)} lines; commit trial {max(60, revert_in)} s")
        return "commit-trial"

    def confirm_commit(self, checkpoint: str) -> None:
        self.s.conn.send_config_set(["commit"])

    def rollback(self, checkpoint: str) -> None:
        self.s.conn.send_config_set(["abort trial"])

    def save(self) -> None:
        self.s.conn.send_command_timing("save")
        self.s.conn.send_command_timing("y")

    def ping(self, target: IPv4Address, source: IPv4Address | None) -> bool:
        out = self.s.show(f"ping -c 3 {'-a ' + str(source) + ' ' if source else ''}{target}")
        return "100.00% packet loss" not in out


# --- MikroTik RouterOS --------------------------------------------------------------------------


class RouterOsDriver(Driver):
    """RouterOS: a backup plus a scheduled revert script, removed by the confirm.

    Safe mode would revert on a cut session, but cannot be confirmed from a *fresh* login; the
    scheduler entry can (it is just removed). The revert loads the backup (the router reboots).
    """

    platform = "mikrotik_routeros"

    def get_config(self, which: str = "running") -> str:
        # RouterOS has no separate startup config: every change is saved at once
        return self.s.show("/export terse", read_timeout=120)

    def unsaved(self) -> ConfigDiff:
        return ConfigDiff(self.platform)

    def commit_config(self, change: Change, *, revert_in: int, step: Step | None = None,
                      chunk: int = 50) -> str:
        cid = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        self.s.show(f"/system backup save name=simpul-{cid} dont-encrypt=yes")
        self.s.show(f'/system scheduler add name=simpul-revert-{cid} interval={revert_in}s '
                    f'on-event="/system backup load name=simpul-{cid}.backup password=\\"\\""')
        self._send(change.config.commands, step, chunk)
        return cid

    def confirm_commit(self, checkpoint: str) -> None:
        self.s.show(f"/system scheduler remove [find name=simpul-revert-{checkpoint}]")

    def rollback(self, checkpoint: str) -> None:
        self.s.show(f'/system backup load name=simpul-{checkpoint}.backup password=""')

    def save(self) -> None:
        return None  # RouterOS saves every change itself

    def _send(self, lines: list[str], step: Step | None, chunk: int) -> None:
        for i, ln in enumerate(lines):
            self.s.show(resolve_secrets(self.inv, ln) if "<secret:" in ln else ln)
            if step and (i + 1) % chunk == 0:
                step(f"applied {i + 1}/{len(lines)} lines")

    def ping(self, target: IPv4Address, source: IPv4Address | None) -> bool:
        out = self.s.show(f"/ping {target} count=3" + (f" src-address={source}" if source else ""))
        return "packet-loss=100%" not in out.replace(" ", "")


DRIVERS: dict[str, type[Driver]] = {
    "frr": FrrDriver,
    "cisco_ios": CiscoIosDriver,
    "cisco_xe": CiscoXeDriver,
    "huawei": HuaweiDriver,
    "mikrotik_routeros": RouterOsDriver,
}
"""Inventory platform -> driver class (napalm/netmiko style lookup table)."""


def driver_for(session: Session, inv: Inventory) -> Driver:
    return DRIVERS[session.platform.name](session, inv)
