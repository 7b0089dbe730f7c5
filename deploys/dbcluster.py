"""``simpul drc deploy``: the server side of a service's DRC standby, as a pyinfra deploy.

What goes where (files from :mod:`simpul.deploys.dbcluster_render`):

=================================  ===========================================================
every member (+ witness)           ``/etc/default/etcd`` for Debian's ``/etc/init.d/etcd``
database members                   ``/etc/patroni/<scope>.yml`` (0600 postgres),
                                   ``/etc/patroni/vip-<scope>.yml``, init scripts
                                   ``simpul-patroni-<scope>`` and ``simpul-vip-<scope>``,
                                   Debian's ``start.conf`` set to ``manual``
firewall (if Simpul manages it)    the hardening table ``inet simpul`` re-rendered: the ports
                                   come from :func:`simpul.deploys.hostvars.cluster_ports`
=================================  ===========================================================

The deploy runs in phases, each a pyinfra run per host through :func:`simpul.runner.run_each`,
with waits in between (an etcd majority, a Patroni leader, streaming replicas):

1. **hosts**: firewall, etcd, configuration files, init scripts (all members at once);
2. **primary**: Debian's own postmaster (if it runs the existing ``<version>/main``) is stopped
   and Patroni started on the same data directory: Patroni **adopts** it (no bootstrap: an
   initialised data directory and no cluster in etcd make it the leader with the same data);
3. **database objects** on the leader: the replication, pg_rewind and drill roles (SCRAM
   verifiers computed here, so no clear password reaches the server), the drill database, the
   cluster-wide Patroni settings (``PATCH /config`` when they differ);
4. **replicas**: a pristine Debian data directory of another system is moved aside (never
   deleted; one with user databases is refused), Patroni clones the leader with pg_basebackup;
5. **vip-manager** on the database members.

Every step compares live state with the wanted state, so a second deploy changes nothing and a
half-finished one converges. In plan mode nothing changes and every host says what would.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pyinfra.api.command import StringCommand
from pyinfra.api.operation import operation
from pyinfra.context import host as ctx_host

from simpul.deploys import dbcluster_render as rd
from simpul.deploys.ops import FileState, Recorder, _sha, ensure, managed_file, record, recorder
from simpul.deploys.ops import read_state as probe
from simpul.errors import SimpulError, UnreachableError
from simpul.inventory.models import Inventory
from simpul.results import Result, Status
from simpul.runner import Hook, run_each
from simpul.secrets_ref import resolve_secret
from simpul.ssh import Target, preflight, run, server_target

log = logging.getLogger(__name__)

Mode = Literal["plan", "apply"]
DEBIAN_ETCD_PIDFILE = "/var/run/etcd.pid"  # Debian's /etc/init.d/etcd (init-d-script)


class ClusterError(SimpulError):
    """A deploy step on the cluster failed; the message says which and what to do."""


# --- pyinfra operations ---------------------------------------------------------------------


def _running_script(pidfile: str, marker: str) -> str:
    """Shell: prints ``stopped`` or the start time of the daemon in ms since the epoch.

    The process is ours if its command line contains ``marker`` (``/proc/PID/exe`` of another
    user's process is unreadable without CAP_SYS_PTRACE, which confined servers drop)."""
    return (f"pid=$(cat {shlex.quote(pidfile)} 2>/dev/null); "
            "if [ -z \"$pid\" ] || ! kill -0 \"$pid\" 2>/dev/null || "
            f"! tr '\\0' ' ' < /proc/$pid/cmdline | grep -qF -- {shlex.quote(marker)}; "
            "then echo stopped; exit 0; fi; "
            "hz=$(getconf CLK_TCK); now=$(date +%s%3N); up=$(awk '{printf \"%d\", $1*1000}' /proc/uptime); "
            "st=$(awk '{print $22}' /proc/$pid/stat); echo started=$((now - up + st*1000/hz))")


@operation()
def daemon(service: str, pidfile: str, marker: str, configs: Sequence[tuple[str, str | None]],
           on_change: Literal["restart", "reload"] = "restart") -> Generator[Any, None, None]:
    """Keep ``service`` (an init script) enabled at boot and running on its configuration.

    ``configs`` are ``(path, wanted content or None)``. Not running → ``start``; a file that this run
    changes (its content differs from the wanted one), or that is newer than the process (a
    run that failed after writing it) → ``restart`` (or ``reload``: Patroni re-reads its
    configuration on SIGHUP; restarting the leader's Patroni would hand leadership to the DRC).
    Live comparison, so a half-finished run converges.
    """
    rc, out = probe(f"ls /etc/rc2.d/ | grep -qx 'S[0-9][0-9]{service}'")
    if rc != 0:
        record("service", f"enable {service} at boot (update-rc.d)")
        yield StringCommand(f"update-rc.d {service} defaults >/dev/null && update-rc.d {service} enable")
    _, out = probe(_running_script(pidfile, marker))
    state = out[-1] if out else "stopped"
    if state == "stopped":
        record("service", f"start {service}")
        yield StringCommand(f"/etc/init.d/{service} start")
        return
    started = int(state.split("=", 1)[1])
    changing = [p for p, content in configs if content is not None
                and (ctx_host.get_fact(FileState, path=p) or {}).get("sha256") != _sha(content)]
    files = " ".join(shlex.quote(p) for p, _ in configs)
    _, out = probe(f"for f in {files}; do [ -e \"$f\" ] && stat -c %.3Y \"$f\" | tr -d .; done; true")
    newest = max((int(x) for x in out if x.strip().isdigit()), default=0)
    if changing or newest > started:
        why = f"{', '.join(changing)} changes now" if changing else \
            "configuration newer than the running process"
        record("service", f"{on_change} {service} ({why})")
        yield StringCommand(f"/etc/init.d/{service} {on_change}")


@operation()
def disabled_at_boot(service: str) -> Generator[Any, None, None]:
    """Debian's own init script for ``service`` does not start at boot (``update-rc.d disable``)."""
    rc, _ = probe(f"ls /etc/rc2.d/ | grep -qx 'S[0-9][0-9]{service}'")
    if rc == 0:
        record("service", f"disable Debian's {service} at boot (update-rc.d)")
        yield StringCommand(f"update-rc.d {service} disable >/dev/null")


@operation()
def debian_etcd_stopped() -> Generator[Any, None, None]:
    """The single-node etcd Debian starts after installing ``etcd-server`` (localhost, its own
    data) is stopped: it holds port 2379 that the cluster member needs."""
    _, out = probe(_running_script(DEBIAN_ETCD_PIDFILE, "/usr/bin/etcd"))
    if out and out[-1] != "stopped":
        record("service", "stop Debian's default etcd (it holds 127.0.0.1:2379)")
        yield StringCommand(f"start-stop-daemon --stop --quiet --oknodo --retry TERM/20/KILL/5 "
                            f"--pidfile {DEBIAN_ETCD_PIDFILE} --name etcd; rm -f {DEBIAN_ETCD_PIDFILE}")


@operation()
def debian_postmaster_stopped(spec_version: int, pidfile: str, marker: str) -> Generator[Any, None, None]:
    """Before Patroni adopts ``<version>/main``: a postmaster that Debian's ``pg_ctlcluster``
    started is stopped (fast shutdown), or Patroni would find the data directory in use."""
    data = f"/var/lib/postgresql/{spec_version}/main"
    _, out = probe(_running_script(pidfile, marker))
    if out and out[-1] != "stopped":
        return  # Patroni runs: the postmaster is its own
    rc, _ = probe(f"test -f {data}/postmaster.pid && head -1 {data}/postmaster.pid | xargs kill -0")
    if rc == 0:
        record("command", f"stop the postmaster that Debian started on {data} (Patroni takes over)")
        yield StringCommand(f"pg_ctlcluster {spec_version} main stop -m fast")


@operation()
def foreign_data_moved_aside(spec_version: int, pidfile: str, marker: str,
                             cluster_sysid: str | None) -> Generator[Any, None, None]:
    """On a replica: a data directory of *another* PostgreSQL system (Debian's own empty
    ``main``, made when the package was installed) is moved aside so Patroni can clone the
    leader. Never deleted; one that holds user databases is refused (the operator decides)."""
    data = f"/var/lib/postgresql/{spec_version}/main"
    _, out = probe(_running_script(pidfile, marker))
    if out and out[-1] != "stopped":
        return  # Patroni already manages this node
    rc, out = probe(f"test -f {data}/global/pg_control || exit 3; "
                    f"/usr/lib/postgresql/{spec_version}/bin/pg_controldata {data} "
                    "| awk -F: '/system identifier/{gsub(/ /,\"\",$2); print \"sysid=\"$2}'; "
                    f"echo dbs=$(ls {data}/base | wc -l); "
                    f"test -f {data}/patroni.dynamic.json && echo patroni=yes; true")
    if rc == 3:
        return  # empty or absent: Patroni clones into it
    kv = dict(line.split("=", 1) for line in out if "=" in line)
    if cluster_sysid and kv.get("sysid") == cluster_sysid and kv.get("patroni") == "yes":
        return  # a member of this cluster that was stopped: Patroni rejoins it (pg_rewind)
    # Same system identifier but never run by Patroni: a copy of one image (every server made
    # from the same Debian image has the same empty cluster) — just as foreign as another system.
    if int(kv.get("dbs", "99")) > 3:  # template0, template1, postgres
        recorder().refusals.append(
            f"{data} holds user databases of another PostgreSQL system (system identifier "
            f"{kv.get('sysid', '?')}); move it away yourself if it may go, then deploy again")
        return
    aside = f"{data}.simpul-replaced-{date.today().isoformat()}"
    record("command", f"move Debian's unused {data} (system {kv.get('sysid', '?')}) aside to "
                      f"{aside}; Patroni clones the leader into {data}")
    yield StringCommand(f"pg_ctlcluster {spec_version} main stop -m fast 2>/dev/null; "
                        f"mv {data} {aside}")


# --- the phases (run inside a pyinfra State for one host) ---------------------------------------


@dataclass
class HostPlan:
    """What one host gets in the ``hosts`` phase."""

    spec: rd.ClusterSpec
    member: rd.Member
    passwords: dict[str, str]
    drill_client_address: Any = None
    firewall: Any = None  # a HardenContext when Simpul manages the host's firewall


def hosts_phase(hp: HostPlan) -> None:
    spec, m = hp.spec, hp.member
    if hp.firewall is not None:
        # the hardening's own firewall family, with the guard it relies on kept in step (a host
        # hardened by an older Simpul has an older guard)
        from simpul.deploys.families.firewall import host_firewall
        from simpul.deploys.families.guard import lockout_guard
        lockout_guard(hp.firewall)
        host_firewall(hp.firewall)
    token = spec.etcd_token
    ensure(name=f"etcd data directory /var/lib/etcd/{token}",
           check=f"test -d /var/lib/etcd/{token} && test -d /var/log/etcd && "
                 f"[ \"$(stat -c %U /var/lib/etcd/{token})\" = etcd ]",
           fix=f"install -d -o etcd -g etcd -m 700 /var/lib/etcd/{token} && "
               "install -d -o etcd -g adm -m 750 /var/log/etcd")
    etcd_conf = rd.render_etcd_default(spec, m)
    etcd_initd = rd.render_etcd_initd()
    disabled_at_boot(name="Debian's default etcd off (Simpul runs its own member)", service="etcd")
    debian_etcd_stopped(name="Debian's default etcd stopped")
    managed_file(name=f"etcd member {m.name} ({rd.ETCD_ENV})", path=rd.ETCD_ENV, content=etcd_conf)
    managed_file(name=f"init script {rd.ETCD_SERVICE}", path=f"/etc/init.d/{rd.ETCD_SERVICE}",
                 mode="755", content=etcd_initd)
    daemon(name="etcd running on its configuration", service=rd.ETCD_SERVICE,
           pidfile=rd.ETCD_PIDFILE, marker="/usr/bin/etcd",
           configs=[(rd.ETCD_ENV, etcd_conf), (f"/etc/init.d/{rd.ETCD_SERVICE}", etcd_initd)])
    if not m.is_db:
        return
    disabled_at_boot(name="Debian's single-cluster Patroni script off", service="patroni")
    managed_file(name=f"{spec.config_dir}/start.conf: manual (Patroni starts PostgreSQL)",
                 path=f"{spec.config_dir}/start.conf", user="postgres", group="postgres",
                 content=(f"{rd.HEADER}# Patroni ({spec.patroni_service}) runs this cluster; "
                          "Debian's init script must not start a second postmaster.\nmanual\n"))
    managed_file(name=f"Patroni configuration {spec.patroni_config}", path=spec.patroni_config,
                 mode="600", user="postgres", group="postgres",
                 content=rd.render_patroni(spec, m, hp.passwords, hp.drill_client_address))
    managed_file(name=f"init script {spec.patroni_service}", path=f"/etc/init.d/{spec.patroni_service}",
                 mode="755", content=rd.render_patroni_initd(spec))
    managed_file(name=f"vip-manager configuration {spec.vip_config}", path=spec.vip_config,
                 content=rd.render_vip(spec, m))
    managed_file(name=f"init script {spec.vip_service}", path=f"/etc/init.d/{spec.vip_service}",
                 mode="755", content=rd.render_vip_initd(spec))


def patroni_phase(spec: rd.ClusterSpec, m: rd.Member, cluster_sysid: str | None) -> None:
    marker = f"/usr/bin/patroni {spec.patroni_config}"  # cmdline: python3 /usr/bin/patroni CONF
    if m.role == "primary":
        debian_postmaster_stopped(name="Debian's postmaster handed over to Patroni",
                                  spec_version=spec.version, pidfile=spec.patroni_pidfile,
                                  marker=marker)
    else:
        foreign_data_moved_aside(name="replica data directory ready for a clone",
                                 spec_version=spec.version, pidfile=spec.patroni_pidfile,
                                 marker=marker, cluster_sysid=cluster_sysid)
    daemon(name=f"Patroni ({spec.patroni_service}) running", service=spec.patroni_service,
           pidfile=spec.patroni_pidfile, marker=marker, configs=[(spec.patroni_config, None)],
           on_change="reload")


def vip_phase(spec: rd.ClusterSpec, m: rd.Member) -> None:
    daemon(name=f"vip-manager ({spec.vip_service}) running", service=spec.vip_service,
           pidfile=spec.vip_pidfile, marker=f"/usr/bin/vip-manager --config {spec.vip_config}",
           configs=[(spec.vip_config, None)])


# --- running a phase on one host ------------------------------------------------------------------


_PYINFRA_LOCK = threading.Lock()


@dataclass
class PhaseRun:
    changes: list[dict[str, Any]] = field(default_factory=list)
    changed_ops: int = 0
    failure: str = ""


def run_phase(t: Target, mode: Mode, body: Callable[[], None]) -> PhaseRun:
    """Run the pyinfra operations that ``body`` declares on host ``t`` (plan: record only)."""
    from pyinfra.api.exceptions import PyinfraError
    from pyinfra.api.operations import run_ops
    from pyinfra.context import ctx_host, ctx_state

    from simpul.deploys.runner import _outcome, pyinfra_state, thread_local_pyinfra_context

    with _PYINFRA_LOCK:
        thread_local_pyinfra_context()
    state = pyinfra_state(t)
    host = state.inventory.get_host(t.name)
    rec = Recorder()
    state.simpul_recorder = rec
    pr = PhaseRun()
    with ctx_state.use(state), ctx_host.use(host):
        try:
            host.connect(raise_exceptions=True, show_errors=False)
        except Exception as e:  # pyinfra's ConnectError: wrapped once, with the host name
            raise UnreachableError(t.name, f"pyinfra could not connect: {e}") from e
        try:
            state.activate_host(host)
            body()
            pr.changes = [c.to_dict() for c in rec.changes]
            if mode == "apply" and not rec.refusals:
                try:
                    run_ops(state)
                except PyinfraError as e:
                    log.debug("%s: pyinfra: %s", t.name, e)
                pr.changed_ops, pr.failure = _outcome(state, host)
            if rec.guard_failures:
                pr.failure = "; ".join([*rec.guard_failures, *([pr.failure] if pr.failure else [])])
            if rec.refusals:
                pr.failure = "; ".join([*rec.refusals, *([pr.failure] if pr.failure else [])])
        finally:
            try:
                host.disconnect()
            except Exception as e:  # closing a dead connection: nothing left to do
                log.debug("%s: disconnect: %s", t.name, e)
    return pr


# --- reading the live cluster (also used by simpul drc status and the drills) -----------------


def remote_json(t: Target, code: str, *, timeout: float = 20) -> Any:
    """Run a small python3 snippet on ``t`` (as root) and parse the JSON it prints."""
    rc, out, err = run(t, "python3 -", sudo=True, stdin=code.encode(), timeout=timeout)
    if rc != 0:
        raise ClusterError(f"{t.name}: {err.strip()[-300:] or f'exit {rc}'}")
    try:
        return json.loads(out)
    except ValueError as e:
        raise ClusterError(f"{t.name}: unexpected output: {out.strip()[:200]}") from e


_GET = r"""
import json, sys, urllib.request, urllib.error
out = {}
for name, url in %s:
    try:
        with urllib.request.urlopen(url, timeout=%s) as r:
            out[name] = {"status": r.status, "body": json.loads(r.read().decode() or "null")}
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        try:
            body = json.loads(body)
        except ValueError:
            pass
        out[name] = {"status": e.code, "body": body}
    except Exception as e:
        out[name] = {"status": 0, "error": str(e)}
print(json.dumps(out))
"""


def http_get(t: Target, urls: dict[str, str], timeout: float = 3) -> dict[str, Any]:
    """GET several URLs *from* host ``t`` (the REST APIs listen on the data plane, which the
    NOC reaches only through the members). Returns ``{name: {status, body|error}}``."""
    return remote_json(t, _GET % (json.dumps(sorted(urls.items())), timeout),  # type: ignore[no-any-return]
                       timeout=timeout * len(urls) + 15)


def patroni_cluster(t: Target, spec: rd.ClusterSpec, member: rd.Member) -> dict[str, Any] | None:
    """Patroni's ``GET /cluster`` through ``member``'s REST API (None if it does not answer)."""
    res = http_get(t, {"c": f"http://{member.address}:8008/cluster"})["c"]
    return res.get("body") if res.get("status") == 200 else None


def etcd_health(t: Target, member: rd.Member) -> dict[str, Any]:
    """``etcdctl endpoint health`` of ``member``'s etcd (on its cluster address, not a stray
    default instance on localhost): healthy only with a quorum."""
    rc, out, err = run(t, f"ETCDCTL_API=3 etcdctl --endpoints=http://{member.address}:2379 "
                          "--command-timeout=3s endpoint health -w json", sudo=True, timeout=20)
    try:
        data = json.loads(out or "[]")
        h = data[0] if isinstance(data, list) and data else {}
        return {"healthy": bool(h.get("health")), "took": h.get("took"), "error": h.get("error")
                or (err.strip()[-200:] if rc else None)}
    except ValueError:
        return {"healthy": False, "error": (err or out).strip()[-200:]}


REPLICATION_SQL = (
    "SELECT coalesce(json_agg(json_build_object('application_name', application_name, "
    "'state', state, 'sync_state', sync_state, 'sent_lsn', sent_lsn::text, "
    "'replay_lsn', replay_lsn::text, 'replay_lag_s', extract(epoch FROM replay_lag), "
    "'leader_lsn', pg_current_wal_lsn()::text)), '[]') FROM pg_stat_replication;")


def replication_rows(t: Target) -> list[dict[str, Any]]:
    """The leader's ``pg_stat_replication`` (one dict per connected standby)."""
    out = psql(t, REPLICATION_SQL).strip()
    return json.loads(out or "[]")  # type: ignore[no-any-return]


def dcs_leader(t: Target, spec: rd.ClusterSpec, via: rd.Member) -> str | None:
    """The leader key as the etcd majority has it (a quorum read through ``via``'s etcd member;
    a Patroni that was cut off may still show its old view). None: no leader, or no majority."""
    url = f"http://{via.address}:2379/v2/keys{spec.leader_key}?quorum=true"
    res = http_get(t, {"k": url})["k"]
    if res.get("status") != 200:
        return None
    node = (res.get("body") or {}).get("node") or {}
    value = node.get("value")
    return str(value) if value else None


def leader_of(cluster: dict[str, Any] | None) -> dict[str, Any] | None:
    for mem in (cluster or {}).get("members", []):
        if mem.get("role") == "leader":
            return mem  # type: ignore[no-any-return]
    return None


# --- the deploy -----------------------------------------------------------------------------------


@dataclass
class DeployContext:
    inv: Inventory
    spec: rd.ClusterSpec
    known_hosts: Path
    mode: Mode
    passwords: dict[str, str]
    targets: dict[str, Target]
    hooks: Sequence[Hook] = ()
    results: dict[str, Result] = field(default_factory=dict)
    cluster_changes: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, pr: PhaseRun, phase: str) -> None:
        r = self.results.setdefault(name, Result(name, Status.OK, "", {"changes": [], "changed_ops": 0}))
        r.data["changes"].extend({**c, "phase": phase} for c in pr.changes)
        r.data["changed_ops"] += pr.changed_ops
        if pr.failure:
            r.status = Status.FAILED
            r.message = "; ".join(x for x in (r.message, f"{phase}: {pr.failure}") if x)


