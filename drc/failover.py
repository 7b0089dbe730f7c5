"""The failover drill: inject a failure into a service's DRC standby under load, measure RTO/RPO
and divergence, heal, fail back, report (Pergub Jambi 12/2022 Pasal 23(2)(c), 23(2)(e); Pergub
Kalteng 24/2022 Pasal 11(2)(b), 14; Pergub Jateng (draft 2025) Pasal 11(6), 12(1)(g)).

The engines do the work — Patroni promotes, etcd decides, vip-manager moves the address; the
drill only injects, watches and counts:

=============  ==================================================================================
scenario       injection (lab / real servers)
=============  ==================================================================================
switchover     Patroni's own planned switchover (``POST /switchover``) to the other site
crash          SIGKILL of the leader's Patroni and every PostgreSQL process (by PID)
site-loss      lab: the leader's site cut off from the other site *and* the NOC (links ``wan`` and
               ``noc-<site>``); real: Patroni, PostgreSQL, etcd and vip-manager of the leader's
               site killed and the service address removed (a power loss)
partition      lab: only the link between the sites (``wan``) — the witness still sees both;
               real: nftables on the leader's database servers drop traffic to and from the other
               site's members (removed automatically if the drill dies)
=============  ==================================================================================

While it runs, the drill client at the NOC writes numbered rows through the service address
(:mod:`simpul.drc.loadgen`) and an observer on each database server (:mod:`simpul.drc.sampler`,
over the management network, which the drill never cuts) records every half second who holds the
service address, what Patroni says and whether PostgreSQL accepts writes. The figures come from
those logs alone (:mod:`simpul.drc.drillmath`).

A drill that cannot finish still heals what it broke (links up, firewall rule removed, Patroni
started) and says what is left to do.
"""

from __future__ import annotations

import getpass
import json
import logging
import shlex
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from simpul.deploys import dbcluster as dbc
from simpul.deploys import dbcluster_render as rd
from simpul.drc import drillmath as dm
from simpul.drc.cluster import read_status
from simpul.drc.clusterstate import ClusterStatus
from simpul.drc.stream import RemoteStream
from simpul.errors import ConfigError, ExitCode, SimpulError, UsageError
from simpul.inventory.models import Inventory
from simpul.results import Result, Status
from simpul.ssh import Target, run, server_target

log = logging.getLogger(__name__)

SCENARIOS = ("switchover", "crash", "site-loss", "partition")
REFS = ["Pergub Jambi 12/2022 Pasal 23(2)(c), 23(2)(e)", "Pergub Kalteng 24/2022 Pasal 11(2)(b), 14",
        "Pergub Jambi 12/2022 Pasal 21(1)(c)", "Pergub Jateng (draft 2025) Pasal 11(6), 12(1)(g)"]
Progress = Callable[[str], None]


class DrillRefused(SimpulError):
    """The pre-checks failed: nothing was changed."""

    exit_code = ExitCode.ERROR


class DrillFailed(SimpulError):
    """The drill could not finish; the cluster was healed as far as possible."""

    exit_code = ExitCode.ERROR


@dataclass
class Timing:
    """How long each phase may take (seconds). Defaults suit the lab; a real site may need more."""

    warmup: float = 3.0
    settle: float = 3.0
    switchover_timeout: float = 60.0
    takeover_timeout: float = rd.TTL * 3 + 60.0
    partition_observe: float = max(2.0 * rd.TTL, 20.0)
    rejoin_timeout: float = 240.0
    sample_interval: float = 0.5
    interval_ms: int = 20


# --- plan ------------------------------------------------------------------------------------


@dataclass
class DrillPlan:
    service: str
    scenario: str  # one of SCENARIOS, or "failback" (back to the home primary only)
    failback: bool
    lab: bool
    leader: str | None
    home: str
    target: str
    expect_takeover: bool
    status: ClusterStatus
    refusals: list[str] = field(default_factory=list)
    steps: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "scenario": self.scenario, "failback": self.failback,
                "lab": self.lab, "leader": self.leader, "home": self.home, "target": self.target,
                "expect_takeover": self.expect_takeover, "ready": not self.refusals,
                "refusals": self.refusals, "steps": [{"id": a, "en": b} for a, b in self.steps],
                "status": self.status.to_dict()}


def is_lab(inv: Inventory) -> bool:
    """The inventory describes the built-in lab (its plan passes the lab's safety checks)."""
    from simpul.lab.netns import LabError
    from simpul.lab.topology import plan as lab_plan

    try:
        lab_plan(inv)
    except LabError:
        return False
    return True


