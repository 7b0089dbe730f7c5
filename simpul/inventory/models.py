"""The inventory schema: pydantic v2 models, strict (unknown keys are errors) and frozen.

The schema is documented for users in ``inventory/README.md``; keep the two in step.
Regulation anchors for what the inventory records:

- Pusat Data and DRC sites, servers, services: Perbup Temanggung 83/2021 Pasal 14; Pergub DKI
  68/2022 Pasal 13–14; Pergub Kalteng 24/2022 Pasal 11, 13–14.
- Jaringan Intra devices, links and the address plan (Dinkominfo's IP numbering authority):
  Perbup Temanggung Pasal 20–21; Pergub Jambi 12/2022 Pasal 21.
- Backup policies: Perbup Temanggung Pasal 15; Pergub Jambi Pasal 24(4), 26(1)(e).
- Service targets (availability, RTO, RPO, maintenance): Pergub Jateng (draft 2025) Pasal 7, 11.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from datetime import date, datetime, time, timedelta
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- small types ---------------------------------------------------------------------------

Name = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"),
]
"""A lower-case DNS-label style name: sites, devices, servers, services, groups, secrets."""

SecretName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
"""The *name* of an entry in ``secrets:`` — never the secret itself."""

_DUR = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(v: Any) -> timedelta:
    """``"90s"``, ``"15m"``, ``"4h"``, ``"1d"``, ``"1h30m"`` (or a number of seconds)."""
    if isinstance(v, timedelta):
        return v
    if isinstance(v, bool):
        raise ValueError("expected a duration such as 15m, 4h or 1d")
    if isinstance(v, int | float):
        return timedelta(seconds=v)
    if isinstance(v, str):
        m = _DUR.match(v.strip())
        if m and any(m.groups()):
            d, h, mi, s = (int(x or 0) for x in m.groups())
            return timedelta(days=d, hours=h, minutes=mi, seconds=s)
    raise ValueError(f"'{v}' is not a duration; write e.g. 30s, 15m, 4h, 1d or 1h30m")


def _positive(v: timedelta) -> timedelta:
    if v <= timedelta(0):
        raise ValueError("duration must be positive")
    return v


def _not_negative(v: timedelta) -> timedelta:
    if v < timedelta(0):
        raise ValueError("duration must not be negative")
    return v


Duration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_positive)]
ZeroOrDuration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_not_negative)]
"""A duration that may be 0 (``rpo: 0``: no acknowledged write may be lost)."""
Percent = Annotated[float, Field(gt=0, le=100)]
Port = Annotated[int, Field(ge=1, le=65535)]


# --- organisation and secrets ------------------------------------------------------------------


class Contact(Strict):
    name: str
    role: str | None = None
    phone: str | None = None
    email: str | None = None


class Organisation(Strict):
    name: str = Field(min_length=3)
    level: Literal["provinsi", "kabupaten", "kota"]
    domain: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")]
    noc_contacts: list[Contact] = Field(min_length=1)
    noc_ranges: list[IPv4Network] = Field(
        min_length=1, description="where the NOC manages from; firewalls admit SSH/SNMP only from here"
    )
    ntp_servers: list[str] = []
    dns_servers: list[IPv4Address] = []
    log_host: Name | None = Field(default=None, description="server that receives forwarded logs")
    evidence_signing_key: SecretName | None = Field(
        default=None, description="secret naming the SSH private key that signs evidence packs")


class Secret(Strict):
    """Where a secret lives: an environment variable or a 0600 file. Never the value."""

    env: Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")] | None = None
    file: Path | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Secret:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env: or file:")
        return self


# --- sites and the address plan -------------------------------------------------------------

SiteType = Literal["pusat-data", "drc", "noc", "opd", "desa", "kelurahan"]
Purpose = Literal["management", "links", "loopbacks", "opd_lan", "desa_lan", "servers", "drc", "noc"]


class Location(Strict):
    address: str | None = None
    kecamatan: str | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None


class Site(Strict):
    type: SiteType
    name: str = Field(min_length=2, description="official name, e.g. 'Dinas Kesehatan'")
    location: Location | None = None
    lan: IPv4Network | None = Field(default=None, description="the site LAN allocated from the plan")
    uplink: Literal["fiber", "radio", "vsat", "lte", "copper"] | None = None
    availability_target: Percent | None = Field(
        default=None, description="target for the site's connectivity (default: the report's --target)"
    )
    maintenance: list[Maintenance] = Field(
        default=[], description="declared windows (e.g. the radio link's monthly service) excluded from downtime"
    )


class Plan(Strict):
    """The intranet address plan: Dinkominfo's IP numbering authority (Temanggung Pasal 21)."""

    supernets: dict[Purpose, IPv4Network]
    sizes: dict[Literal["opd", "desa", "kelurahan", "link", "loopback"], Annotated[int, Field(ge=8, le=32)]] = {}
    reserved: list[IPv4Network] = []

    @model_validator(mode="after")
    def _no_overlap(self) -> Plan:
        # every pair, not only neighbours in sorted order: one large supernet may cover several
        items = list(self.supernets.items())
        pairs = [f"'{a}' ({na}) and '{b}' ({nb})" for i, (a, na) in enumerate(items)
                 for b, nb in items[i + 1:] if na.overlaps(nb)]
        if pairs:
            raise ValueError(f"supernets overlap: {'; '.join(pairs)} (each purpose needs its own range)")
        return self


