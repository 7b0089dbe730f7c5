"""Router facts from command output: pure functions, fixture-tested (no device needed).

Which parser, in order of preference:

1. the device's own structured output — FRR's ``show ... json``;
2. TextFSM templates from ntc-templates (Cisco IOS, MikroTik RouterOS, Huawei VRP commands
   that have a template);
3. a small parser of our own only where neither exists: Huawei ``display ospf peer brief``
   and ``display ip interface brief``-less address lists (no ntc template), and FRR's text
   ``show version``.

Every platform's facts come out in one shape (:data:`Facts`)::

    {"hostname": "desa-kemloko", "version": "FRRouting 8.4.4", "uptime_seconds": 3600,
     "interfaces": {"eth0": {"addresses": [IPv4Interface("10.199.0.18/30")], "up": True,
                             "description": "core-kemloko to core-1"}},
     "ospf_neighbors": {"10.199.255.1": {"state": "Full", "address": "10.199.0.17",
                                         "interface": "eth0"}},
     "routes": [{"prefix": IPv4Network("10.199.64.0/24"), "protocol": "ospf",
                 "nexthops": ["10.199.0.17"], "interfaces": ["eth0"]}]}
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from ipaddress import IPv4Interface, IPv4Network
from typing import Any

from simpul.errors import SimpulError

Facts = dict[str, Any]


class ParseError(SimpulError):
    """Command output did not have the expected shape."""


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError as e:
        raise ParseError(f"{what}: not JSON ({text.strip()[:120]!r})") from e


def _ipv4_iface(text: str) -> IPv4Interface | None:
    try:
        return IPv4Interface(text)
    except ValueError:
        return None


def empty_facts() -> Facts:
    return {"hostname": "", "version": "", "uptime_seconds": None, "interfaces": {},
            "ospf_neighbors": {}, "routes": []}


# --- FRR: JSON where vtysh offers it ---------------------------------------------------------

_FRR_VERSION = re.compile(r"^FRRouting (\S+) \(([^)]*)\)", re.M)


def frr_version(text: str) -> tuple[str, str]:
    """``show version`` → (``"FRRouting 8.4.4"``, hostname)."""
    m = _FRR_VERSION.search(text)
    if not m:
        raise ParseError(f"show version: no 'FRRouting <version> (<host>)' line in {text[:80]!r}")
    return f"FRRouting {m.group(1)}", m.group(2)


def frr_interfaces(text: str) -> dict[str, dict[str, Any]]:
    """``show interface json`` → ``{ifname: {addresses, up, description}}`` (IPv4 only)."""
    data = _json(text, "show interface json")
    out: dict[str, dict[str, Any]] = {}
    for name, itf in data.items():
        if not isinstance(itf, dict):
            continue
        addrs = [a for a in (_ipv4_iface(x.get("address", "")) for x in itf.get("ipAddresses", []))
                 if a is not None]
        out[name] = {
            "addresses": addrs,
            "up": itf.get("administrativeStatus") == "up" and itf.get("operationalStatus") == "up",
            "description": itf.get("description", ""),
        }
    return out


def frr_ospf_neighbors(text: str) -> dict[str, dict[str, str]]:
    """``show ip ospf neighbor json`` → ``{router_id: {state, address, interface}}``."""
    data = _json(text, "show ip ospf neighbor json")
    out: dict[str, dict[str, str]] = {}
    for rid, entries in data.get("neighbors", {}).items():
        for e in entries if isinstance(entries, list) else [entries]:
            state = str(e.get("nbrState") or e.get("state") or "").split("/")[0]
            out[rid] = {"state": state, "address": str(e.get("ifaceAddress") or e.get("address", "")),
                        "interface": str(e.get("ifaceName", "")).split(":")[0]}
    return out


def frr_routes(text: str) -> list[dict[str, Any]]:
    """``show ip route json`` → selected IPv4 routes with protocol, next hops and interfaces."""
    data = _json(text, "show ip route json")
    out = []
    for prefix, entries in data.items():
        for e in entries:
            if not e.get("selected"):
                continue
            hops = e.get("nexthops", [])
            out.append({"prefix": IPv4Network(prefix), "protocol": e.get("protocol", ""),
                        "nexthops": [h["ip"] for h in hops if h.get("ip")],
                        "interfaces": sorted({h["interfaceName"] for h in hops
                                              if h.get("interfaceName")})})
    return out


def frr_facts(outputs: dict[str, str]) -> Facts:
    f = empty_facts()
    f["version"], f["hostname"] = frr_version(outputs["show version"])
    f["interfaces"] = frr_interfaces(outputs["show interface json"])
    f["ospf_neighbors"] = frr_ospf_neighbors(outputs["show ip ospf neighbor json"])
    f["routes"] = frr_routes(outputs["show ip route json"])
    return f


# --- TextFSM (ntc-templates) -----------------------------------------------------------------


def textfsm(platform: str, command: str, text: str) -> list[dict[str, Any]]:
    """Parse ``text`` with the ntc-templates template for ``platform``/``command``."""
    from ntc_templates.parse import parse_output

    try:
        rows = parse_output(platform=platform, command=command, data=text)
    except Exception as e:  # ntc raises its own exception types for a missing/failed template
        raise ParseError(f"{platform} '{command}': TextFSM failed ({e})") from e
    return [{k.lower(): v for k, v in r.items()} for r in rows]


_UNITS = {"year": 365 * 86400, "week": 7 * 86400, "day": 86400, "hour": 3600, "minute": 60,
          "second": 1}


def uptime_words(text: str) -> int | None:
    """``"2 weeks, 3 days, 4 hours, 5 minutes"`` → seconds (IOS, VRP)."""
    total, found = 0, False
    for n, unit in re.findall(r"(\d+)\s+(year|week|day|hour|minute|second)s?", text):
        total += int(n) * _UNITS[unit]
        found = True
    return total if found else None


def uptime_routeros(text: str) -> int | None:
    """``"1w2d03:04:05"`` or ``"3d4h5m6s"`` → seconds."""
    m = re.fullmatch(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+):(\d+):(\d+)|(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?)",
                     text.strip())
    if not m or not text.strip():
        return None
    w, d, hh, mm, ss, h2, m2, s2 = (int(x) if x else 0 for x in m.groups())
    return w * 604800 + d * 86400 + (hh or h2) * 3600 + (mm or m2) * 60 + (ss or s2)


def ios_facts(outputs: dict[str, str], platform: str = "cisco_ios") -> Facts:
    f = empty_facts()
    ver = textfsm(platform, "show version", outputs["show version"])
    if ver:
        f["hostname"] = ver[0].get("hostname", "")
        f["version"] = f"Cisco IOS {ver[0].get('version', '')}".strip()
        f["uptime_seconds"] = uptime_words(ver[0].get("uptime", ""))
    for r in textfsm(platform, "show ip interface", outputs["show ip interface"]):
        addrs = [a for a in (_ipv4_iface(f"{ip}/{pl}") for ip, pl in
                             zip(r.get("ip_address", []), r.get("prefix_length", []), strict=False))
                 if a is not None]
        f["interfaces"][r["interface"]] = {
            "addresses": addrs,
            "up": r.get("link_status", "").lower() == "up" and r.get("protocol_status", "").lower() == "up",
            "description": "",
        }
    for r in textfsm(platform, "show ip ospf neighbor", outputs["show ip ospf neighbor"]):
        f["ospf_neighbors"][r["neighbor_id"]] = {"state": r.get("state", "").split("/")[0],
                                                 "address": r.get("ip_address", ""),
                                                 "interface": r.get("interface", "")}
    for r in textfsm(platform, "show ip route", outputs["show ip route"]):
        if not r.get("prefix_length"):
            continue
        f["routes"].append({"prefix": IPv4Network(f"{r['network']}/{r['prefix_length']}", strict=False),
                            "protocol": _IOS_PROTO.get(r.get("protocol", ""), r.get("protocol", "")),
                            "nexthops": [r["nexthop_ip"]] if r.get("nexthop_ip") else [],
                            "interfaces": [r["nexthop_if"]] if r.get("nexthop_if") else []})
    return f


_IOS_PROTO = {"C": "connected", "L": "local", "S": "static", "O": "ospf", "B": "bgp", "D": "eigrp",
              "R": "rip", "i": "isis"}


# --- Huawei VRP ------------------------------------------------------------------------------

_VRP_OSPF_ROW = re.compile(r"^\s*(\d+\.\d+\.\d+\.\d+)\s+(\S+)\s+(\d+\.\d+\.\d+\.\d+)\s+(\S+)\s*$")


def vrp_ospf_peer_brief(text: str) -> dict[str, dict[str, str]]:
    """``display ospf peer brief`` (no ntc template): ``{router_id: {state, interface, area}}``."""
    out = {}
    for line in text.splitlines():
        m = _VRP_OSPF_ROW.match(line)
        if m:
            area, itf, rid, state = m.groups()
            out[rid] = {"state": state, "address": "", "interface": itf, "area": area}
    return out


def vrp_facts(outputs: dict[str, str]) -> Facts:
    f = empty_facts()
    ver = textfsm("huawei_vrp", "display version", outputs["display version"])
    if ver:
        f["version"] = f"Huawei VRP {ver[0].get('vrp_version', '')} {ver[0].get('product_version', '')}".strip()
        f["uptime_seconds"] = uptime_words(ver[0].get("uptime", ""))
        f["hostname"] = outputs.get("_prompt", "")
    for r in textfsm("huawei_vrp", "display interface", outputs["display interface"]):
        a = _ipv4_iface(r.get("ip_address", "")) if r.get("ip_address") else None
        f["interfaces"][r["interface"]] = {
            "addresses": [a] if a else [],
            "up": r.get("link_status", "").lower().startswith("up")
            and r.get("protocol_status", "").lower().startswith("up"),
            "description": r.get("interface_description", ""),
        }
    f["ospf_neighbors"] = vrp_ospf_peer_brief(outputs["display ospf peer brief"])
    for r in textfsm("huawei_vrp", "display ip routing-table verbose",
                     outputs["display ip routing-table verbose"]):
        if not r.get("destination") or "Active" not in r.get("state", ""):
            continue
        f["routes"].append({"prefix": IPv4Network(f"{r['destination']}/{r['prefix_length']}", strict=False),
                            "protocol": r.get("protocol", "").lower(),
                            "nexthops": [r["next_hop"]] if r.get("next_hop") else [],
                            "interfaces": [r["interface"]] if r.get("interface") else []})
    return f


# --- MikroTik RouterOS -----------------------------------------------------------------------


def routeros_facts(outputs: dict[str, str]) -> Facts:
    f = empty_facts()
    res = textfsm("mikrotik_routeros", "/system resource print", outputs["/system resource print"])
    if res:
        f["version"] = f"RouterOS {res[0].get('version', '')}".strip()
        f["uptime_seconds"] = uptime_routeros(res[0].get("uptime", ""))
    ident = textfsm("mikrotik_routeros", "/system identity print", outputs["/system identity print"])
    f["hostname"] = ident[0]["name"] if ident else ""
    for r in textfsm("mikrotik_routeros", "/interface print terse without-paging",
                     outputs["/interface print terse without-paging"]):
        f["interfaces"][r["name"]] = {"addresses": [], "up": r.get("status") == "R",
                                      "description": r.get("comment", "")}
    for r in textfsm("mikrotik_routeros", "/ip address print", outputs["/ip address print"]):
        if "X" in r.get("flags", ""):
            continue  # disabled
        a = _ipv4_iface(f"{r['ip']}/{r['subnet']}")
        if a is None:
            continue
        itf = f["interfaces"].setdefault(r["interface"], {"addresses": [], "up": False, "description": ""})
        itf["addresses"].append(a)
    for r in textfsm("mikrotik_routeros", "/routing ospf neighbor print terse without-paging",
                     outputs["/routing ospf neighbor print terse without-paging"]):
        f["ospf_neighbors"][r["router_id"]] = {"state": r.get("state", ""), "address": r.get("address", ""),
                                               "interface": r.get("interface", "")}
    for r in textfsm("mikrotik_routeros", "/ip route print terse without-paging",
                     outputs["/ip route print terse without-paging"]):
        if "A" not in r.get("flags", ""):
            continue
        gw = r.get("gateway", "")
        f["routes"].append({"prefix": IPv4Network(f"{r['destination_address']}/{r['destination_address_subnet']}",
                                                  strict=False),
                            "protocol": _ros_proto(r.get("flags", "")),
                            "nexthops": [gw] if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", gw) else [],
                            "interfaces": [gw] if gw and not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", gw) else []})
    return f


def _ros_proto(flags: str) -> str:
    for flag, proto in (("o", "ospf"), ("C", "connected"), ("S", "static"), ("b", "bgp"), ("r", "rip")):
        if flag in flags:
            return proto
    return ""


# --- the table ---------------------------------------------------------------------------------

FACT_COMMANDS: dict[str, list[str]] = {
    "frr": ["show version", "show interface json", "show ip ospf neighbor json", "show ip route json"],
    "cisco_ios": ["show version", "show ip interface", "show ip ospf neighbor", "show ip route"],
    "cisco_xe": ["show version", "show ip interface", "show ip ospf neighbor", "show ip route"],
    "huawei": ["display version", "display interface", "display ospf peer brief",
               "display ip routing-table verbose"],
    "mikrotik_routeros": ["/system resource print", "/system identity print",
                          "/interface print terse without-paging", "/ip address print",
                          "/routing ospf neighbor print terse without-paging",
                          "/ip route print terse without-paging"],
}
"""The show commands whose outputs make a platform's facts."""