def _steps(spec: rd.ClusterSpec, scenario: str, leader: str, target: str, lab: bool,
           failback: bool) -> list[tuple[str, str]]:
    site = spec.member(leader).site
    inj = {
        "switchover": (f"Switchover terencana oleh Patroni: {leader} → {target}",
                       f"Planned switchover by Patroni: {leader} → {target}"),
        "crash": (f"Hentikan paksa Patroni dan semua proses PostgreSQL di {leader} (SIGKILL)",
                  f"Kill Patroni and every PostgreSQL process on {leader} (SIGKILL)"),
        "site-loss": ((f"Putus situs {site} dari DRC dan NOC (link wan, noc-…)" if lab else
                       f"Matikan layanan klaster di situs {site} (seperti listrik padam)"),
                      (f"Cut site {site} off from the other site and the NOC (links wan, noc-…)" if lab
                       else f"Kill the cluster's services at site {site} (like a power loss)")),
        "partition": (("Putus hanya link antar-situs (wan); witness di NOC tetap melihat keduanya" if lab
                       else "Blokir lalu lintas antar-situs dengan nftables (saksi tetap melihat keduanya)"),
                      ("Cut only the link between the sites (wan); the NOC witness still sees both" if lab
                       else "Block traffic between the sites with nftables (the witness still sees both)")),
        "failback": (f"Kembali ke {spec.primary.name} (switchover terencana)",
                     f"Back to {spec.primary.name} (planned switchover)"),
    }[scenario]
    steps = [("Pra-pemeriksaan: replika sehat, lag dalam RPO, etcd mayoritas, alamat layanan di leader",
              "Pre-checks: healthy replica, lag within the RPO, etcd majority, service address on the leader"),
             (f"Beban tulis bernomor dari {spec.drill_client} melalui {spec.vip}:{spec.port}",
              f"Numbered writes from {spec.drill_client} through {spec.vip}:{spec.port}"),
             inj]
    if scenario in ("crash", "site-loss"):
        steps.append((f"Patroni di {target} mengambil alih setelah kunci leader kedaluwarsa (ttl {rd.TTL} s)",
                      f"Patroni on {target} takes over once the leader key expires (ttl {rd.TTL} s)"))
    if scenario == "partition":
        steps.append(("Diharapkan: tidak ada pengambilalihan ganda; sisi tanpa mayoritas tidak menerima tulis",
                      "Expected: no double takeover; a side without the majority accepts no writes"))
    if scenario not in ("switchover", "failback"):
        steps.append((f"Pulihkan, {leader} bergabung kembali sebagai replika (pg_rewind oleh Patroni)",
                      f"Heal; {leader} rejoins as a replica (pg_rewind by Patroni)"))
    if failback and scenario != "failback":
        steps.append((f"Failback: switchover kembali ke {spec.primary.name}",
                      f"Failback: switch over back to {spec.primary.name}"))
    steps.append(("Hitung RTO, RPO dan divergensi; Berita Acara (JSON, HTML)",
                  "Measure RTO, RPO and divergence; report (JSON, HTML)"))
    return steps


def plan_drill(inv: Inventory, spec: rd.ClusterSpec, scenario: str | None, failback: bool,
               known_hosts: Path) -> DrillPlan:
    """What the drill would do and whether the cluster is ready for it (reads only)."""
    if scenario is None and not failback:
        raise UsageError("give --scenario (switchover, crash, site-loss, partition) or --failback")
    if scenario is not None and scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario '{scenario}'", hint="one of: " + ", ".join(SCENARIOS))
    if not spec.drill_client:
        raise ConfigError(f"services.{spec.service}.standby.drill_client is not set",
                          hint="name a server at the NOC that runs the drill's writes")
    status, _ = read_status(inv, spec, known_hosts)
    lab = is_lab(inv)
    leader = status.leader
    kind = scenario or "failback"
    refusals = list(status.problems)
    if leader is None:
        target = spec.drc_replica.name
    elif kind == "failback":
        target = spec.primary.name
        if leader == spec.primary.name:
            refusals.append(f"{leader} already leads: nothing to fail back")
    else:
        target = spec.drc_replica.name if spec.member(leader).site_type != "drc" else spec.primary.name
    if kind in ("site-loss", "partition") and not lab and spec.member(leader or spec.primary.name).site \
            == spec.witness.site:
        refusals.append("the witness shares the leader's site")
    plan = DrillPlan(spec.service, kind, failback and kind != "failback", lab, leader,
                     spec.primary.name, target, kind != "partition", status, refusals)
    if leader is not None:
        plan.steps = _steps(spec, kind, leader, target, lab, plan.failback)
    return plan


