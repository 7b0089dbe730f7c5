"""Lab routers: FRR in a network namespace, an sshd that lands in vtysh, and snmpd.

Each router ``<name>`` lives in namespace ``slab-r-<name>``:

- FRR in its per-namespace mode (``watchfrr --netns``, ``vtysh -N slab-r-<name>``). FRR insists
  on ``/etc/frr/<ns>/``; the lab makes that a symlink to ``<state>/routers/<name>/frr`` so the
  router's config (and ``write memory``) lives under the lab state dir. ``down`` removes the
  symlink and ``/run/frr/<ns>``.
- sshd with its own config, host key and pidfile, listening on the management address only.
  One host account ``simpul`` (groups frr, frrvty; password = the ``router-password`` secret,
  plus the deploy key) logs in to every router; its login shell finds the namespace it runs in
  and ``exec``-s ``vtysh -N <ns>``, so netmiko's ``cisco_ios`` driver talks to the router CLI.
- snmpd on the management address: v2c (``snmp-community``) and v3 authPriv SHA/AES (user
  ``simpul``), with its own persistent dir, so nothing is written to ``/var/lib/snmp``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pwd
import shutil
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from . import netns as nx
from .state import LabState
from .topology import PREFIX, RouterPlan

log = logging.getLogger(__name__)

ROUTER_USER = "simpul"
FRR_ETC = Path("/etc/frr")
FRR_RUN = Path("/var/run/frr")
# config files, not HTML: autoescaping would corrupt them
_env = Environment(loader=PackageLoader("simpul.lab", "templates"), undefined=StrictUndefined,  # noqa: S701
                   trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(template: str, **kw: object) -> str:
    return _env.get_template(template).render(**kw)


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    os.replace(tmp, path)


# --- the shared login account ----------------------------------------------------------------


def shell_path(st: LabState) -> Path:
    return st.bin / "router-shell"


def authorized_keys_path(st: LabState) -> Path:
    return st.root / "routers" / "authorized_keys"


def helper_path(st: LabState) -> Path:
    return st.bin / "router-helper"


SUDOERS = Path("/etc/sudoers.d/simpul-lab-router-helper")
"""Earlier labs let the router account run the helper through sudo; removed on ``lab up``/``down``."""


def install_helper(st: LabState) -> None:
    """Install the device helper (:mod:`simpul.lab.router_helper`).

    The helper is what a Linux+FRR router's host gives its management user: the management ACL
    in the host firewall and a timed rollback (FRR has neither). Root-owned, not writable by
    anyone else; each router runs it as a resident service (:func:`start_helper`) that the
    router account reaches through its login shell — no sudo rule (an earlier lab's is removed).
    """
    src = Path(__file__).with_name("router_helper.py").read_text()
    src = src.replace('os.environ.get("SIMPUL_LAB_DIR_FOR_HELPER", "/var/lib/simpul/lab")',
                      repr(str(st.root)))
    _write(helper_path(st), src, 0o755)
    os.chown(helper_path(st), 0, 0)
    remove_helper(st)


def remove_helper(st: LabState) -> None:
    if st.mark("sudoers-router-helper").exists():
        SUDOERS.unlink(missing_ok=True)
        st.mark("sudoers-router-helper").unlink(missing_ok=True)


def ensure_user(st: LabState) -> None:
    """Create (or update) the ``simpul`` account whose login shell is the router CLI."""
    _write(shell_path(st), render("router-shell.sh.j2", user=ROUTER_USER, prefix=PREFIX,
                                  helper=helper_path(st)), 0o755)
    install_helper(st)
    pub = st.deploy_key.with_suffix(".pub").read_text()
    _write(authorized_keys_path(st), pub, 0o644)
    home = st.routers / "home"
    try:
        pwd.getpwnam(ROUTER_USER)
        exists = True
    except KeyError:
        exists = False
    if not exists:
        nx.run(["useradd", "--system", "--no-create-home", "--home-dir", str(home),
                "--shell", str(shell_path(st)), "--groups", "frr,frrvty", "--user-group",
                ROUTER_USER])
        st.mark("user-simpul").write_text("created by simpul lab up\n")
        log.info("lab: created host account %s for router logins", ROUTER_USER)
    elif not st.mark("user-simpul").exists():
        # an account we did not create: use it only if it is ours in all but name
        pw = pwd.getpwnam(ROUTER_USER)
        if pw.pw_shell != str(shell_path(st)):
            raise nx.LabError(f"a host account '{ROUTER_USER}' exists that the lab did not create "
                              f"(shell {pw.pw_shell})",
                              hint="remove it or run the lab on a machine without it")
    else:
        nx.run(["usermod", "--shell", str(shell_path(st)), "--home", str(home),
                "--append", "--groups", "frr,frrvty", ROUTER_USER])
    home.mkdir(exist_ok=True)
    pw = pwd.getpwnam(ROUTER_USER)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    home.chmod(0o700)
    nx.run(["chpasswd"], input=f"{ROUTER_USER}:{st.secret('router-password')}\n")


def remove_user(st: LabState) -> None:
    """Remove the ``simpul`` account if (and only if) the lab created it (and the helper's
    sudoers rule)."""
    remove_helper(st)
    if not st.mark("user-simpul").exists():
        return
    try:
        pwd.getpwnam(ROUTER_USER)
        nx.run(["userdel", ROUTER_USER], check=False)
    except KeyError:
        pass
    st.mark("user-simpul").unlink(missing_ok=True)


def ensure_privsep_dir(st: LabState) -> None:
    """sshd needs ``/run/sshd``; create it if missing and remember that we did."""
    p = Path("/run/sshd")
    if not p.exists():
        p.mkdir(mode=0o755)
        st.mark("run-sshd").write_text("created by simpul lab up\n")


def remove_privsep_dir(st: LabState) -> None:
    if st.mark("run-sshd").exists():
        with contextlib.suppress(OSError):
            Path("/run/sshd").rmdir()
        st.mark("run-sshd").unlink(missing_ok=True)


# --- one router ----------------------------------------------------------------------------


def frr_dir(st: LabState, r: RouterPlan) -> Path:
    return st.router_dir(r.name) / "frr"


def write_frr_dir(fd: Path, name: str, frr_conf: str, *, log_file: Path | None = None) -> None:
    """Write an FRR per-namespace config dir (``daemons``, ``vtysh.conf``, ``frr.conf``) for
    router ``name``, owned by the ``frr`` user as FRR expects. Shared by the lab and the twin."""
    fd.mkdir(parents=True, exist_ok=True)
    frr_uid, frr_gid = pwd.getpwnam("frr").pw_uid, pwd.getpwnam("frr").pw_gid
    _write(fd / "frr.conf", frr_conf, 0o660)
    _write(fd / "daemons", render("daemons.j2", name=name), 0o640)
    _write(fd / "vtysh.conf", render("vtysh.conf.j2"), 0o640)
    for p in (fd, fd / "frr.conf", fd / "daemons", fd / "vtysh.conf"):
        os.chown(p, frr_uid, frr_gid)
    fd.chmod(0o2775)  # group frr writes frr.conf on 'write memory' (vtysh runs as the user)
    if log_file is not None:
        if not log_file.exists():
            log_file.touch()
        os.chown(log_file, frr_uid, frr_gid)
        log_file.chmod(0o640)


def write_configs(st: LabState, r: RouterPlan, *, noc_range: str) -> None:
    """Render FRR, sshd and snmpd configs of router ``r`` under the state dir."""
    d = st.router_dir(r.name)
    d.mkdir(parents=True, exist_ok=True)
    d.chmod(0o755)
    fd = frr_dir(st, r)
    fd.mkdir(exist_ok=True)
    log_file = d / "frr.log"
    write_frr_dir(fd, r.name, render("frr.conf.j2", r=r, log_file=log_file), log_file=log_file)

    _write(d / "sshd_config", render(
        "sshd_config.j2", r=r, user=ROUTER_USER, pidfile=d / "sshd.pid",
        host_key=st.hostkey_dir(r.name) / "ssh_host_ed25519_key",
        authorized_keys=authorized_keys_path(st)))
    snmp_dir = d / "snmp"
    snmp_dir.mkdir(exist_ok=True)
    snmp_dir.chmod(0o700)
    _write(d / "snmpd.conf", render(
        "snmpd.conf.j2", kind="router", name=r.name, mgmt_ip=r.mgmt_ip,
        community=st.secret("snmp-community"), noc_range=noc_range, user=ROUTER_USER,
        auth=st.secret("snmp-auth"), priv=st.secret("snmp-priv"), location=r.site), 0o600)


def link_etc(ns: str, target: Path) -> None:
    """``/etc/frr/<ns>`` → ``target``: FRR's per-namespace mode insists on that path."""
    link = FRR_ETC / ns
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        raise nx.LabError(f"{link} exists and is not the lab's symlink; remove it by hand")
    link.symlink_to(target)


def frr_running(r: RouterPlan | str) -> bool:
    ns = r if isinstance(r, str) else r.netns
    return nx.pid_alive(nx.read_pidfile(FRR_RUN / ns / "watchfrr.pid"))


def start_frr(ns: str, hostname: str) -> None:
    """Start FRR (watchfrr and the daemons of ``/etc/frr/<ns>/daemons``) inside namespace
    ``ns``, in its own UTS namespace so that prompts show ``hostname``; forwarding on."""
    nx.sysctl("net.ipv4.ip_forward", "1", ns)
    cp = nx.run(["ip", "netns", "exec", ns, "unshare", "--uts", "--", "sh", "-c",
                 'hostname "$0" && exec /usr/lib/frr/frrinit.sh start "$1"', hostname, ns])
    log.debug("%s: %s", hostname, cp.stdout.strip())


def start_router(st: LabState, r: RouterPlan, *, noc_range: str) -> None:
    """Start FRR, sshd and snmpd of ``r`` (each only if not already running)."""
    d = st.router_dir(r.name)
    if not frr_running(r):
        write_configs(st, r, noc_range=noc_range)
        link_etc(r.netns, frr_dir(st, r))
        start_frr(r.netns, r.name)
    elif not (d / "sshd_config").exists():
        write_configs(st, r, noc_range=noc_range)
    if not nx.pid_alive(nx.read_pidfile(d / "sshd.pid")):
        (d / "sshd.pid").unlink(missing_ok=True)
        nx.run(["sshd", "-t", "-f", str(d / "sshd_config")])
        nx.spawn(["/usr/sbin/sshd", "-f", str(d / "sshd_config"), "-E", str(d / "sshd.log")],
                 log_file=d / "sshd.out", ns=r.netns, hostname=r.name)
    if not nx.pid_alive(nx.read_pidfile(d / "snmpd.pid")):
        start_snmpd(st, r)
    start_helper(st, r)


def helper_running(st: LabState, r: RouterPlan) -> int | None:
    """PID of ``r``'s resident device helper if it runs (the helper writes its pidfile once
    its socket is bound), else None."""
    pid = nx.read_pidfile(st.router_dir(r.name) / "helper.pid")
    if pid is None or not nx.pid_alive(pid) or nx.pid_cmdline(pid)[-2:-1] != ["--serve"]:
        return None
    return pid


def start_helper(st: LabState, r: RouterPlan) -> None:
    """(Re)start ``r``'s device helper service in its namespace: always a fresh one, so that a
    helper installed by this ``lab up`` is the one that answers. A running revert timer is a
    process of its own and is not touched."""
    d = st.router_dir(r.name)
    old = helper_running(st, r)
    if old is not None:
        nx.kill_pids([old], grace=5)
    (d / "helper.pid").unlink(missing_ok=True)
    nx.spawn(["/usr/bin/python3", "-I", "-S", str(helper_path(st)), "--serve", ROUTER_USER],
             log_file=d / "helper.log", ns=r.netns)


def start_snmpd(st: LabState, r: RouterPlan) -> int:
    """Start the snmpd of ``r``; return its PID.

    Not ``-C``: that skips the persistent file too, and ``snmpEngineBoots`` would never grow
    across restarts (a poller could not tell an agent restart from a counter wrap).
    ``SNMPCONFPATH`` confines the config search to the router's dir and its persistent dir
    instead, so neither ``/etc/snmp`` is read nor ``/var/lib/snmp`` written.
    """
    d = st.router_dir(r.name)
    persist = d / "snmp"
    persist.mkdir(mode=0o700, exist_ok=True)
    pid = nx.spawn(["/usr/sbin/snmpd", "-f", "-m", "", "-p", str(d / "snmpd.pid"),
                    "-Lf", str(d / "snmpd.log")],
                   log_file=d / "snmpd.out", ns=r.netns, hostname=r.name,
                   env={"SNMP_PERSISTENT_DIR": str(persist), "SNMPCONFPATH": f"{d}:{persist}",
                        "MIBS": "", "MIBDIRS": ""})
    (d / "snmpd.pid").write_text(f"{pid}\n")
    return pid


def restart_snmpd(st: LabState, r: RouterPlan, timeout: float = 10) -> int:
    """Stop the snmpd of ``r`` by its PID and start it again (its uptime starts over,
    ``snmpEngineBoots`` goes up by one); return the new PID."""
    d = st.router_dir(r.name)
    pid = nx.read_pidfile(d / "snmpd.pid")
    if pid is not None and nx.pid_alive(pid) and nx.pid_cmdline(pid)[:1] == ["/usr/sbin/snmpd"]:
        nx.kill_pids([pid], grace=timeout)
    return start_snmpd(st, r)


def wait_ready(st: LabState, r: RouterPlan, timeout: float = 20) -> None:
    """Wait until vtysh answers, and sshd and the device helper have written their pidfiles."""
    d = st.router_dir(r.name)
    nx.wait_for(lambda: nx.pid_alive(nx.read_pidfile(d / "sshd.pid")), timeout=timeout,
                what=f"{r.name}: sshd")
    nx.wait_for(lambda: (FRR_RUN / r.netns / "ospfd.vty").exists(), timeout=timeout,
                what=f"{r.name}: ospfd")
    nx.wait_for(lambda: helper_running(st, r) is not None, timeout=timeout,
                what=f"{r.name}: device helper")


def vtysh(r: RouterPlan | str, command: str, timeout: float = 10) -> str:
    ns = r if isinstance(r, str) else r.netns
    return nx.run(["vtysh", "-N", ns, "-c", command], timeout=timeout).stdout


def ospf_neighbor_table(r: RouterPlan | str) -> dict[str, dict[str, str]]:
    """Neighbour router-id -> {"state": ``Full/-`` ..., "interface": ``eth0``} from ``show ip
    ospf neighbor json`` (``r``: a lab router or any FRR namespace); {} if FRR does not answer."""
    try:
        data = json.loads(vtysh(r, "show ip ospf neighbor json") or "{}")
    except (ValueError, nx.LabError):
        return {}
    out: dict[str, dict[str, str]] = {}
    for rid, entries in data.get("neighbors", {}).items():
        for e in entries if isinstance(entries, list) else [entries]:
            out[rid] = {"state": str(e.get("converged") or e.get("nbrState") or e.get("state", "")),
                        "interface": str(e.get("ifaceName", "")).split(":")[0]}
    return out


def ospf_neighbors(r: RouterPlan | str) -> dict[str, str]:
    """Neighbour router-id -> state (``Full/-`` ...)."""
    return {rid: n["state"] for rid, n in ospf_neighbor_table(r).items()}


# --- teardown ---------------------------------------------------------------------------------


def stop_namespace_processes(ns: str, grace: float = 5.0, *, hard: bool = False) -> None:
    """Stop every process in lab namespace ``ns``: watchfrr first (it restarts daemons).

    ``hard``: SIGKILL at once — for throwaway routers (the twin): no 5 s FRR shutdown, and
    ospfd writes no graceful-restart state into the host's ``/run/frr``.
    """
    wf = nx.read_pidfile(FRR_RUN / ns / "watchfrr.pid")
    pids = nx.netns_pids(ns)
    if wf is not None and wf in pids:
        nx.kill_pids([wf], grace=grace, hard=hard)
        pids = nx.netns_pids(ns)
    if pids:
        nx.kill_pids(pids, grace=grace, hard=hard)


def remove_frr_paths(ns: str, *, prefix: str = f"{PREFIX}-r-") -> None:
    """Remove ``/etc/frr/<ns>`` (the lab's symlink) and ``/run/frr/<ns>``; ``ns`` must carry
    ``prefix`` (the lab's routers, or the twin's)."""
    if not ns.startswith(prefix):
        raise nx.LabError(f"refusing to remove FRR paths of namespace {ns} (not {prefix}*)")
    link = FRR_ETC / ns
    if link.is_symlink():
        link.unlink()
    run_dir = FRR_RUN / ns
    if run_dir.is_dir() and not run_dir.is_symlink():
        shutil.rmtree(run_dir, ignore_errors=True)


GR_STATE = FRR_RUN / "ospfd-gr.json"
"""ospfd writes its graceful-restart state here on shutdown, ignoring the pathspace (-N)."""


def note_gr_state(st: LabState) -> None:
    """Before starting routers: remember whether the host already had ``ospfd-gr.json``."""
    if not GR_STATE.exists() and not st.mark("ospfd-gr-json").exists():
        st.mark("ospfd-gr-json").write_text("absent before simpul lab up\n")


def remove_gr_state(st: LabState) -> None:
    """Remove the ``ospfd-gr.json`` our routers left, unless the host runs its own ospfd."""
    if not st.mark("ospfd-gr-json").exists():
        return
    if not nx.pid_alive(nx.read_pidfile(FRR_RUN / "ospfd.pid")):
        GR_STATE.unlink(missing_ok=True)
    st.mark("ospfd-gr-json").unlink(missing_ok=True)


def lab_frr_namespaces(prefix: str = f"{PREFIX}-r-") -> list[str]:
    """FRR pathspaces left behind (``/etc/frr/<prefix>*``, ``/run/frr/<prefix>*``; default:
    the lab's routers)."""
    found = set()
    for base in (FRR_ETC, FRR_RUN):
        if base.is_dir():
            found |= {p.name for p in base.iterdir() if p.name.startswith(prefix)}
    return sorted(found)