def passwords_for(inv: Inventory, spec: rd.ClusterSpec) -> dict[str, str]:
    secret = resolve_secret(inv, spec.secret).get_secret_value()
    return {p: rd.derive_password(secret, p) for p in rd.PASSWORD_PURPOSES}


def _firewall_context(inv: Inventory, name: str, t: Target, mode: Mode) -> Any:
    """The hardening context for the firewall family, if Simpul manages this host's firewall
    (its table file exists); None otherwise (the deploy never hardens a host unasked). The
    ports come from :func:`simpul.deploys.hostvars.cluster_ports`, so ``harden apply`` and this
    deploy render the same table."""
    from simpul.deploys.families.base import HardenContext
    from simpul.deploys.families.firewall import NFT_FILE
    from simpul.deploys.hostvars import decide, host_vars
    from simpul.deploys.runner import make_confirm
    from simpul.ssh import public_key_line

    rc, _, _ = run(t, f"test -f {NFT_FILE}", sudo=True, timeout=20)
    if rc != 0:
        return None
    hv = host_vars(inv, name)
    return HardenContext(hv=hv, decisions=decide(hv, date.today()), facts=preflight(t),
                         pubkey=public_key_line(t.key_file),
                         confirm=make_confirm(t) if mode == "apply" else None)