# --- injections -------------------------------------------------------------------------------


class Network(Protocol):
    def cut(self, links: list[str]) -> None: ...
    def heal(self) -> None: ...


class LabLinks:
    """Cut and restore lab links through :mod:`simpul.lab.wan` (the lab's public functions)."""

    def __init__(self, inv: Inventory) -> None:
        from simpul.lab import orchestrate, wan
        from simpul.lab.topology import plan as lab_plan

        self._wan = wan
        self._st = orchestrate.state()
        self._topo = lab_plan(inv)
        self.cut_links: list[str] = []

    def cut(self, links: list[str]) -> None:
        for name in links:
            self._wan.set_up(self._st, self._topo, name, False)
            self.cut_links.append(name)

    def heal(self) -> None:
        for name in reversed(self.cut_links):
            self._wan.set_up(self._st, self._topo, name, True)
        self.cut_links.clear()

    def all_up(self, names: list[str]) -> list[str]:
        states = self._wan.load_states(self._st)
        return [n for n in names if n in states and not states[n].up]


NFT_TABLE = "simpul_drill_partition"


class HostFirewall:
    """A partition on real servers: nftables drops traffic between the sites' members.

    Each rule set removes itself after ``max_seconds`` (a background timer on the server), so a
    drill that dies never leaves the sites cut off from each other."""

    def __init__(self, targets: dict[str, Target], spec: rd.ClusterSpec, max_seconds: int) -> None:
        self._t = targets
        self._spec = spec
        self._max = max_seconds
        self.hosts: list[str] = []

    def cut_between(self, side: list[str], other: list[str]) -> None:
        peers = ", ".join(str(self._spec.member(n).address) for n in other)
        rules = (f"table inet {NFT_TABLE} {{}}\ndelete table inet {NFT_TABLE}\n"
                 f"table inet {NFT_TABLE} {{\n chain in {{ type filter hook input priority -10; "
                 f"ip saddr {{ {peers} }} drop\n }}\n chain out {{ type filter hook output priority -10; "
                 f"ip daddr {{ {peers} }} drop\n }}\n}}\n")
        cmd = (f"nft -f - && (setsid sh -c 'sleep {self._max}; nft delete table inet {NFT_TABLE}' "
               ">/dev/null 2>&1 &)")
        for n in side:
            rc, _, err = run(self._t[n], cmd, sudo=True, stdin=rules.encode(), timeout=20)
            if rc != 0:
                raise DrillFailed(f"{n}: nftables partition failed: {err.strip()[-200:]}")
            self.hosts.append(n)

    def heal(self) -> None:
        for n in self.hosts:
            run(self._t[n], f"nft delete table inet {NFT_TABLE} 2>/dev/null; true", sudo=True, timeout=20)
        self.hosts.clear()


def kill_script(spec: rd.ClusterSpec, *, site_loss: bool) -> str:
    """Shell (as root) that kills Patroni and every PostgreSQL process by PID — and, for a lost
    site on real servers, vip-manager and etcd too and removes the service address."""
    s = [f"p=$(cat {spec.patroni_pidfile} 2>/dev/null); [ -n \"$p\" ] && kill -9 $p",
         f"pm=$(head -1 {spec.data_dir}/postmaster.pid 2>/dev/null)",
         "[ -n \"$pm\" ] && kill -9 $pm $(ps -o pid= --ppid $pm) 2>/dev/null"]
    if site_loss:
        s += [f"v=$(cat {spec.vip_pidfile} 2>/dev/null); [ -n \"$v\" ] && kill -9 $v",
              f"e=$(cat {rd.ETCD_PIDFILE} 2>/dev/null); [ -n \"$e\" ] && kill -9 $e",
              f"ip addr del {spec.vip}/32 dev {spec.interface} 2>/dev/null"]
    return "; ".join(s) + "; true"


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Timeline:
    t0: float
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, id_text: str, en_text: str, t: float | None = None) -> float:
        t = time.time() if t is None else t
        self.events.append({"t": t, "kind": kind, "id": id_text, "en": en_text})
        log.info("drill: %s", en_text)
        return t