# --- IP allocations and reservations (ipam.yaml, written by ``simpul ipam``) -----------------

IPAM_PURPOSES: dict[str, tuple[Purpose, str | None, int | None]] = {
    "opd-lan": ("opd_lan", "opd", None),
    "desa-lan": ("desa_lan", "desa", None),
    "kelurahan-lan": ("desa_lan", "kelurahan", None),
    "link": ("links", "link", 30),
    "loopback": ("loopbacks", "loopback", 32),
    "server-lan": ("servers", None, None),
    "drc-lan": ("drc", None, None),
    "management": ("management", None, 32),
}
"""Allocation purpose -> (plan supernet, ``plan.sizes`` key, built-in default prefix length)."""

LAN_PURPOSES = frozenset({"opd-lan", "desa-lan", "kelurahan-lan", "server-lan", "drc-lan"})
"""Purposes whose blocks are LANs: host addresses are allocated inside them."""

ReservationKind = Literal["dhcp", "gateway", "keep-free"]


def _one_line(v: str) -> str:
    if not v.isprintable():
        raise ValueError("must be one line of printable text (no line breaks, tabs or control characters)")
    return v


OneLine = Annotated[str, StringConstraints(min_length=1, max_length=300), AfterValidator(_one_line)]
"""Free text on one line (every IPAM entry is one line of ipam.yaml)."""


def parse_range(v: Any) -> str:
    """``10.199.16.100-10.199.16.150`` (first-last, inclusive), normalised."""
    if not isinstance(v, str) or v.count("-") != 1:
        raise ValueError(f"'{v}' is not an address range; write FIRST-LAST, e.g. 10.1.2.100-10.1.2.150")
    a, b = (IPv4Address(x.strip()) for x in v.split("-"))
    if a > b:
        raise ValueError(f"range {v}: the first address is after the last")
    return f"{a}-{b}"


def range_bounds(r: str) -> tuple[IPv4Address, IPv4Address]:
    a, b = r.split("-")
    return IPv4Address(a), IPv4Address(b)


AddressRange = Annotated[str, BeforeValidator(parse_range)]