def _each(dc: DeployContext, names: Sequence[str], phase: str,
          work: Callable[[str], PhaseRun]) -> None:
    def task(name: str) -> Result:
        pr = work(name)
        dc.add(name, pr, phase)
        return Result(name, Status.FAILED if pr.failure else Status.OK, pr.failure)

    for r in run_each(list(names), task, parallel=8):
        if r.exception is not None:  # the task raised (unreachable, an error): say where
            dc.add(r.target, PhaseRun(), phase)
            cur = dc.results[r.target]
            cur.status = r.status
            cur.message = "; ".join(x for x in (cur.message, f"{phase}: {r.message}") if x)
    bad = [n for n in names if dc.results.get(n) and dc.results[n].failed]
    if bad and dc.mode == "apply":
        raise ClusterError(f"{phase}: failed on {', '.join(bad)}: "
                           + "; ".join(dc.results[n].message for n in bad))


def _wait(what: str, timeout: float, probe_fn: Callable[[], tuple[bool, str]], step: float = 1.0) -> str:
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        ok, last = probe_fn()
        if ok:
            return last
        if time.monotonic() > deadline:
            raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what} ({last})")
        time.sleep(step)


def deploy(inv: Inventory, spec: rd.ClusterSpec, known_hosts: Path, mode: Mode, *,
           hooks: Sequence[Hook] = ()) -> list[Result]:
    """Plan or build ``spec``'s cluster. One result per host, plus one for the cluster itself
    (database objects, Patroni's cluster-wide settings). Raises :class:`ClusterError` when an
    apply phase fails (the hosts' results say what was done before)."""
    dc = DeployContext(inv, spec, known_hosts, mode, passwords_for(inv, spec),
                       {m.name: server_target(inv, m.name, known_hosts) for m in spec.members},
                       hooks)
    names = [m.name for m in spec.members]
    client = inv.servers.get(spec.drill_client or "")
    client_addr = client.address if client is not None else None
    error = ""
    try:
        _deploy(dc, names, client_addr)
    except (ClusterError, UnreachableError) as e:
        error = str(e)
    results = [dc.results.get(n) or Result(n, Status.SKIPPED, "not reached (an earlier phase "
                                           "failed)", {"changes": [], "changed_ops": 0})
               for n in names]
    for r in results:
        if r.status is Status.OK and (r.data.get("changes") if mode == "plan"
                                      else r.data.get("changed_ops")):
            r.status = Status.CHANGED
    cl = Result(f"{spec.service} (cluster)", Status.FAILED if error else
                Status.CHANGED if dc.cluster_changes else Status.OK, error,
                {"changes": dc.cluster_changes})
    results.append(cl)
    for h in hooks:
        for r in results:
            h.done(r)
    return results