class Drill:
    """One execution of a drill (build it with the plan, call :meth:`run`)."""

    def __init__(self, inv: Inventory, spec: rd.ClusterSpec, plan: DrillPlan, known_hosts: Path,
                 *, timing: Timing | None = None, progress: Progress | None = None) -> None:
        self.inv, self.spec, self.plan = inv, spec, plan
        self.timing = timing or Timing()
        self.progress = progress or (lambda _m: None)
        self.targets = {m.name: server_target(inv, m.name, known_hosts)
                        for m in spec.members}
        assert spec.drill_client is not None
        self.client_t = server_target(inv, spec.drill_client, known_hosts)
        self.known_hosts = known_hosts
        self.passwords = dbc.passwords_for(inv, spec)
        self.run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + f"-{spec.service}-{plan.scenario}"
        self.tl = Timeline(time.time())
        self.load: RemoteStream | None = None
        self.samplers: dict[str, RemoteStream] = {}
        self.links: LabLinks | None = None
        self.fw: HostFirewall | None = None
        self.crashed: list[str] = []
        self.injections: list[tuple[str, float, str]] = []
        self.problems: list[str] = []
        self.isolated_demoted_s: float | None = None
        self.after: ClusterStatus | None = None

    # --- helpers --------------------------------------------------------------------------

    def _acks(self) -> list[dm.Ack]:
        acks: list[dm.Ack] = dm.parse_events(self.load.snapshot() if self.load else [])[0]
        return acks

    def _wait(self, what: str, timeout: float, pred: Callable[[], bool], step: float = 0.2) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return True
            time.sleep(step)
        self.problems.append(f"timed out after {timeout:.0f} s waiting for {what}")
        return False

    def _leader(self) -> str | None:
        """The leader key as the etcd majority holds it (through the witness)."""
        w = self.spec.witness
        try:
            leader: str | None = dbc.dcs_leader(self.targets[w.name], self.spec, w)
            return leader
        except SimpulError as e:
            log.warning("%s: cannot read the leader key: %s", w.name, e)
            return None

    def _status(self) -> ClusterStatus:
        return read_status(self.inv, self.spec, self.known_hosts, self.targets)[0]

    def _healthy_with(self, leader: str) -> bool:
        st = self._status()
        return bool(st.leader == leader and st.can_take_over)

    def _prepare_table(self, leader: str) -> None:
        from simpul.drc.loadgen import SQL_TABLE

        dbc.psql(self.targets[leader], f"SET ROLE {rd.ROLE['drill']};\n{SQL_TABLE};",
                 db=rd.DRILL_DB)

    def _check_client(self) -> None:
        rc, _, _ = run(self.client_t, "python3 -c 'import psycopg2; print(psycopg2.__version__)'",
                       timeout=30)
        if rc != 0:
            raise DrillRefused(f"{self.client_t.name}: python3-psycopg2 is missing on the drill "
                               "client (the load cannot run)", hint="apt-get install python3-psycopg2")

    def _start_load(self) -> None:
        cfg = {"host": str(self.spec.vip), "port": self.spec.port, "dbname": rd.DRILL_DB,
               "user": rd.ROLE["drill"], "password": self.passwords["drill"], "run_id": self.run_id,
               "interval_ms": self.timing.interval_ms, "connect_timeout": 2, "query_timeout": 5,
               "tcp_user_timeout_ms": 2000, "max_seconds": 1200}
        self.load = RemoteStream(self.client_t, "loadgen", cfg, label="simpul-drill-load").start()

    def _start_samplers(self) -> None:
        for m in self.spec.db_members:
            cfg = {"node": m.name, "vip": str(self.spec.vip), "interface": self.spec.interface,
                   "api": f"http://{m.address}:8008/patroni", "port": self.spec.port,
                   "interval": self.timing.sample_interval, "max_seconds": 1200}
            self.samplers[m.name] = RemoteStream(self.targets[m.name], "sampler", cfg, sudo=True,
                                                 label="simpul-drill-sampler").start()

    def _acked_by(self, node: str, after: float) -> bool:
        return any(a.node == node and a.t > after for a in self._acks())

    def _acked_by_other(self, old: str, after: float) -> bool:
        return any(a.node != old and a.t > after for a in self._acks())

    # --- injection ------------------------------------------------------------------------

    def _switchover(self, old: str, new: str, label: str) -> float:
        """Patroni's planned switchover. Patroni answers 412 while the candidate is not yet the
        synchronous standby in its /sync key (a moment after a rejoin): retried for up to 30 s;
        the injection time is that of the request Patroni accepted."""
        m = self.spec.member(old)
        code = ("import json, sys, base64, urllib.request, urllib.error\n"
                f"req = urllib.request.Request('http://{m.address}:8008/switchover', method='POST', "
                f"data=json.dumps({{'leader': '{old}', 'candidate': '{new}'}}).encode(), "
                "headers={'Content-Type': 'application/json', 'Authorization': 'Basic ' + "
                "base64.b64encode(sys.stdin.read().strip().encode()).decode()})\n"
                "try:\n    r = urllib.request.urlopen(req, timeout=60)\n    print(r.status, r.read().decode())\n"
                "except urllib.error.HTTPError as e:\n    print(e.code, e.read().decode())\n")
        deadline = time.monotonic() + 30
        while True:
            t = time.time()
            rc, out, err = run(self.targets[old], f"python3 -c {shlex.quote(code)}", sudo=True,
                               stdin=f"{rd.RESTAPI_USER}:{self.passwords['restapi']}".encode(),
                               timeout=90)
            status, _, body = out.strip().partition(" ")
            if rc == 0 and status == "200":
                break
            if rc == 0 and status in ("412", "503") and time.monotonic() < deadline:
                log.info("switchover %s → %s not accepted yet (%s %s): retrying", old, new, status, body)
                time.sleep(1)
                continue
            raise DrillFailed(f"{old}: Patroni refused the switchover to {new}: "
                              f"{(body or err or out).strip()[-300:]}")
        self.tl.add("inject", f"Switchover {old} → {new} diterima Patroni",
                    f"Switchover {old} → {new} accepted by Patroni", t)
        self.injections.append((label, t, old))
        return t

    def _inject(self, leader: str, target: str) -> float:
        sc, spec = self.plan.scenario, self.spec
        site = spec.member(leader).site
        if sc in ("switchover", "failback"):
            return self._switchover(leader, target, "takeover" if sc == "switchover" else "failback")
        if sc == "crash":
            t = self.tl.add("inject", f"{leader}: Patroni dan PostgreSQL dihentikan paksa (SIGKILL)",
                            f"{leader}: Patroni and PostgreSQL killed (SIGKILL)")
            self.injections.append(("takeover", t, leader))
            rc, _, err = run(self.targets[leader], kill_script(spec, site_loss=False), sudo=True, timeout=30)
            if rc != 0:
                raise DrillFailed(f"{leader}: could not kill Patroni/PostgreSQL: {err.strip()[-200:]}")
            self.crashed.append(leader)
            return t
        site_members = [m.name for m in spec.db_members if m.site == site]
        other = [m.name for m in spec.members if m.site != site]
        if self.plan.lab:
            short = {"pusat-data": "pd", "drc": "drc"}.get(spec.member(leader).site_type, "")
            links = ["wan"] + ([f"noc-{short}"] if sc == "site-loss" else [])
            self.links = LabLinks(self.inv)
            t = time.time()
            self.links.cut(links)
            what = " + ".join(links)
            self.tl.add("inject", f"Link {what} diputus ({'situs ' + site + ' terisolasi' if sc == 'site-loss' else 'partisi antar-situs'})",
                        f"Links {what} cut ({'site ' + site + ' isolated' if sc == 'site-loss' else 'partition between the sites'})", t)
        elif sc == "partition":
            self.fw = HostFirewall(self.targets, spec, int(self.timing.partition_observe + 300))
            t = time.time()
            self.fw.cut_between(site_members, [n for n in other if n != spec.witness.name
                                               and spec.member(n).is_db])
            self.tl.add("inject", f"Partisi nftables antara {site} dan situs lain",
                        f"nftables partition between {site} and the other site", t)
        else:  # site-loss on real servers: everything of the site dies at once
            t = time.time()
            for n in site_members:
                run(self.targets[n], kill_script(spec, site_loss=True), sudo=True, timeout=30)
                self.crashed.append(n)
            self.tl.add("inject", f"Layanan klaster di situs {site} dimatikan (seperti listrik padam)",
                        f"The cluster's services at site {site} killed (like a power loss)", t)
        self.injections.append(("takeover", t, leader))
        return t

    def _heal(self) -> None:
        if self.links is not None and self.links.cut_links:
            self.links.heal()
            self.tl.add("heal", "Link dipulihkan", "Links restored")
        if self.fw is not None and self.fw.hosts:
            self.fw.heal()
            self.tl.add("heal", "Partisi nftables dihapus", "nftables partition removed")
        for n in self.crashed:
            cmds = []
            if self.plan.scenario == "site-loss":
                cmds.append(f"/etc/init.d/{rd.ETCD_SERVICE} start")
            cmds.append(f"/etc/init.d/{self.spec.patroni_service} start")
            if self.plan.scenario == "site-loss":
                cmds.append(f"/etc/init.d/{self.spec.vip_service} start")
            run(self.targets[n], " && ".join(cmds), sudo=True, timeout=60)
            self.tl.add("heal", f"{n}: layanan dijalankan kembali", f"{n}: services started again")
        self.crashed.clear()

    # --- main -----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        if self.plan.refusals:  # before any contact with a server
            raise DrillRefused("drill refused, nothing was changed: " + "; ".join(self.plan.refusals))
        plan, spec, tm = self.plan, self.spec, self.timing
        assert plan.leader is not None
        self._check_client()
        leader, target = plan.leader, plan.target
        before = plan.status
        started = datetime.now(UTC)
        error: str | None = None
        failback_done = False
        try:
            self.progress("preparing the drill table and starting the load")
            self._prepare_table(leader)
            self._start_samplers()
            self._start_load()
            self.tl.add("load", f"Beban tulis dimulai dari {self.client_t.name}",
                        f"Write load started from {self.client_t.name}")
            if not self._wait(f"acknowledged writes on {leader}", 30,
                              lambda: sum(1 for a in self._acks() if a.node == leader) >= 10):
                raise DrillFailed(f"the load never got acknowledgements from {leader} through "
                                  f"{spec.vip}: " + self._load_errors())
            time.sleep(tm.warmup)
            self.progress(f"injecting: {plan.scenario}")
            t_inj = self._inject(leader, target)
            if plan.expect_takeover:
                timeout = tm.switchover_timeout if plan.scenario in ("switchover", "failback") \
                    else tm.takeover_timeout
                self.progress(f"waiting for {target} to take over")
                if self._wait(f"a write acknowledged by {target}", timeout,
                              lambda: self._acked_by(target, t_inj)):
                    self.tl.add("takeover", f"Tulis pertama diakui oleh {target}",
                                f"First write acknowledged by {target}",
                                next(a.t for a in self._acks() if a.node == target and a.t > t_inj))
                else:
                    raise DrillFailed(f"{target} did not take over within {timeout:.0f} s")
                time.sleep(tm.settle)
            else:
                self.progress(f"observing the partition for {tm.partition_observe:.0f} s")
                time.sleep(tm.partition_observe)
            if plan.scenario not in ("switchover", "failback"):
                self.progress("healing")
                self._heal()
                now_leader = self._leader() or target
                rejoin = leader if now_leader != leader else target
                self.progress(f"waiting for {rejoin} to rejoin as a replica")
                if self._wait(f"{rejoin} streaming again", tm.rejoin_timeout,
                              lambda: self._healthy_with(now_leader), step=2):
                    self.tl.add("rejoin", f"{rejoin} kembali sebagai replika sinkron/streaming",
                                f"{rejoin} back as a streaming replica")
                    self._note_timeline(rejoin)
            if plan.failback:
                cur = self._leader()
                if cur == spec.primary.name:
                    failback_done = True  # the takeover already went home (e.g. the DRC led before)
                    self.tl.add("failback", f"{cur} sudah memimpin: tidak perlu failback",
                                f"{cur} already leads: no failback needed")
                elif cur is not None:
                    self.progress(f"failing back to {spec.primary.name}")
                    if not self._wait("a healthy replica before the failback", tm.rejoin_timeout,
                                      lambda: self._healthy_with(cur), step=2):
                        raise DrillFailed("the cluster is not healthy enough to fail back")
                    t_fb = self._switchover(cur, spec.primary.name, "failback")
                    if self._wait(f"a write acknowledged by {spec.primary.name}", tm.switchover_timeout,
                                  lambda: self._acked_by(spec.primary.name, t_fb)):
                        self.tl.add("failback", f"Tulis pertama diakui oleh {spec.primary.name}",
                                    f"First write acknowledged by {spec.primary.name}",
                                    next(a.t for a in self._acks()
                                         if a.node == spec.primary.name and a.t > t_fb))
                        failback_done = True
                    time.sleep(tm.settle)
        except SimpulError as e:
            error = e.message
            self.problems.append(error)
        finally:
            self._heal()
            events = self.load.stop() if self.load else []
            samples = {n: s.stop() for n, s in self.samplers.items()}
            self.tl.add("end", "Beban tulis dihentikan", "Write load stopped")
        after_leader = self._wait_settled()
        return self._report(before, after_leader, events, samples, started, error, failback_done)

    def _load_errors(self) -> str:
        errs = [e for e in (self.load.snapshot() if self.load else []) if e.get("ev") in ("err", "fatal")]
        return (errs[-1].get("msg", "?") if errs else "no answer") + (
            f" ({self.load.stderr.strip()[-200:]})" if self.load and self.load.stderr else "")

    def _note_timeline(self, name: str) -> None:
        for s in (self.samplers[name].snapshot() if name in self.samplers else [])[-1:]:
            if s.get("timeline"):
                self.tl.events[-1]["en"] += f" (timeline {s['timeline']})"

    def _wait_settled(self) -> str | None:
        """After the drill: the leader, once the cluster is healthy again (or None)."""
        deadline = time.monotonic() + self.timing.rejoin_timeout
        st = self._status()
        while not (st.leader and st.can_take_over) and time.monotonic() < deadline:
            time.sleep(2)
            st = self._status()
        self.after = st
        if not st.can_take_over:
            self.problems.append("after the drill the cluster is not healthy: " + "; ".join(st.problems))
        leader: str | None = st.leader
        return leader

    def _surviving(self, leader: str | None) -> dict[int, str]:
        if leader is None:
            return {}
        # run_id is made by this drill (timestamp, service, scenario), never user input
        out = dbc.psql(self.targets[leader], "SELECT seq, node FROM drill_writes WHERE run_id = "  # noqa: S608
                       f"'{self.run_id}' ORDER BY seq;", db=rd.DRILL_DB, timeout=60)
        rows: dict[int, str] = {}
        for line in out.splitlines():
            seq, _, node = line.partition("|")
            if seq.strip().isdigit():
                rows[int(seq)] = node
        dbc.psql(self.targets[leader], f"DELETE FROM drill_writes WHERE run_id = '{self.run_id}';",  # noqa: S608
                 db=rd.DRILL_DB)
        return rows

    def _report(self, before: ClusterStatus, leader: str | None, events: list[dict[str, Any]],
                samples: dict[str, list[dict[str, Any]]], started: datetime, error: str | None,
                failback_done: bool) -> dict[str, Any]:
        spec, plan = self.spec, self.plan
        surviving = self._surviving(leader) if leader else {}
        acks, other = dm.parse_events(events)
        m = dm.metrics(acks, other, surviving, self.injections)
        both = overlap(samples, "vip")
        writers = overlap(samples, "writable")
        t_inj = next((t for lbl, t, _ in self.injections if lbl == "takeover"), None)
        if plan.scenario in ("site-loss", "partition") and t_inj is not None and plan.leader:
            t_heal = next((e["t"] for e in self.tl.events if e["kind"] == "heal" and e["t"] > t_inj), None)
            self.isolated_demoted_s = stopped_writing(samples.get(plan.leader, []), t_inj, t_heal)
            if plan.scenario == "partition" and m.takeovers and m.takeovers[0].new is None:
                self.isolated_demoted_s = None  # not isolated: it kept the majority (witness)
        checks = dm.verdict(plan.scenario, m, rto_target_s=spec.rto.total_seconds(),
                            rpo_target_s=spec.rpo.total_seconds(), sync=spec.replication == "sync",
                            vip_both_s=both, vip_tolerance_s=VIP_OVERLAP_TOLERANCE,
                            writable_both_s=writers,
                            isolated_demoted_s=self.isolated_demoted_s,
                            expect_takeover=plan.expect_takeover, failback_done=failback_done,
                            failback_asked=plan.failback)
        if error:
            checks.append(dm.Check("finished", False, "Uji selesai tanpa galat", "The drill finished", error))
        found = dm.findings(plan.scenario, m, old=plan.leader, sync=spec.replication == "sync",
                            isolated_stopped_s=self.isolated_demoted_s, ttl=rd.TTL)
        t0 = min([e["t"] for e in self.tl.events] + [a.t for a in acks[:1]])
        advice = ""
        if error or self.problems:
            advice = (f"Check 'simpul drc status --service {spec.service}'; if the leader is not "
                      f"{spec.primary.name}, run 'simpul drill failover --service {spec.service} "
                      "--failback --execute' once the cluster is healthy.")
        return {
            "kind": "failover-drill", "run_id": self.run_id, "service": spec.service,
            "service_name": self.inv.services[spec.service].name, "scenario": plan.scenario,
            "lab": plan.lab, "inventory": self.inv.source,
            "organisation": self.inv.organisation.name,
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "executed_by": f"{getpass.getuser()}@{socket.gethostname()}",
            "targets": {"rto_s": spec.rto.total_seconds(), "rpo_s": spec.rpo.total_seconds(),
                        "replication": spec.replication},
            "cluster": {"primary": spec.primary.name, "replicas": [r.name for r in spec.replicas],
                        "witness": spec.witness.name, "vip": str(spec.vip), "port": spec.port,
                        "ttl": rd.TTL, "loop_wait": rd.LOOP_WAIT, "retry_timeout": rd.RETRY_TIMEOUT,
                        "leader_before": plan.leader, "leader_after": leader,
                        "drill_client": spec.drill_client},
            "before": before.to_dict(), "after": self.after.to_dict() if self.after else None,
            "t0": t0,
            "timeline": sorted(self.tl.events, key=lambda e: e["t"]),
            "metrics": m.to_dict(), "vip_both_s": both, "writable_both_s": writers,
            "isolated_stopped_writing_s": self.isolated_demoted_s,
            "checks": [c.to_dict() for c in checks], "passed": all(c.ok for c in checks),
            "findings": [{"id": a, "en": b} for a, b in found],
            "writes": {"acks": [[round(a.t, 3), a.seq, a.node] for a in acks],
                       "errors": [[round(e["t"], 3), e.get("kind"), (e.get("msg") or "")[:120]]
                                  for e in other if e.get("ev") == "err"]},
            "samples": {n: [{k: s.get(k) for k in ("t", "vip", "role", "state", "writable", "timeline")}
                            for s in ss] for n, ss in samples.items()},
            "problems": self.problems, "advice": advice, "error": error, "refs": REFS,
        }