class IpamEntry(Strict):
    """What every line of ipam.yaml records: the space, for what, who, when and why."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)

    prefix: IPv4Network | None = None
    address: IPv4Address | None = None
    for_: OneLine | None = Field(default=None, alias="for",
                                 description="what it is for: a site, device, server, link or a planned one")
    site: Name | None = Field(default=None, description="the site it belongs to (must exist)")
    by: OneLine = Field(description="who allocated it (user@host)")
    at: datetime = Field(description="when (UTC)")
    why: OneLine = Field(description="why: the request, letter or ticket")

    def space(self) -> IPv4Network:
        """The addresses this entry covers as a network (an address is a /32)."""
        if self.prefix is not None:
            return self.prefix
        return IPv4Network(f"{self.address}/32")

    @property
    def label(self) -> str:
        return str(self.prefix if self.prefix is not None else self.address)


class Allocation(IpamEntry):
    """A block from a supernet (``prefix`` + ``purpose``) or a host address inside a LAN
    (``address``, usually with ``site``)."""

    purpose: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Allocation:
        if (self.prefix is None) == (self.address is None):
            raise ValueError("give exactly one of prefix: (a block) or address: (a host address)")
        if self.for_ is None:
            raise ValueError("for: is missing (what the allocation is for)")
        if self.prefix is not None:
            if self.purpose not in IPAM_PURPOSES:
                raise ValueError(f"purpose: {self.purpose!r} is not one of {', '.join(IPAM_PURPOSES)}")
        elif self.purpose not in (None, "host"):
            raise ValueError("a host address has no purpose (it takes the LAN's)")
        return self


class Reservation(IpamEntry):
    """Space kept out of allocation: a DHCP pool, gateway addresses, a range kept free."""

    range: AddressRange | None = None
    kind: ReservationKind

    @model_validator(mode="after")
    def _shape(self) -> Reservation:
        if sum(x is not None for x in (self.prefix, self.address, self.range)) != 1:
            raise ValueError("give exactly one of prefix:, address: or range:")
        return self

    def bounds(self) -> tuple[IPv4Address, IPv4Address]:
        if self.range is not None:
            return range_bounds(self.range)
        net = self.space()
        return net.network_address, net.broadcast_address

    @property
    def label(self) -> str:
        return self.range if self.range is not None else super().label


class Released(Strict):
    """An allocation or reservation that was given back: kept for the history."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)

    was: Literal["allocation", "reservation"]
    prefix: IPv4Network | None = None
    address: IPv4Address | None = None
    range: AddressRange | None = None
    purpose: str | None = None
    kind: ReservationKind | None = None
    for_: OneLine | None = Field(default=None, alias="for")
    site: Name | None = None
    by: OneLine
    at: datetime
    why: OneLine
    released_by: OneLine
    released_at: datetime
    released_why: OneLine

    @property
    def label(self) -> str:
        return str(self.prefix or self.address or self.range)


# --- SNMP ------------------------------------------------------------------------------------


