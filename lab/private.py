"""Private labs: lab servers booted in their own ``sthard*`` namespaces on their own
management LAN — the lab's API for tests, benchmarks and drills that must own their servers
without disturbing ``simpul lab up`` (documented in docs/lab.md, "Private labs").

Each private lab takes a free *slot* k (0–7, held with a lock file, so several test runs can
share the machine). Its management LAN is a bridge in namespace ``sthard<k>-lan`` on
169.254.198.<32k>/27: the root namespace (playing the NOC) is ``.32k+1``, server i ``.32k+2+i``.
Server ``role`` is named ``sthard<k>-<role>`` (also its namespace) and gets a throw-away deploy
key, its own
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
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from .netns import UpDown

if TYPE_CHECKING:
    from .servers import ServerSpec

log = logging.getLogger(__name__)

PREFIX = "sthard"
NET = "169.254.198"
SLOTS = 8


@dataclass
class PrivateServer:
    name: str  # inventory name, e.g. sthard-web
    index: int
    netns: str
    veth_root: str
    mgmt_ip: str
    gw_ip: str


@dataclass
class PrivateLab(UpDown):
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
        self.slot: int | None = None
        self._lock_fd: int | None = None

    def n(self, role: str) -> str:
        """The inventory/server name of ``role`` in this lab, e.g. ``sthard0-web``."""
        if self.slot is None:
            raise RuntimeError("private lab is not up")
        return f"{PREFIX}{self.slot}-{role}"

    def _take_slot(self) -> None:
        from .netns import LabError, take_slot

        try:
            self.slot, self._lock_fd = take_slot("sthard", SLOTS)
        except LabError:
            raise RuntimeError(f"all {SLOTS} private lab slots are in use") from None

    # -- lifecycle (with PrivateLab(...) as lab: up on entry, close on exit) ------------------
    def up(self) -> None:
        from .image import ensure_image
        from .netns import add_netns, add_veth, addr_add, link_up
        from .servers import start_server

        self.key.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.key.parent, 0o700)
        if not self.key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "simpul-sthard",
                            "-f", str(self.key)], check=True)
        image = ensure_image(Path(os.environ.get("SIMPUL_LAB_IMAGE_CACHE", "/var/cache/simpul/lab")))
        from .netns import add_bridge, kill_pids, netns_exists, netns_pids, set_master

        self._take_slot()
        k = self.slot or 0
        # one management LAN per lab: a bridge in namespace sthard<k>-lan; the root namespace
        # (the NOC, 169.254.198.<32k+1>/27) and every server are ports on it
        self.lan_ns, self.root_veth = f"{PREFIX}{k}-lan", f"sth{k}noc"
        stale = [n for n in (self.lan_ns, *(self.n(r) for r in self.roles)) if netns_exists(n)]
        for n in stale:  # a crashed run with this slot (its lock is free): clean up first
            log.warning("%s: removing the leftovers of a crashed private lab", n)
            kill_pids(netns_pids(n))  # the crashed lab's own server processes
            self.servers.append(PrivateServer(n, 0, n, "", "", ""))
        if stale:
            self.close(release=False)
        add_netns(self.lan_ns)
        add_bridge("br0", ns=self.lan_ns)
        add_veth(self.root_veth, "noc", ns_b=self.lan_ns)
        set_master("noc", "br0", ns=self.lan_ns)
        addr_add(self.root_veth, f"{NET}.{32 * k + 1}/27")
        link_up(self.root_veth)
        for i, role in enumerate(self.roles):
            name = self.n(role)
            srv = PrivateServer(name=name, index=i, netns=name, veth_root=f"p{i}",
                                mgmt_ip=f"{NET}.{32 * k + 2 + i}", gw_ip=f"{NET}.{32 * k + 1}")
            self.servers.append(srv)
            self._plumb(srv)
            start_server(self._spec(srv), image, self.state_dir)
        self._write_known_hosts()
        self.write_inventory()

    def close(self, release: bool = True) -> None:
        from .netns import del_link, del_netns, link_exists
        from .servers import stop_server

        for srv in self.servers:
            with contextlib.suppress(Exception):
                stop_server(srv.name, self.state_dir)
            with contextlib.suppress(Exception):
                del_netns(srv.netns)
        self.servers = []
        lan = getattr(self, "lan_ns", None)
        if lan:
            with contextlib.suppress(Exception):
                del_netns(lan)  # takes the bridge and its ports with it
            with contextlib.suppress(Exception):
                if link_exists(self.root_veth):
                    del_link(self.root_veth)
        if release and self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the slot
            self._lock_fd = None

    def reset(self, role: str) -> None:
        """Wipe one server back to a fresh image and boot it again."""
        from .image import ensure_image
        from .servers import reset_server, start_server

        srv = self.server(role)
        reset_server(srv.name, self.state_dir)
        image = ensure_image(Path(os.environ.get("SIMPUL_LAB_IMAGE_CACHE", "/var/cache/simpul/lab")))
        start_server(self._spec(srv), image, self.state_dir)

    def restart(self, role: str) -> None:
        """Reboot one server as a power cut would: stop it, throw away its network namespace
        (and with it every live kernel setting of that namespace: nftables tables, ``net.*``
        sysctls, addresses), make a new one and boot the server again on its kept disk."""
        from .image import ensure_image
        from .netns import del_link, del_netns, link_exists
        from .servers import start_server, stop_server

        srv = self.server(role)
        stop_server(srv.name, self.state_dir)
        # delete the pair by its bridge end first: a namespace is destroyed asynchronously,
        # and the new pair must not race the old one's removal
        if link_exists(srv.veth_root, self.lan_ns):
            del_link(srv.veth_root, self.lan_ns)
        del_netns(srv.netns)
        self._plumb(srv)
        image = ensure_image(Path(os.environ.get("SIMPUL_LAB_IMAGE_CACHE", "/var/cache/simpul/lab")))
        start_server(self._spec(srv), image, self.state_dir)

    def _plumb(self, srv: PrivateServer) -> None:
        """The server's network namespace and its port on the lab's management bridge. The
        server's eth0 keeps one MAC address across restarts, as a real NIC does (the NOC's ARP
        cache and the bridge stay right)."""
        from .netns import add_netns, add_veth, addr_add, ip, link_up, set_master

        add_netns(srv.netns)
        add_veth(srv.veth_root, "eth0", ns_a=self.lan_ns, ns_b=srv.netns)
        ip(["link", "set", "dev", "eth0", "address", f"02:73:68:{self.slot or 0:02x}:{srv.index:02x}:01"],
           srv.netns)
        set_master(srv.veth_root, "br0", ns=self.lan_ns)
        addr_add("eth0", f"{srv.mgmt_ip}/27", ns=srv.netns)
        link_up("eth0", ns=srv.netns)

    def _spec(self, srv: PrivateServer) -> ServerSpec:
        from .servers import ServerSpec

        pub = self.key.with_suffix(".pub").read_text().strip()
        return ServerSpec(name=srv.name, netns=srv.netns, hostname=srv.name, mgmt_ip=srv.mgmt_ip,
                          ssh_user="simpul", authorized_key=pub,
                          host_key_dir=self.base / "hostkeys" / srv.name,
                          snmp_community="sthard-ro", snmp_user="simpul", snmp_auth="authpass123",
                          snmp_priv="privpass123", snmp_allowed_from=f"{NET}.0/24")

    def server(self, role: str) -> PrivateServer:
        for s in self.servers:
            if s.name == self.n(role):
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

    def write_inventory(self, hardening: dict[str, dict[str, object]] | None = None, *,
                        admins: dict[str, dict[str, object]] | None = None,
                        server_admins: dict[str, list[str]] | None = None,
                        organisation: dict[str, object] | None = None) -> Path:
        """(Re)write the inventory; ``hardening`` maps a role to its ``hardening:`` block,
        ``admins`` is the ``admins:`` section, ``server_admins`` maps a role to its admins and
        ``organisation`` overrides keys of the ``organisation:`` section (e.g. ``noc_ranges``)."""
        d = self.inventory_dir
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        log_host = self.n(self.roles[1]) if len(self.roles) > 1 else None
        org = {
            "organisation": {
                "name": "Dinas Komunikasi dan Informatika Kabupaten Uji (sthard)",
                "level": "kabupaten", "domain": "sthard.simpul.test",
                "noc_contacts": [{"name": "Petugas NOC"}],
                "noc_ranges": [f"{NET}.0/24"], "ntp_servers": [f"{NET}.1"],
                **({"log_host": log_host} if log_host else {}),
                **(organisation or {}),
            },
            "secrets": {"sthard-key": {"file": str(self.key)}},
            "plan": {"supernets": {"management": f"{NET}.0/24", "servers": "10.198.64.0/24"}},
            "sites": {"pusat-data": {"type": "pusat-data", "name": "Pusat Data Uji"}},
        }
        servers: dict[str, object] = {}
        for srv in self.servers:
            role = srv.name.split("-", 1)[1]
            entry: dict[str, object] = {
                "site": "pusat-data", "role": role, "mgmt_ip": srv.mgmt_ip,
                "ssh": {"user": "simpul", "key": "sthard-key"},
                "services": self.services.get(role, ["ssh", "http", "snmp"]
                                              + (["syslog"] if srv.name == log_host else [])),
            }
            if hardening and role in hardening:
                entry["hardening"] = hardening[role]
            if server_admins and role in server_admins:
                entry["admins"] = server_admins[role]
            servers[srv.name] = entry
        (d / "organisation.yaml").write_text(yaml.safe_dump(org, sort_keys=False))
        (d / "servers.yaml").write_text(yaml.safe_dump({"servers": servers}, sort_keys=False))
        if admins:
            (d / "admins.yaml").write_text(yaml.safe_dump({"admins": admins}, sort_keys=False))
        return d


@contextlib.contextmanager
def scratch_base(prefix: str) -> Iterator[Path]:
    """A base directory for a throwaway private lab (benchmarks), removed at the end — also
    after a failure: its servers' disks hold gigabytes. Removed with ``rm --one-file-system``:
    never into anything mounted below (there should be nothing: the servers' mounts live in
    their own mount namespaces). Close the lab first (``with scratch_base(p) as b,
    PrivateLab(b, ...) as lab``)."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield base
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(base)], check=False)


def leftovers() -> list[str]:
    """Namespaces with our prefix that are still there (for tests asserting a clean tear-down)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX)]


def leftovers_of(lab: PrivateLab) -> list[str]:
    """Namespaces of this lab's slot that are still there."""
    return [n for n in leftovers() if lab.slot is not None and n.startswith(f"{PREFIX}{lab.slot}-")]
