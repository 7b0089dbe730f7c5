"""Render the intended configuration of a router from the inventory (pure; no device needed).

Templates are data under ``network/templates/<platform>/``; the same :class:`DeviceIntent`
feeds every platform. The result of :func:`render` is one or more files per device (FRR has two:
the vtysh config and the host firewall's management ACL). Secrets appear only as
``<secret:NAME>`` placeholders; :func:`resolve_secrets` replaces them at push time, in memory.

Example::

    r = render(inv, "desa-kemloko")
    print(r.files["frr.conf"])
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address

from jinja2 import Environment, PackageLoader, StrictUndefined

from simpul.inventory.models import Inventory
from simpul.secrets_ref import resolve_secret

from .intent import DeviceIntent, device_intent, secret_placeholder
from .platforms import platform_of

# config files, not HTML: autoescaping would corrupt them
_env = Environment(loader=PackageLoader("simpul.network", "templates"), undefined=StrictUndefined,  # noqa: S701
                   trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)

TEMPLATES: dict[str, dict[str, str]] = {
    "frr": {"frr.conf": "frr/frr.conf.j2", "mgmt-acl.nft": "frr/mgmt-acl.nft.j2"},
    "cisco_ios": {"config.txt": "cisco_ios/config.j2"},
    "cisco_xe": {"config.txt": "cisco_ios/config.j2"},
    "huawei": {"config.txt": "huawei/config.j2"},
    "mikrotik_routeros": {"export.rsc": "mikrotik_routeros/export.rsc.j2"},
}
"""Platform -> {file name: template}. The first file is the device's main config."""

_SECRET = re.compile(r"<secret:([A-Za-z0-9][A-Za-z0-9_.-]{0,63})>")


@dataclass(frozen=True)
class Rendered:
    name: str
    platform: str
    intent: DeviceIntent
    files: dict[str, str]

    @property
    def main(self) -> str:
        return self.files[next(iter(TEMPLATES[self.platform]))]


def _area_dotted(area: str) -> str:
    return area if "." in area else str(IPv4Address(int(area)))


def render_intent(d: DeviceIntent) -> Rendered:
    out = {}
    for fname, tpl in TEMPLATES[d.platform].items():
        out[fname] = _env.get_template(tpl).render(d=d, secret=secret_placeholder,
                                                   area_dotted=_area_dotted(d.ospf_area))
    return Rendered(d.name, d.platform, d, out)


def render(inv: Inventory, name: str) -> Rendered:
    """The intended config files of router ``name`` (ConfigError for bad inventory data)."""
    platform_of(inv, name)
    return render_intent(device_intent(inv, name))


def secret_names(text: str) -> list[str]:
    return sorted(set(_SECRET.findall(text)))


def resolve_secrets(inv: Inventory, text: str) -> str:
    """Replace ``<secret:NAME>`` with the secret's value — only in memory, only at push time."""
    return _SECRET.sub(lambda m: resolve_secret(inv, m.group(1)).get_secret_value(), text)


def mask_secrets(text: str, names: list[str], inv: Inventory) -> str:
    """The reverse, for anything shown or stored: every known secret value → its placeholder."""
    for n in names:
        try:
            v = resolve_secret(inv, n).get_secret_value()
        except Exception:  # an unresolvable secret cannot leak either
            v = ""
        if v:
            text = text.replace(v, secret_placeholder(n))
    return text