class Snmp(Strict):
    """SNMP settings. v2c names a community secret; v3 names the auth and priv key secrets."""

    version: Literal["2c", "3"]
    port: Port = 161
    community: SecretName | None = None
    user: str | None = None
    auth_protocol: Literal["SHA", "SHA224", "SHA256", "SHA384", "SHA512", "MD5"] = "SHA"
    auth_key: SecretName | None = None
    priv_protocol: Literal["AES", "AES192", "AES256", "DES"] = "AES"
    priv_key: SecretName | None = None
    profile: str | None = Field(default=None, description="OID profile override")

    @field_validator("version", mode="before")
    @classmethod
    def _coerce_version(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _fields_for_version(self) -> Snmp:
        if self.version == "2c":
            if not self.community:
                raise ValueError("SNMP v2c needs community: (the name of a secret)")
            if self.user or self.auth_key or self.priv_key:
                raise ValueError("user/auth_key/priv_key are for SNMP v3; remove them or set version: 3")
        else:
            missing = [k for k in ("user", "auth_key", "priv_key") if not getattr(self, k)]
            if missing:
                raise ValueError(f"SNMP v3 (authPriv) needs {', '.join(missing)}")
            if self.community:
                raise ValueError("community: is for SNMP v2c; remove it or set version: 2c")
        return self


# --- network devices and links ----------------------------------------------------------------

Platform = Literal["frr", "cisco_ios", "cisco_xe", "mikrotik_routeros", "huawei", "juniper_junos"]
DeviceRole = Literal["core", "distribution", "opd-edge", "desa-edge"]


class Interface(Strict):
    address: IPv4Interface | None = None
    secondary: list[IPv4Interface] = []
    description: str | None = None
    kind: Literal["link", "lan", "mgmt", "loopback"] | None = None


class StaticRoute(Strict):
    """A static route the router must carry (e.g. a desa LAN behind a non-OSPF CPE)."""

    prefix: IPv4Network
    via: IPv4Address = Field(description="next hop")
    description: str | None = None


class Device(Strict):
    site: Name
    platform: Platform
    role: DeviceRole
    mgmt_ip: IPv4Address
    loopback: IPv4Address | None = None
    username: str = "simpul"
    credential: SecretName = Field(description="secret holding the login password")
    ssh_port: Port = 22
    snmp: Snmp | None = None
    groups: list[Name] = []
    interfaces: dict[str, Interface] = {}
    static_routes: list[StaticRoute] = []
    model: str | None = None
    serial: str | None = None
    tags: dict[str, str] = {}


class Link(Strict):
    a: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+:\S+$")] = Field(description="device:interface")
    b: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+:\S+$")]
    prefix: IPv4Network
    medium: Literal["fiber", "radio", "vsat", "lte", "copper", "veth"] = "fiber"
    bandwidth_mbps: Annotated[float, Field(gt=0)] | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _distinct_ends(self) -> Link:
        if self.a.split(":")[0] == self.b.split(":")[0]:
            raise ValueError("a link must join two different devices")
        return self


# --- servers ----------------------------------------------------------------------------------


class SshAccess(Strict):
    user: str = Field(min_length=1)
    key: SecretName = Field(description="secret naming the private key file")
    port: Port = 22
    become: bool = Field(default=True, description="use sudo for changes")


class Waiver(Strict):
    """An accepted deviation from a control: reason, approver and expiry are mandatory."""

    control: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,5}-\d{2,3}$")]
    reason: str = Field(min_length=10)
    approver: str = Field(min_length=3)
    expires: date


class Hardening(Strict):
    profile: Literal["baseline", "strict", "none"] = "baseline"
    waivers: list[Waiver] = []
    ip_forward: bool = Field(default=False, description="host routes or runs containers")


def _tag_text(v: str) -> str:
    if any(not c.isprintable() and c != " " for c in v) or "\\" in v:
        raise ValueError("is written on every monitoring point as a tag: one line of text without "
                         "tabs, control characters or backslashes")
    if v != v.strip():
        raise ValueError("has spaces at the start or end")
    return v


TagText = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_tag_text)]
"""Free text that becomes a time-series tag (line protocol cannot carry line breaks in a tag, and
InfluxDB 1.x and VictoriaMetrics read some backslashes differently): commas, spaces, quotes and
any Unicode are fine."""


class Server(Strict):
    site: Name
    role: TagText
    mgmt_ip: IPv4Address
    address: IPv4Address | None = Field(default=None, description="data-plane (service) address")
    os: Literal["debian-12", "debian-11", "ubuntu-22.04", "ubuntu-24.04"] = "debian-12"
    ssh: SshAccess
    services: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+(/\d+)?$")]] = Field(
        default=[], description="what the host serves: ssh, http, https, postgresql, snmp, syslog, ntp, ..."
    )
    hardening: Hardening = Hardening()
    backup: list[Name] = Field(default=[], description="backup policy names")
    admins: list[Name] = Field(default=[], description="inventory admins with a login here (ACC-07)")
    snmp: Snmp | None = None
    groups: list[Name] = []
    tags: dict[str, str] = {}


# --- admins (ACC-07) ---------------------------------------------------------------------------

# OpenSSH public key types an admin may use (sk-* are FIDO/U2F hardware keys).
PUBLIC_KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa",
                    "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")
MIN_RSA_BITS = 2048


def _ssh_string(blob: bytes, pos: int) -> tuple[bytes, int]:
    if pos + 4 > len(blob):
        raise ValueError("truncated")
    (n,) = struct.unpack(">I", blob[pos:pos + 4])
    if pos + 4 + n > len(blob):
        raise ValueError("truncated")
    return blob[pos + 4:pos + 4 + n], pos + 4 + n