FACT_PARSERS: dict[str, Callable[[dict[str, str]], Facts]] = {
    "frr": frr_facts,
    "cisco_ios": ios_facts,
    "cisco_xe": lambda o: ios_facts(o, "cisco_xe"),
    "huawei": vrp_facts,
    "mikrotik_routeros": routeros_facts,
}


def parse_facts(platform: str, outputs: dict[str, str]) -> Facts:
    """Facts of one device from the outputs of :data:`FACT_COMMANDS` (``{command: text}``)."""
    if platform not in FACT_PARSERS:
        raise ParseError(f"no facts parser for platform {platform}")
    missing = [c for c in FACT_COMMANDS[platform] if c not in outputs]
    if missing:
        raise ParseError(f"{platform}: outputs missing for {', '.join(missing)}")
    return FACT_PARSERS[platform](outputs)


def facts_to_json(f: Facts) -> dict[str, Any]:
    """JSON-friendly copy of :data:`Facts` (addresses and prefixes as strings)."""
    return {
        **{k: v for k, v in f.items() if k not in ("interfaces", "routes")},
        "interfaces": {n: {**i, "addresses": [str(a) for a in i["addresses"]]}
                       for n, i in f["interfaces"].items()},
        "routes": [{**r, "prefix": str(r["prefix"])} for r in f["routes"]],
    }