def _deploy(dc: DeployContext, names: list[str], client_addr: Any) -> None:
    spec, mode = dc.spec, dc.mode

    def hosts(name: str) -> PhaseRun:
        t = dc.targets[name]
        hp = HostPlan(spec, spec.member(name), dc.passwords, client_addr,
                      _firewall_context(dc.inv, name, t, mode))
        return run_phase(t, mode, lambda: hosts_phase(hp))

    _each(dc, names, "hosts", hosts)
    if mode == "apply":
        _wait("an etcd majority", 90, lambda: _etcd_ok(dc))
    cluster = _cluster(dc)
    leader = leader_of(cluster)
    sysid = _sysid(dc, leader["name"]) if leader else None
    if leader is None or leader["name"] == spec.primary.name:
        _each(dc, [spec.primary.name], "primary",
              lambda n: run_phase(dc.targets[n], mode,
                                  lambda: patroni_phase(spec, spec.member(n), sysid)))
    if mode == "apply":
        _wait("a running Patroni leader", 120, lambda: _leader_running(dc))
        leader = leader_of(_cluster(dc))
        assert leader is not None
        sysid = _sysid(dc, leader["name"])
    _database_objects(dc, leader["name"] if leader else None)
    _dynamic_config(dc, leader["name"] if leader else None)
    others = [m.name for m in spec.db_members if m.name != (leader or {}).get("name", spec.primary.name)]
    _each(dc, others, "replicas",
          lambda n: run_phase(dc.targets[n], mode, lambda: patroni_phase(spec, spec.member(n), sysid)))
    if mode == "apply":
        _wait("streaming replicas", 300, lambda: _replicas_streaming(dc), step=2)
    dbs = [m.name for m in spec.db_members]
    _each(dc, dbs, "vip", lambda n: run_phase(dc.targets[n], mode, lambda: vip_phase(spec, spec.member(n))))
    if mode == "apply":
        _wait(f"the service address {spec.vip} on the leader", 30, lambda: _vip_on_leader(dc))