def parse_public_key(v: Any) -> str:
    """One OpenSSH public key line → ``type base64 [comment]`` (whitespace normalised).

    The base64 blob must decode and name the same key type as the line (a truncated or
    mangled copy-paste is caught here, not as a failed login); RSA keys need
    ≥ 2048 bits. A private key is refused with a message that says so — and never echoes it.
    """
    if not isinstance(v, str):
        raise ValueError("a public key is one line of text: 'ssh-ed25519 AAAA... name@host'")
    if "PRIVATE KEY" in v or "PuTTY-User-Key-File" in v:  # PEM/OpenSSH or PuTTY .ppk
        raise ValueError(
            "this is a private key: it must never be in the inventory (if it was committed, treat "
            "it as leaked and make a new one); give the public key instead, the one line of the "
            ".pub file: 'ssh-ed25519 AAAA... name@host'")
    text = " ".join(v.split())
    if "\n" in v.strip() or "\r" in v.strip():
        raise ValueError("one key per list item, on one line")
    parts = text.split(" ", 2)
    shown = text[:24] + ("..." if len(text) > 24 else "")
    if not parts or parts[0] not in PUBLIC_KEY_TYPES:
        hint = ("; authorized_keys options (from=, command=, ...) are not supported"
                if parts and "=" in parts[0] else "")
        raise ValueError(f"'{shown}' is not an OpenSSH public key: it must start with one of "
                         f"{', '.join(PUBLIC_KEY_TYPES)}{hint}")
    if len(parts) < 2:
        raise ValueError(f"'{shown}': the key data (AAAA...) is missing")
    kind, b64 = parts[0], parts[1]
    mangled = (f"{kind} key '{shown}': the key data is not valid (truncated or mangled "
               "copy-paste?)")
    try:
        blob = base64.b64decode(b64, validate=True)
        name, pos = _ssh_string(blob, 0)
    except (binascii.Error, ValueError):
        raise ValueError(mangled) from None
    if name != kind.encode():
        raise ValueError(f"{kind} key '{shown}': the key data is a "
                         f"{name.decode('ascii', 'replace')[:40]} key, not {kind}")
    n = b""
    try:
        if kind == "ssh-rsa":
            _e, pos = _ssh_string(blob, pos)
            n, pos = _ssh_string(blob, pos)
    except ValueError:
        raise ValueError(mangled) from None
    bits = int.from_bytes(n, "big").bit_length()
    if kind == "ssh-rsa" and bits < MIN_RSA_BITS:
        raise ValueError(f"{kind} key '{shown}': {bits} bits is too weak (at least {MIN_RSA_BITS}; "
                         "prefer ssh-ed25519)")
    return text


PublicKey = Annotated[str, BeforeValidator(parse_public_key)]
"""An OpenSSH public key line (public keys are not secrets; private keys are refused)."""


class Admin(Strict):
    """A person who logs in to servers with their own account (ACC-07).

    The name (the key under ``admins:``) is the Linux user name. Which servers they may log in
    to is said on the server: ``servers.<name>.admins: [...]`` (or ``defaults.servers`` / a
    group's vars).
    """

    full_name: Annotated[str, StringConstraints(min_length=3, pattern=r"^[^:\n,]+$")] = Field(
        description="shown in /etc/passwd (GECOS); no ':' or ','")
    public_keys: list[PublicKey] = Field(default=[], description="OpenSSH public key lines")
    sudo: bool = Field(default=False, description="may run commands as root with sudo")
    expires: date | None = Field(default=None, description="last day the account works")
    state: Literal["present", "absent"] = "present"

    @model_validator(mode="after")
    def _keys(self) -> Admin:
        if self.state == "present" and not self.public_keys:
            raise ValueError("an admin who is present needs at least one public key "
                             "(or state: absent)")
        seen: set[str] = set()
        for k in self.public_keys:
            blob = k.split(" ")[1]
            if blob in seen:
                raise ValueError(f"public key {k.split(' ')[0]} ...{blob[-12:]} is listed twice")
            seen.add(blob)
        return self