def held_spans(samples: list[dict[str, Any]], key: str) -> list[tuple[float, float]]:
    """Spans in which a server was *seen* with ``key`` true: from the first to the last sample
    of each run of true samples (a lower bound of the real span)."""
    spans: list[tuple[float, float]] = []
    start: float | None = None
    last = 0.0
    for s in samples:
        if s.get(key) is True:
            start = s["t"] if start is None else start
            last = s["t"]
        elif start is not None:
            spans.append((start, last))
            start = None
    if start is not None:
        spans.append((start, last))
    return spans


def overlap(samples: dict[str, list[dict[str, Any]]], key: str) -> float:
    """The longest time two servers were both seen with ``key`` true — both holding the service
    address (``vip``) or both accepting writes (``writable``: two primaries)."""
    spans = {n: held_spans(ss, key) for n, ss in samples.items()}
    names = list(spans)
    best = 0.0
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            for s1, e1 in spans[a]:
                for s2, e2 in spans[b]:
                    best = max(best, min(e1, e2) - max(s1, s2))
    return round(best, 2)


VIP_OVERLAP_TOLERANCE = 1.0
"""vip-manager polls the leader key every 250 ms on each server: while the address moves it can
be on both for up to one interval (plus the observers' 0.5 s sampling). Longer means it *stays*."""