def _etcd_ok(dc: DeployContext) -> tuple[bool, str]:
    h = etcd_health(dc.targets[dc.spec.witness.name], dc.spec.witness)
    return bool(h["healthy"]), str(h.get("error") or "healthy")


def _cluster(dc: DeployContext) -> dict[str, Any] | None:
    for m in dc.spec.db_members:
        try:
            c = patroni_cluster(dc.targets[m.name], dc.spec, m)
        except (SimpulError, OSError) as e:
            log.debug("%s: no cluster view: %s", m.name, e)
            continue
        if c is not None:
            return c
    return None


def _leader_running(dc: DeployContext) -> tuple[bool, str]:
    ld = leader_of(_cluster(dc))
    if ld is None:
        return False, "no leader yet"
    return ld.get("state") == "running", f"leader {ld['name']} {ld.get('state')}"


def _replicas_streaming(dc: DeployContext) -> tuple[bool, str]:
    c = _cluster(dc) or {}
    want = {m.name for m in dc.spec.db_members}
    states = {m["name"]: (m.get("role"), m.get("state")) for m in c.get("members", [])}
    missing = want - set(states)
    if missing:
        return False, f"not in the cluster yet: {', '.join(sorted(missing))}"
    bad = {n: s for n, s in states.items() if s[0] != "leader" and s[1] not in ("streaming", "running")}
    if dc.spec.replication == "sync" and not any(r == "sync_standby" for r, _ in states.values()):
        bad["sync"] = ("no synchronous standby yet", "")
    return not bad, ", ".join(f"{n} {r}/{s}" for n, (r, s) in sorted(states.items()))