# --- services, maintenance, backup -------------------------------------------------------------

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Maintenance(Strict):
    """A declared maintenance window: weekly (``weekday`` + ``start``) or once (``at``)."""

    weekday: Weekday | None = None
    start: time | None = None
    at: datetime | None = None
    duration: Duration
    description: str | None = None

    @field_validator("start", mode="before")
    @classmethod
    def _time(cls, v: Any) -> Any:
        if isinstance(v, int):  # YAML 1.1 reads 01:30 as sexagesimal 90
            return time(v // 60, v % 60)
        return v

    @model_validator(mode="after")
    def _kind(self) -> Maintenance:
        weekly = self.weekday is not None or self.start is not None
        if weekly and self.at is not None:
            raise ValueError("give either weekday+start (weekly) or at (once), not both")
        if not weekly and self.at is None:
            raise ValueError("give weekday+start for a weekly window or at for a one-off window")
        if weekly and (self.weekday is None or self.start is None):
            raise ValueError("a weekly window needs both weekday and start")
        return self


class Standby(Strict):
    """A DRC standby for a service's PostgreSQL database: the DRC takes over when the Pusat Data
    does not function (Pergub Kalteng 24/2022 Pasal 11(2)(b), 14; Pergub Jambi 12/2022 Pasal
    21(1)(c), 23(2)(c)).

    Built by ``simpul drc deploy`` from existing engines: PostgreSQL streaming replication managed
    by Patroni, a three-member etcd (the primary, the DRC replica and a witness at a third site)
    and vip-manager moving ``vip`` to whichever server holds the Patroni leader key.
    """

    primary: Name = Field(description="Pusat Data server that runs the database (the home primary)")
    replicas: list[Name] = Field(min_length=1, description="servers that stream from the primary; "
                                 "at least one at the DRC")
    witness: Name = Field(description="third etcd member at a third site (e.g. the NOC): it decides "
                          "which side may lead when the Pusat Data and the DRC lose each other")
    vip: IPv4Address = Field(description="service address that follows the leader (vip-manager)")
    interface: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@-]{1,15}$")] = Field(
        default="eth0", description="network interface the service address is put on")
    port: Port = 5432
    replication: Literal["sync", "async"] | None = Field(
        default=None, description="sync: a commit is acknowledged only once the DRC has it (RPO 0); "
        "default: sync when the service's rpo is 0, else async")
    credential: SecretName = Field(description="secret from which the cluster's passwords are derived "
                                   "(replication, pg_rewind, Patroni REST API, drill user)")
    postgres_version: Annotated[int, Field(ge=13, le=17)] = 15
    drill_client: Name | None = Field(
        default=None, description="server at the NOC that runs the drill's load through the "
        "service address (simpul drill failover)")
    clients: list[IPv4Network] = Field(default=[], description="networks whose applications may "
                                       "log in to the database over the network (pg_hba)")

    @model_validator(mode="after")
    def _distinct(self) -> Standby:
        names = [self.primary, *self.replicas, self.witness]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"primary, replicas and witness must be different servers "
                             f"({', '.join(dup)} named twice)")
        return self


class Service(Strict):
    """An SPBE service hosted in the Pusat Data, with its targets."""

    name: str = Field(min_length=2)
    owner: Name = Field(description="site name of the owning OPD")
    servers: list[Name] = Field(min_length=1)
    tier: Annotated[int, Field(ge=1, le=4)] = 2
    availability_target: Percent
    rto: Duration
    rpo: ZeroOrDuration = Field(description="how much acknowledged data may be lost; 0 = none "
                                "(needs synchronous replication)")
    maintenance: list[Maintenance] = []
    url: str | None = None
    critical: bool = False
    standby: Standby | None = Field(default=None, description="DRC takeover of the service's "
                                    "database (simpul drc deploy, simpul drill failover)")

    @model_validator(mode="after")
    def _standby_rpo(self) -> Service:
        if self.standby is not None and self.standby.replication == "async" \
                and self.rpo == timedelta(0):
            raise ValueError("standby.replication is async but rpo is 0: asynchronous replication "
                             "loses acknowledged commits when the primary fails; use sync")
        return self

    @property
    def replication(self) -> Literal["sync", "async"] | None:
        """The standby's replication mode, defaulted from the RPO (0 → sync)."""
        if self.standby is None:
            return None
        if self.standby.replication is not None:
            return self.standby.replication
        return "sync" if self.rpo == timedelta(0) else "async"


