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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any, ClassVar

from simpul.errors import SimpulError
from simpul.inventory.models import Inventory
from simpul.lab.router_helper import config_digest

from .collect import HELPER, device_facts, helper_reply
from .connection import Session
from .differ import ConfigDiff, diff_config
from .parse import Facts, frr_ospf_neighbors
from .render import Rendered, resolve_secrets

log = logging.getLogger(__name__)

Step = Callable[[str], None]


def _same_config(a: str, b: str) -> bool:
    """Equal but for the header a show command adds, the closing ``end`` and blank/``!`` lines
    (the same rule the lab routers' device helper applies to a checkpoint's digest)."""
    return bool(config_digest(a) == config_digest(b))


Pings = list[tuple[IPv4Address, IPv4Address | None]]
"""(target, source) pairs: the Pusat Data addresses a router must reach, from its loopback."""


@dataclass
class PostCheck:
    """What the push's post-check found (empty lists: passed)."""

    missing: list[str] = field(default_factory=list)
    """OSPF neighbours (router-ids) that were Full before and are not again."""
    unreachable: list[IPv4Address] = field(default_factory=list)
    confirmed: bool = False

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unreachable


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

    def compare(self, rendered: Rendered, running: str | None = None) -> Change:
        """What a push would change (``running``: the running config, if already fetched)."""
        return Change(diff_config(self.platform, rendered.main,
                                  running if running is not None else self.get_config("running")))

    def unsaved(self, running: str | None = None) -> ConfigDiff:
        """Running vs startup: what would be lost on a reboot (empty = saved)."""
        running = running if running is not None else self.get_config("running")
        startup = self.get_config("startup")
        if _same_config(running, startup):
            return ConfigDiff(self.platform)  # the common case, without parsing both
        return diff_config(self.platform, running, startup)

    def ospf_neighbors(self) -> dict[str, dict[str, str]]:
        """OSPF neighbours (router-id -> state, address, interface): the push's pre/post-check."""
        neighbors: dict[str, dict[str, str]] = self.get_facts()["ospf_neighbors"]
        return neighbors

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

    def prefetch(self, pings: Pings, *, precheck: bool = True) -> None:
        """Fetch in one go what ``compare`` (and with ``precheck`` the push's pre-check) will
        ask: a hint; drivers may ignore it."""
        return None

    def ospf_back(self, before: Sequence[str], wait: float) -> list[str]:
        """The OSPF neighbours of ``before`` that are not Full again within ``wait`` s."""
        deadline = time.monotonic() + wait
        while True:
            now = {r for r, n in self.ospf_neighbors().items() if n["state"].startswith("Full")}
            missing = [r for r in before if r not in now]
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.5)

    def post_check_confirm(self, checkpoint: str, before: Sequence[str], pings: Pings,
                           wait: float, *, ospf_from: Driver | None = None) -> PostCheck:
        """The post-check — OSPF neighbours ``before`` Full again within ``wait`` s (asked over
        ``ospf_from``, the pushing session's open CLI, if given: the same router state, no new
        login), then every ping answered over this session — and ``confirm_commit`` over this
        session only if it passed."""
        missing = (ospf_from or self).ospf_back(before, wait)
        if missing:
            return PostCheck(missing=missing)
        pc = PostCheck(unreachable=[t for t, src in pings if not self.ping(t, src)])
        if pc.ok:
            self.confirm_commit(checkpoint)
            pc.confirmed = True
        return pc

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

    def __init__(self, session: Session, inv: Inventory) -> None:
        super().__init__(session, inv)
        self._prefetched: dict[str, Any] = {}
        self._saved_digest: str | None = None

    def unsaved(self, running: str | None = None) -> ConfigDiff:
        running = running if running is not None else self.get_config("running")
        diff = super().unsaved(running)
        self._saved_digest = config_digest(running) if diff.empty else None
        return diff

    def prefetch(self, pings: Pings, *, precheck: bool = True) -> None:
        """What ``compare`` and the pre-check need, fetched at once: one device-helper call for
        the host part (ACL, startup config, pings — each helper call is a login shell, sudo and a
        Python start on the router) runs on its own channel while the CLI session reads the
        running config (and the OSPF neighbours). Later answers come from here, once."""
        verbs = [["acl-show"]]
        if precheck:
            verbs += [["startup"], *(["ping", str(t), *([str(src)] if src else [])] for t, src in pings)]
        helper = " ".join([HELPER, *[w for i, v in enumerate(verbs) for w in ([*v] if i == 0 else ["+", *v])]])
        chans = self.s.exec_start([helper], timeout=60)
        self._prefetched["show running-config"] = self.s.show("show running-config")
        if precheck:
            self._prefetched["show ip ospf neighbor json"] = self.s.show("show ip ospf neighbor json")
        outs = self._helper_answer(verbs[0][0], *self.s.exec_wait(chans, timeout=60)[0])
        outs = outs if len(verbs) > 1 else [outs]
        self._prefetched["acl-show"] = outs[0]
        if precheck:
            self._prefetched["startup"] = outs[1]
            for (t, src), out in zip(pings, outs[2:], strict=True):
                self._prefetched[f"ping {t} {src or ''}"] = out

    def _show(self, command: str) -> str:
        if command in self._prefetched:
            return str(self._prefetched.pop(command))
        return self.s.show(command)

    def _cached(self, key: str, *args: str, timeout: float = 60) -> Any:
        if key in self._prefetched:
            return self._prefetched.pop(key)
        return self.helper(*args, timeout=timeout)

    def helper(self, *args: str, timeout: float = 60) -> Any:
        rc, out, err = self.s.exec(" ".join([HELPER, *args]), timeout=timeout)
        return self._helper_answer(args[0], rc, out, err)

    def _helper_answer(self, verb: str, rc: int, out: str, err: str) -> Any:
        rc, out, err = helper_reply(rc, out, err)
        if rc != 0:
            raise DriverError(f"{self.s.name}: device helper '{verb}' failed: "
                              f"{err.strip()[:300] or f'exit {rc}'}",
                              hint="the router needs the lab's device helper service (simpul lab up "
                              "installs and starts it)")
        return json.loads(out) if out.strip().startswith(("{", "[")) else out

    def get_config(self, which: str = "running") -> str:
        if which == "running":
            return self._show("show running-config")
        return str(self._cached("startup", "startup"))

    def acl_info(self) -> dict[str, Any]:
        """The management ACL in force (``{"present", "admit": [CIDR...]}``)."""
        info: dict[str, Any] = self._cached("acl-show", "acl-show")
        return info

    def acl(self) -> list[IPv4Network]:
        info = self.helper("acl-show")
        return sorted(IPv4Network(a) for a in info.get("admit", [])) if info.get("present") else []

    def acl_present(self) -> bool:
        return bool(self.helper("acl-show").get("present"))

    def ospf_neighbors(self) -> dict[str, dict[str, str]]:
        return frr_ospf_neighbors(self._show("show ip ospf neighbor json"))

    def post_check_confirm(self, checkpoint: str, before: Sequence[str], pings: Pings,
                           wait: float, *, ospf_from: Driver | None = None) -> PostCheck:
        """The post-check and the confirm in one device-helper call (``confirm-if``): the
        router pings (and checks its OSPF neighbours, unless ``ospf_from`` — the pushing
        session's open CLI — has done that already, cheaper) and confirms only if all passed."""
        if ospf_from is not None:
            missing = ospf_from.ospf_back(before, wait)
            if missing:
                return PostCheck(missing=missing)
            before = []
        ans = self.helper("confirm-if", checkpoint, f"{wait:g}", ",".join(before) or "-",
                          ",".join(f"{t}/{src}" if src else str(t) for t, src in pings) or "-",
                          timeout=wait + 60)
        return PostCheck(missing=list(ans.get("missing", [])),
                         unreachable=[IPv4Address(a) for a in ans.get("unreachable", [])],
                         confirmed=bool(ans.get("confirmed")))

    def compare(self, rendered: Rendered, running: str | None = None) -> Change:
        change = Change(diff_config("frr", rendered.files["frr.conf"],
                                    running if running is not None else self.get_config("running")))
        want = sorted(rendered.intent.mgmt_acl)
        info = self._cached("acl-show", "acl-show")
        have = sorted(IPv4Network(a) for a in info.get("admit", []))
        if not info.get("present") or have != want:
            change.host.append("acl-set " + " ".join(str(n) for n in want))
        return change

    def commit_config(self, change: Change, *, revert_in: int, step: Step | None = None,
                      chunk: int = 50) -> str:
        # the running config found saved by the pre-check: the helper may copy frr.conf as the
        # checkpoint's running config if frr.conf still has its digest (see router_helper)
        digest = [self._saved_digest] if self._saved_digest else []
        cid = str(self.helper("checkpoint-arm", str(revert_in), *digest)["id"])
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
        return bool(self._cached(f"ping {target} {source or ''}", *args, timeout=30).get("reachable"))


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

    def unsaved(self, running: str | None = None) -> ConfigDiff:
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