def has_vip(t: Target, spec: rd.ClusterSpec) -> bool | None:
    """Whether host ``t`` has the service address on its interface (None: could not tell)."""
    rc, out, _ = run(t, f"ip -o -4 addr show dev {shlex.quote(spec.interface)}", timeout=15)
    if rc != 0:
        return None
    return any(w.split("/")[0] == str(spec.vip) for line in out.splitlines() for w in line.split())


def vip_holders(dc_targets: dict[str, Target], spec: rd.ClusterSpec) -> dict[str, bool | None]:
    """Which database members have the service address on their interface (None: unknown)."""
    def one(name: str) -> Result:
        return Result(name, Status.OK, value=has_vip(dc_targets[name], spec))

    return {r.target: (r.value if r.ok else None)
            for r in run_each([m.name for m in spec.db_members], one, parallel=4)}


def _vip_on_leader(dc: DeployContext) -> tuple[bool, str]:
    ld = leader_of(_cluster(dc))
    holders = vip_holders(dc.targets, dc.spec)
    on = sorted(n for n, v in holders.items() if v)
    return (ld is not None and on == [ld["name"]]), f"address on {', '.join(on) or 'nobody'}"


def _sysid(dc: DeployContext, name: str) -> str | None:
    rc, out, _ = run(dc.targets[name], f"{dc.spec.bin_dir}/pg_controldata {dc.spec.data_dir} | "
                     "awk -F: '/system identifier/{gsub(/ /,\"\",$2); print $2}'", sudo=True, timeout=20)
    return out.strip() or None if rc == 0 else None