def stopped_writing(samples: list[dict[str, Any]], t_inject: float,
                    t_heal: float | None = None) -> float | None:
    """Seconds from the injection until the (isolated) old primary no longer accepted writes and
    never accepted them again until the heal; None if it kept accepting them."""
    after = [s for s in samples if s["t"] >= t_inject and (t_heal is None or s["t"] < t_heal)]
    for i, s in enumerate(after):
        if s.get("writable") is False and all(x.get("writable") is not True for x in after[i:]):
            return round(float(s["t"]) - t_inject, 2)
    return None


# --- history ----------------------------------------------------------------------------------


def history_dir(state_dir: Path) -> Path:
    return state_dir / "drills" / "failover"


def save(report: dict[str, Any], state_dir: Path, html: str) -> tuple[Path, Path]:
    """Keep the report (JSON and HTML) and one summary line in ``history.jsonl``."""
    d = history_dir(state_dir)
    d.mkdir(parents=True, exist_ok=True)
    jp = d / f"{report['run_id']}.json"
    hp = d / f"{report['run_id']}.html"
    jp.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    hp.write_text(html)
    with (d / "history.jsonl").open("a") as f:
        f.write(json.dumps(summary(report), ensure_ascii=False) + "\n")
    return jp, hp


def summary(report: dict[str, Any]) -> dict[str, Any]:
    m = report["metrics"]
    tk = {t["label"]: t for t in m["takeovers"]}
    return {"run_id": report["run_id"], "service": report["service"], "scenario": report["scenario"],
            "started": report["started"], "passed": report["passed"],
            "rto_s": (tk.get("takeover") or tk.get("failback") or {}).get("rto_s"),
            "failback_rto_s": (tk.get("failback") or {}).get("rto_s") if "takeover" in tk else None,
            "rpo_rows": m["rpo_rows"], "rpo_ms": m["rpo_ms"], "divergent": len(m["divergent"]),
            "acks": m["acks"], "lab": report["lab"]}


def history(state_dir: Path, service: str | None = None) -> list[dict[str, Any]]:
    p = history_dir(state_dir) / "history.jsonl"
    if not p.exists():
        return []
    out = []
    for line in p.read_text().splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if service is None or d.get("service") == service:
            out.append(d)
    return out


def cluster_results(report: dict[str, Any]) -> list[Result]:
    """One result per check, for the command's exit code."""
    return [Result(c["id"], Status.OK if c["ok"] else Status.FAILED, c["en"], {"value": c["value"]})
            for c in report["checks"]]
