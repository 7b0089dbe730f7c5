"""A private hardening lab: lab servers in their own ``sthard-*`` namespaces, for tests and
benchmarks that must not disturb ``simpul lab up``.

Each server gets a network namespace ``sthard-<n>`` joined to the root namespace by a veth on
169.254.198.0/24 (root side ``.4n+1``, server ``.4n+2``), a throw-away deploy key, its own
pinned known_hosts and an inventory directory describing exactly these servers. Everything is
removed by :meth:`PrivateLab.close` (servers stopped by PID through ``lab.servers``, namespaces
and veths deleted), also after a failure.

Example::

    with PrivateLab(Path("/tmp/x"), ["web", "db"]) as lab:
        inv = load_inventory(lab.inventory_dir)
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import yaml

log = logging.getLogger(__name__)

PREFIX = "sthard-"
NET = "169.254.198"


@dataclass
class PrivateServer:
    name: str  # inventory name, e.g. sthard-web
    index: int
    netns: str
    veth_root: str
    mgmt_ip: str
    gw_ip: str


@dataclass
class PrivateLab:
    """Boot ``roles`` (e.g. ``["web", "app"]``) as lab servers under ``base``."""

    base: Path
    roles: list[str]
    services: dict[str, list[str]] = field(default_factory=dict)
    servers: list[PrivateServer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.base = Path(self.base)
        self.state_dir = self.base / "state"
        self.inventory_dir = self.base / "inventory"
        self.key = self.base / "secrets" / "id_ed25519"
        self.known_hosts = self.base / "known_hosts"

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> PrivateLab:
        try:
            self.up()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def up(self) -> None:
        from simpul.lab.image import ensure_image
        from simpul.lab.netns import add_netns, add_veth, addr_add, link_up
        from simpul.lab.servers import ServerSpec, start_server

        self.key.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.key.parent, 0o700)
        if not self.key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "simpul-sthard",
                            "-f", str(self.key)], check=True)
        pub = self.key.with_suffix(".pub").read_text().strip()
        image = ensure_image(Path(os.environ.get("SIMPUL_LAB_IMAGE_CACHE", "/var/cache/simpul/lab")))
        for i, role in enumerate(self.roles):
            srv = PrivateServer(name=f"{PREFIX}{role}", index=i, netns=f"{PREFIX}{role}",
                                veth_root=f"sth{i}{role[:8]}", mgmt_ip=f"{NET}.{4 * i + 2}",
                                gw_ip=f"{NET}.{4 * i + 1}")
            self.servers.append(srv)
            add_netns(srv.netns)
            add_veth(srv.veth_root, f"sth{i}srv", ns_b=srv.netns)
            addr_add(srv.veth_root, f"{srv.gw_ip}/30")
            link_up(srv.veth_root)
            addr_add(f"sth{i}srv", f"{srv.mgmt_ip}/30", ns=srv.netns)
            link_up(f"sth{i}srv", ns=srv.netns)
            spec = ServerSpec(name=srv.name, netns=srv.netns, hostname=srv.name,
                              mgmt_ip=srv.mgmt_ip, ssh_user="simpul", authorized_key=pub,
                              host_key_dir=self.base / "hostkeys" / srv.name,
                              snmp_community="sthard-ro", snmp_user="simpul",
                              snmp_auth="authpass123", snmp_priv="privpass123",
                              snmp_allowed_from=f"{NET}.0/24")
            start_server(spec, image, self.state_dir)
        self._write_known_hosts()
        self.write_inventory()

    def close(self) -> None:
        from simpul.lab.netns import del_link, del_netns, link_exists
        from simpul.lab.servers import stop_server

        for srv in self.servers:
            with contextlib.suppress(Exception):
                stop_server(srv.name, self.state_dir)
            with contextlib.suppress(Exception):
                if link_exists(srv.veth_root):
                    del_link(srv.veth_root)
            with contextlib.suppress(Exception):
                del_netns(srv.netns)
        self.servers = []

    def reset(self, role: str) -> None:
        """Wipe one server back to a fresh image and boot it again."""
        from simpul.lab.image import ensure_image
        from simpul.lab.servers import ServerSpec, reset_server, start_server

        srv = self.server(role)
        reset_server(srv.name, self.state_dir)
        pub = self.key.with_suffix(".pub").read_text().strip()
        spec = ServerSpec(name=srv.name, netns=srv.netns, hostname=srv.name, mgmt_ip=srv.mgmt_ip,
                          ssh_user="simpul", authorized_key=pub,
                          host_key_dir=self.base / "hostkeys" / srv.name,
                          snmp_community="sthard-ro", snmp_user="simpul", snmp_auth="authpass123",
                          snmp_priv="privpass123", snmp_allowed_from=f"{NET}.0/24")
        image = ensure_image(Path(os.environ.get("SIMPUL_LAB_IMAGE_CACHE", "/var/cache/simpul/lab")))
        start_server(spec, image, self.state_dir)

    def server(self, role: str) -> PrivateServer:
        for s in self.servers:
            if s.name == f"{PREFIX}{role}":
                return s
        raise KeyError(role)

    # -- files ------------------------------------------------------------------------------
    def _write_known_hosts(self) -> None:
        lines = []
        for srv in self.servers:
            for kind in ("ed25519", "rsa"):
                pub = self.base / "hostkeys" / srv.name / f"ssh_host_{kind}_key.pub"
                if pub.exists():
                    t, b64 = pub.read_text().split()[:2]
                    lines.append(f"{srv.mgmt_ip} {t} {b64}")
        self.known_hosts.write_text("\n".join(lines) + "\n")

    def write_inventory(self, hardening: dict[str, dict[str, object]] | None = None) -> Path:
        """(Re)write the inventory; ``hardening`` maps a role to its ``hardening:`` block."""
        d = self.inventory_dir
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        log_host = f"{PREFIX}{self.roles[1]}" if len(self.roles) > 1 else None
        org = {
            "organisation": {
                "name": "Dinas Komunikasi dan Informatika Kabupaten Uji (sthard)",
                "level": "kabupaten", "domain": "sthard.simpul.test",
                "noc_contacts": [{"name": "Petugas NOC"}],
                "noc_ranges": [f"{NET}.0/24"], "ntp_servers": [f"{NET}.1"],
                **({"log_host": log_host} if log_host else {}),
            },
            "secrets": {"sthard-key": {"file": str(self.key)}},
            "plan": {"supernets": {"management": f"{NET}.0/24", "servers": "10.198.64.0/24"}},
            "sites": {"pusat-data": {"type": "pusat-data", "name": "Pusat Data Uji"}},
        }
        servers: dict[str, object] = {}
        for srv in self.servers:
            role = srv.name.removeprefix(PREFIX)
            entry: dict[str, object] = {
                "site": "pusat-data", "role": role, "mgmt_ip": srv.mgmt_ip,
                "ssh": {"user": "simpul", "key": "sthard-key"},
                "services": self.services.get(role, ["ssh", "http", "snmp"]
                                              + (["syslog"] if srv.name == log_host else [])),
            }
            if hardening and role in hardening:
                entry["hardening"] = hardening[role]
            servers[srv.name] = entry
        (d / "organisation.yaml").write_text(yaml.safe_dump(org, sort_keys=False))
        (d / "servers.yaml").write_text(yaml.safe_dump({"servers": servers}, sort_keys=False))
        return d


def leftovers() -> list[str]:
    """Namespaces with our prefix that are still there (for tests asserting a clean tear-down)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX)]