# --- database objects and cluster-wide settings (on the leader, over SSH) ----------------------


def psql(t: Target, sql: str, *, db: str = "postgres", timeout: float = 30) -> str:
    """Run ``sql`` (on stdin, never on the command line) as the postgres superuser on ``t``."""
    cmd = (f"runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 -d {shlex.quote(db)} "
           f"-h /var/run/postgresql")
    rc, out, err = run(t, cmd, sudo=True, stdin=sql.encode(), timeout=timeout)
    if rc != 0:
        raise ClusterError(f"{t.name}: psql failed: {err.strip()[-300:]}")
    return out


def _database_objects(dc: DeployContext, leader: str | None) -> None:
    # the SQL below is built from constants of dbcluster_render only (role, function and
    # database names), never from user input: hence the S608 waivers
    if leader is None:
        dc.cluster_changes.append({"kind": "sql", "detail": "create roles "
                                   + ", ".join(rd.ROLE.values()) + f" and database {rd.DRILL_DB} "
                                   "once Patroni leads"})
        return
    t = dc.targets[leader]
    roles = list(rd.ROLE.items())
    rows = psql(t, "SELECT rolname, coalesce(rolpassword, ''), rolreplication FROM pg_authid "  # noqa: S608
                   f"WHERE rolname IN ({', '.join(repr(r) for _, r in roles)});")
    have = {line.split("|")[0]: line.split("|") for line in rows.splitlines() if line}
    stmts: list[str] = []
    for purpose, role in roles:
        pw = dc.passwords[purpose]
        attrs = "LOGIN" + (" REPLICATION" if purpose == "replication" else "")
        cur = have.get(role)
        if cur is None:
            stmts.append(f"CREATE ROLE {role} {attrs} PASSWORD '{rd.scram_verifier(pw, os.urandom(16))}';")
            dc.cluster_changes.append({"kind": "sql", "detail": f"create role {role} ({attrs})"})
        elif not rd.scram_matches(cur[1], pw) or (purpose == "replication" and cur[2] != "t"):
            stmts.append(f"ALTER ROLE {role} {attrs} PASSWORD '{rd.scram_verifier(pw, os.urandom(16))}';")
            dc.cluster_changes.append({"kind": "sql", "detail": f"set the password of role {role}"})
    grants = ["pg_catalog.pg_ls_dir(text, boolean, boolean)", "pg_catalog.pg_stat_file(text, boolean)",
              "pg_catalog.pg_read_binary_file(text)",
              "pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)"]
    missing = psql(t, "SELECT f FROM unnest(ARRAY[" + ", ".join(repr(g) for g in grants) + "]) f "  # noqa: S608
                      f"WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{rd.ROLE['rewind']}') "
                      f"OR NOT has_function_privilege('{rd.ROLE['rewind']}', f, 'EXECUTE');")
    for f in [x for x in missing.splitlines() if x]:
        stmts.append(f"GRANT EXECUTE ON FUNCTION {f} TO {rd.ROLE['rewind']};")
        dc.cluster_changes.append({"kind": "sql", "detail": f"grant {f} to {rd.ROLE['rewind']} (pg_rewind)"})
    has_db = psql(t, f"SELECT 1 FROM pg_database WHERE datname = '{rd.DRILL_DB}';").strip() == "1"  # noqa: S608
    if not has_db:
        dc.cluster_changes.append({"kind": "sql", "detail": f"create database {rd.DRILL_DB} "
                                   f"(owner {rd.ROLE['drill']}) for the failover drills' writes"})
    if dc.mode == "apply":
        if stmts:
            psql(t, "\n".join(stmts))
        if not has_db:
            psql(t, f"CREATE DATABASE {rd.DRILL_DB} OWNER {rd.ROLE['drill']};")