DbName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")]
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")


def cron_for_every(every: timedelta, offset: int = 0) -> str | None:
    """The cron line (5 fields) that runs a job every ``every``, or None when cron cannot say it.

    Periods that divide an hour (``15m``), a day (``6h``) or are one day (``1d``) can be
    scheduled; ``offset`` (any integer, e.g. a hash of the job name) spreads jobs over the
    period so that every server does not start its backup at the same second.
    """
    secs = int(every.total_seconds())
    if secs <= 0 or secs % 60:
        return None
    minutes = secs // 60
    if minutes < 60 and 60 % minutes == 0:
        m = offset % minutes
        return f"{m}-59/{minutes} * * * *" if minutes > 1 else "* * * * *"
    if minutes % 60 == 0 and minutes < 24 * 60 and (24 * 60) % minutes == 0:
        hours = minutes // 60
        return f"{offset % 60} {(offset // 60) % hours}-23/{hours} * * *"
    if minutes == 24 * 60:
        # daily at night, 01:00-04:59, outside office hours of the OPDs
        return f"{offset % 60} {1 + (offset // 60) % 4} * * *"
    return None


class BackupSource(Strict):
    """One thing a backup policy protects, on every server that lists the policy.

    ``paths``: directories/files (a per-file sha256 manifest is recorded at backup time);
    ``postgres``: one database (or ``all``) dumped consistently as the local ``postgres`` user;
    ``mariadb``/``mysql``: one database (or ``all``) dumped with ``--single-transaction`` as the
    local root over the unix socket. Row counts and a content checksum of every table are
    recorded in the same snapshot as the dump, so a restore can be verified table by table.
    """

    type: Literal["paths", "postgres", "mariadb", "mysql"]
    paths: list[Annotated[str, StringConstraints(pattern=r"^/\S*$")]] = Field(
        default=[], description="absolute paths (paths sources)")
    exclude: list[str] = Field(default=[], description="restic exclude patterns (paths sources)")
    database: DbName | None = Field(default=None, description="database name, or 'all'")
    port: Port | None = Field(default=None, description="local port of the database server "
                              "(default: postgres 5432, mariadb the default socket)")
    on: Literal["primary", "any"] = Field(
        default="primary", description="databases: dump only where the local server is the "
        "primary (a standby skips the run), or on any server")
    smoke_query: str | None = Field(
        default=None, description="databases: a read-only query a restore drill runs against "
        "the restored copy (default: count the rows of the largest table)")

    @model_validator(mode="after")
    def _complete(self) -> BackupSource:
        if self.type == "paths":
            if not self.paths:
                raise ValueError("a paths source needs paths:")
            if self.database or self.port or self.smoke_query:
                raise ValueError("database/port/smoke_query are for database sources")
        else:
            if not self.database:
                raise ValueError(f"a {self.type} source needs database: (a name, or all)")
            if self.paths or self.exclude:
                raise ValueError("paths/exclude are for paths sources")
        return self


class Retention(Strict):
    """How many snapshots the DRC keeps (restic ``forget`` semantics, run at the DRC only)."""

    last: Annotated[int, Field(ge=0)] = 0
    hourly: Annotated[int, Field(ge=0)] = 0
    daily: Annotated[int, Field(ge=0)] = 7
    weekly: Annotated[int, Field(ge=0)] = 4
    monthly: Annotated[int, Field(ge=0)] = 12
    yearly: Annotated[int, Field(ge=0)] = 0
    within: Duration | None = None

    @model_validator(mode="after")
    def _keeps_something(self) -> Retention:
        if not (self.last or self.hourly or self.daily or self.weekly or self.monthly
                or self.yearly or self.within):
            raise ValueError("a retention that keeps nothing would delete every backup; "
                             "give at least one of last/hourly/daily/weekly/monthly/yearly/within")
        return self


