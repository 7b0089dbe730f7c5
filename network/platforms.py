"""The router platforms Simpul manages, as data: netmiko device type, CLI quirks, driver name.

One lookup table (netmiko/napalm style): the inventory's ``platform`` picks a row, the row picks
a netmiko ``device_type`` and the driver class (:mod:`simpul.network.drivers`). A unit test
checks that every platform of the inventory schema has a row here.

FRR runs behind netmiko's stock ``cisco_ios`` driver: the lab's login lands in ``vtysh``, which
speaks close enough to IOS for prompts, paging (``terminal length 0``) and config mode. FRR
answers bad input with ``% Unknown command`` and netmiko does not notice that without an
``error_pattern`` (LAB-FACTS "Routers").
"""

from __future__ import annotations

from dataclasses import dataclass

from simpul.errors import ConfigError
from simpul.inventory.models import Inventory


@dataclass(frozen=True)
class Platform:
    name: str
    device_type: str
    """netmiko ``device_type``."""
    error_pattern: str
    """Regex that marks a rejected command in the device's answer."""
    supported: bool = True
    note: str = ""
    exec_channel: bool = False
    """The login shell runs one command per SSH channel (``ssh router 'show ...'``), so
    several can run at once and a login needs no interactive CLI (Linux+FRR)."""
    prompt: str | None = None
    """The CLI prompt as a regex, ``{base}`` standing for the device's name (netmiko's
    ``base_prompt``): a show command reads until it instead of netmiko finding the prompt anew
    before every command (a newline round trip and ~45 ms of waiting each). None: netmiko's
    own way (platforms not run live here)."""


PLATFORMS: dict[str, Platform] = {
    "frr": Platform("frr", "cisco_ios",
                    r"% Unknown command|% Command incomplete|% Invalid|% Ambiguous|% Can't|"
                    r"% Configuration failed|% Malformed|% Not a valid|% There is no",
                    exec_channel=True, prompt=r"(?m)^{base}(\([^)\n]*\))?[>#]\s*$"),
    "cisco_ios": Platform("cisco_ios", "cisco_ios",
                          r"% Invalid input|% Incomplete command|% Ambiguous command|% Unknown"),
    "cisco_xe": Platform("cisco_xe", "cisco_xe",
                         r"% Invalid input|% Incomplete command|% Ambiguous command|% Unknown"),
    "mikrotik_routeros": Platform("mikrotik_routeros", "mikrotik_routeros",
                                  r"bad command name|syntax error|expected end of command|"
                                  r"failure:|input does not match|no such item|ambiguous value"),
    "huawei": Platform("huawei", "huawei",
                       r"Error: |Unrecognized command|Incomplete command|Wrong parameter|"
                       r"Too many parameters|Ambiguous command"),
    "juniper_junos": Platform("juniper_junos", "juniper_junos", r"error:|syntax error|unknown command",
                              supported=False,
                              note="Junos routers are in the inventory schema but Simpul has no "
                                   "Junos templates or driver yet"),
}


def platform_of(inv: Inventory, name: str) -> Platform:
    """The :class:`Platform` row of inventory device ``name`` (ConfigError if unmanaged)."""
    if name not in inv.devices:
        raise ConfigError(f"{name}: not a device in the inventory ({inv.source or 'inventory'})")
    p = PLATFORMS.get(inv.devices[name].platform)
    if p is None:  # pragma: no cover - the schema and the table are checked by a unit test
        raise ConfigError(f"{name}: platform {inv.devices[name].platform} is unknown to simpul net")
    if not p.supported:
        raise ConfigError(f"{name}: {p.note}", hint="manage it by hand, or open an issue")
    return p