def _dynamic_config(dc: DeployContext, leader: str | None) -> None:
    spec = dc.spec
    want = rd.dynamic_config(spec)
    if leader is None:
        return  # written from bootstrap.dcs when Patroni first leads
    t = dc.targets[leader]
    addr = spec.member(leader).address
    cur = http_get(t, {"c": f"http://{addr}:8008/config"})["c"].get("body") or {}
    diff = config_diff(cur, want)
    if not diff:
        return
    dc.cluster_changes.append({"kind": "patroni", "detail": "cluster-wide settings: "
                               + "; ".join(f"{k}: {a!r} → {b!r}" for k, a, b in diff)})
    if dc.mode == "apply":
        code = (
            "import json, urllib.request, base64\n"
            f"req = urllib.request.Request('http://{addr}:8008/config', method='PATCH', "
            f"data=json.dumps({json.dumps(want)}).encode(), headers={{'Content-Type': 'application/json',"
            " 'Authorization': 'Basic ' + base64.b64encode(open(0).read().strip().encode()).decode()})\n"
            "print(json.dumps(json.loads(urllib.request.urlopen(req, timeout=10).read().decode())))\n")
        # the REST API password goes over stdin of a second python (never on a command line)
        rc, _, err = run(t, f"python3 -c {shlex.quote(code)}", sudo=True,
                           stdin=f"{rd.RESTAPI_USER}:{dc.passwords['restapi']}".encode(), timeout=30)
        if rc != 0:
            raise ClusterError(f"{leader}: PATCH /config failed: {err.strip()[-300:]}")


def config_diff(cur: dict[str, Any], want: dict[str, Any], prefix: str = "") -> list[tuple[str, Any, Any]]:
    """Keys of ``want`` whose value differs in ``cur`` (nested; values compared as strings, as
    Patroni keeps ``"on"``/``True`` and ``10``/``"10"`` interchangeably)."""
    out: list[tuple[str, Any, Any]] = []
    for k, v in want.items():
        c = cur.get(k) if isinstance(cur, dict) else None
        if isinstance(v, dict):
            out += config_diff(c if isinstance(c, dict) else {}, v, f"{prefix}{k}.")
        elif _norm(c) != _norm(v):
            out.append((f"{prefix}{k}", c, v))
    return out


def _norm(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    s = str(v).strip().lower()
    return {"true": "on", "false": "off"}.get(s, s)