class BackupPolicy(Strict):
    """What to back up, how often, how long to keep it, and where (the DRC).

    Perbup Temanggung 83/2021 Pasal 15 (periodic backups, supervised by Dinkominfo); Pergub
    Jambi 12/2022 Pasal 26(1)(e) (period and media per data set), 24(4) (backup copies and
    recovery); Pergub Kalteng 24/2022 Pasal 11(2)(b), 14 (the DRC holds the copy).
    """

    description: str | None = None
    service: Name | None = Field(default=None, description="the service whose RPO/RTO this "
                                 "policy serves (restore drills and freshness are judged by it)")
    sources: list[BackupSource] = Field(min_length=1)
    every: Duration = Field(description="backup period; the newest backup may not be older than this")
    schedule: str | None = Field(default=None, description="cron schedule (5 fields) overriding "
                                 "the one derived from every")
    retention: Retention = Retention()
    destination: Name = Field(description="server at the DRC that holds the repository")
    repository: Annotated[str, StringConstraints(pattern=r"^/\S+/[a-z0-9][a-z0-9-]{0,62}$")] = Field(
        description="repository path on the destination, e.g. /srv/restic/simpeg (its last "
                    "component names the repository)")
    encryption_key: SecretName
    verify: Literal["metadata", "read-data", "read-data-subset"] = "read-data-subset"
    verify_every: Duration = Field(default=timedelta(days=1), description="how often the DRC "
                                   "checks the repository's integrity")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is None:
            return v
        fields = v.split()
        if len(fields) != 5 or not all(CRON_FIELD.match(f) for f in fields):
            raise ValueError(f"'{v}' is not a cron schedule of 5 fields (e.g. '30 1 * * *')")
        return " ".join(fields)

    @model_validator(mode="after")
    def _schedulable(self) -> BackupPolicy:
        if self.schedule is None and cron_for_every(self.every) is None:
            raise ValueError(f"every: {_fmt_td(self.every)} cannot be scheduled with cron; use a "
                             "period that divides an hour or a day (15m, 6h, 1d) or give schedule:")
        return self


def _fmt_td(td: timedelta) -> str:
    s = int(td.total_seconds())
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return "".join(f"{v}{u}" for v, u in ((d, "d"), (h, "h"), (m, "m"), (s, "s")) if v) or "0s"


# --- groups and defaults --------------------------------------------------------------------


class Group(Strict):
    """Shared values for members (``groups: [name]`` on a device or server)."""

    description: str | None = None
    vars: dict[str, Any] = {}


class Defaults(Strict):
    devices: dict[str, Any] = {}
    servers: dict[str, Any] = {}


# --- the whole inventory --------------------------------------------------------------------


class Inventory(Strict):
    organisation: Organisation
    secrets: dict[SecretName, Secret] = {}
    plan: Plan
    sites: dict[Name, Site]
    groups: dict[Name, Group] = {}
    defaults: Defaults = Defaults()
    devices: dict[Name, Device] = {}
    links: dict[Name, Link] = {}
    servers: dict[Name, Server] = {}
    admins: dict[Name, Admin] = {}
    services: dict[Name, Service] = {}
    backup_policies: dict[Name, BackupPolicy] = {}
    allocations: list[Allocation] = Field(default=[], description="ipam.yaml: blocks and host addresses given out")
    reservations: list[Reservation] = Field(default=[], description="ipam.yaml: DHCP pools, gateways, ranges kept free")
    released: list[Released] = Field(default=[], description="ipam.yaml: history of what was given back")
    source: str = Field(default="", exclude=True, description="directory it was loaded from")

    def sites_of_type(self, *types: str) -> dict[str, Site]:
        return {n: s for n, s in self.sites.items() if s.type in types}

    def members(self, group: str) -> list[str]:
        return [n for n, d in self.devices.items() if group in d.groups] + [
            n for n, s in self.servers.items() if group in s.groups
        ]


re_name = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
re_secret_name = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

Site.model_rebuild()
