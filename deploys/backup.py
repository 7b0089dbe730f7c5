"""The server side of backups to the DRC, as a pyinfra deploy (``simpul backup plan|deploy``).

Two kinds of hosts (:mod:`simpul.deploys.backup_spec` computes what each gets):

- **the DRC** (each policy's ``destination``): a system user owning the repositories,
  ``rclone serve restic --append-only --private-repos`` over TLS as an init.d service (it
  survives a reboot), the repositories initialised with their keys, and the cron jobs that
  run retention (``forget``/``prune``) and integrity checks there — and only there;
- **the sources** (servers listing a policy): the ``simpul-backup`` program, one JSON config,
  key file and repository file (both 0600) per policy, the DRC's certificate, a cron line.

Secrets (repository keys, REST passwords) never pass through pyinfra's uploads (which stage a
file in /tmp with the SFTP umask before moving it): they are written over a fresh SSH session
from standard input into a 0600 file (:func:`simpul.ssh.run` with ``stdin``), so they appear on
no command line, in no log and in no plan (plans say "secret, not shown").

Every operation compares live state (checksums, modes, running processes), so a run that
failed half-way converges on the next; ``plan`` changes nothing and shows every difference.
"""

from __future__ import annotations

import hashlib
import logging
import shlex
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pyinfra.api.command import FunctionCommand, StringCommand
from pyinfra.api.operation import operation
from pyinfra.context import host as ctx_host

from simpul.deploys import backup_spec as bs
from simpul.deploys.ops import FileState, Recorder, ensure, managed_file, read_state, record
from simpul.deploys.runner import pyinfra_state, thread_local_pyinfra_context
from simpul.errors import ConfigError, SimpulError, UnreachableError
from simpul.inventory.models import Inventory
from simpul.results import Result, Status
from simpul.runner import Hook, run_each
from simpul.secrets_ref import resolve_secret
from simpul.ssh import Target, preflight, run, server_target

log = logging.getLogger(__name__)

Mode = Literal["plan", "apply"]


# --- what one host gets -----------------------------------------------------------------------


@dataclass(frozen=True)
class FileSpec:
    path: str
    content: str
    mode: str = "644"
    user: str = "root"
    group: str = "root"


@dataclass(frozen=True)
class SecretSpec:
    """A file whose content is secret: compared by checksum, written through stdin."""

    path: str
    value: str = field(repr=False)
    mode: str = "600"
    user: str = "root"
    group: str = "root"
    what: str = "secret"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.value.encode()).hexdigest()


@dataclass
class HostSpec:
    """Everything the backup deploy wants on one server."""

    name: str
    role: Literal["drc", "source"]
    packages: list[str] = field(default_factory=list)
    dirs: list[tuple[str, str, str, str]] = field(default_factory=list)  # path, mode, user, group
    files: list[FileSpec] = field(default_factory=list)
    secrets: list[SecretSpec] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # globs of files to remove if not wanted
    repos: list[bs.Repo] = field(default_factory=list)  # DRC: repositories to initialise
    destination: bs.Destination | None = None


def drc_spec(inv: Inventory, dest: bs.Destination) -> HostSpec:
    """What the DRC server ``dest`` gets (resolves the repository keys)."""
    u = bs.REST_USER
    h = HostSpec(dest.name, "drc", packages=list(bs.DRC_PACKAGES), destination=dest)
    h.dirs = [(dest.root, "700", u, u), (bs.CONF_DIR, "755", "root", "root"),
              (bs.DRC_CONF, "750", "root", u), (bs.STATE_DIR, "711", "root", "root"),
              (f"{bs.STATE_DIR}/drc", "700", "root", "root"), (bs.REST_LOG_DIR, "750", u, "adm")]
    h.files = [FileSpec(bs.SCRIPT, bs.script_text(), "755"),
               FileSpec(bs.REST_DEFAULT, bs.rest_default(dest), "644"),
               FileSpec(bs.REST_INIT, bs.INIT_SCRIPT, "755"),
               FileSpec(f"{bs.DRC_CONF}/rclone.conf", "", "600", u, u),
               FileSpec(bs.CRON_DRC, bs.cron_drc(dest), "644"),
               FileSpec(bs.LOGROTATE, bs.LOGROTATE_CONF, "644")]
    lines = []
    for name, repo in sorted(dest.repos.items()):
        key = resolve_secret(inv, repo.key).get_secret_value()
        h.files.append(FileSpec(f"{bs.DRC_CONF}/{name}.json", bs.drc_config(repo), "640", "root", u))
        h.secrets.append(SecretSpec(f"{bs.DRC_CONF}/{name}.key", key + "\n", "400", u, u,
                                    f"repository key of {name}"))
        lines.append(bs.htpasswd_line(name, bs.rest_password(key, name)))
        h.repos.append(repo)
    h.secrets.append(SecretSpec(bs.HTPASSWD, "\n".join(lines) + "\n", "640", "root", u,
                                "append-only REST users (hashed)"))
    h.stale = [f"{bs.DRC_CONF}/{n}" for n in ("*.json", "*.key")]
    return h


def source_spec(inv: Inventory, host: str, certs: dict[str, str | None]) -> HostSpec:
    """What source server ``host`` gets; ``certs`` maps each DRC server to its TLS certificate
    (PEM; None before the DRC was deployed)."""
    js = bs.jobs(inv, hosts=[host])
    dests = bs.destinations(inv)
    h = HostSpec(host, "source", packages=bs.packages_for(js))
    h.dirs = [(bs.CONF_DIR, "700", "root", "root"), (bs.STATE_DIR, "711", "root", "root"),
              (bs.SPOOL, "711", "root", "root"), (bs.CACHE_DIR, "700", "root", "root")]
    h.files = [FileSpec(bs.SCRIPT, bs.script_text(), "755"),
               FileSpec(bs.CRON_SOURCE, bs.cron_source(js), "644"),
               FileSpec(bs.LOGROTATE, bs.LOGROTATE_CONF, "644")]
    seen_dest: set[str] = set()
    for j in js:
        dest = dests[j.pol.destination]
        key = resolve_secret(inv, j.pol.encryption_key).get_secret_value()
        pw = bs.rest_password(key, j.repository)
        h.files.append(FileSpec(f"{bs.CONF_DIR}/{j.policy}.json", bs.source_config(j, dest), "600"))
        h.secrets.append(SecretSpec(f"{bs.CONF_DIR}/{j.policy}.key", key + "\n", what=f"repository key ({j.policy})"))
        h.secrets.append(SecretSpec(f"{bs.CONF_DIR}/{j.policy}.repo",
                                    bs.repository_url(dest, j.repository, pw) + "\n",
                                    what=f"append-only repository URL with its password ({j.policy})"))
        if dest.name not in seen_dest:
            seen_dest.add(dest.name)
            h.files.append(FileSpec(f"{bs.CONF_DIR}/{dest.name}.pem",
                                    certs.get(dest.name)
                                    or f"# the TLS certificate of {dest.name} (made by its deploy)\n",
                                    "644"))
    h.stale = [f"{bs.CONF_DIR}/{n}" for n in ("*.json", "*.key", "*.repo", "*.pem")]
    return h


# --- pyinfra operations -----------------------------------------------------------------------


@operation()
def secret_file(spec: SecretSpec, writer: Callable[[SecretSpec], None]) -> Generator[Any, None, None]:
    """Put a secret file in place: compared by sha256, content never shown or uploaded by pyinfra."""
    cur = ctx_host.get_fact(FileState, path=spec.path)
    if cur is None or cur["sha256"] != spec.sha256:
        record("secret", f"{spec.path}: {spec.what} ({'create' if cur is None else 'replace'}; "
                         "content not shown)")
    elif (cur["mode"], cur["user"], cur["group"]) != (spec.mode.rjust(3, "0"), spec.user, spec.group):
        record("secret", f"{spec.path}: {cur['mode']} {cur['user']}:{cur['group']} → "
                         f"{spec.mode} {spec.user}:{spec.group}")
    else:
        return

    def install(state: Any, host: Any) -> bool:
        writer(spec)
        return True

    install.__name__ = f"install_secret({spec.path})"
    yield FunctionCommand(install, (), {})


@operation()
def service_running(service: str, pidfile: str, configs: Sequence[str], force: bool = False
                    ) -> Generator[Any, None, None]:
    """Keep an init.d service enabled at boot and running on its current configuration."""
    rc, _ = read_state(f"ls /etc/rc2.d/S*{service} >/dev/null 2>&1")
    if rc != 0:
        record("service", f"enable {service} at boot")
        yield StringCommand(f"update-rc.d {service} defaults >/dev/null && update-rc.d {service} enable")
    files = " ".join(shlex.quote(c) for c in configs)
    script = (f"pid=$(cat {shlex.quote(pidfile)} 2>/dev/null); "
              "if [ -z \"$pid\" ] || ! kill -0 \"$pid\" 2>/dev/null; then echo stopped; exit 0; fi; "
              "st=$(stat -c %Y /proc/$pid); newest=0; "
              f"for f in {files}; do [ -e \"$f\" ] || continue; m=$(stat -c %Y \"$f\"); "
              "[ \"$m\" -gt \"$newest\" ] && newest=$m; done; "
              "if [ \"$newest\" -ge \"$st\" ]; then echo stale; else echo fresh; fi")
    _, out = read_state(script)
    status = out[-1] if out else "unknown"
    if status == "stopped":
        record("service", f"start {service}")
        yield StringCommand(f"/etc/init.d/{service} start")
    elif status == "stale" or force:
        why = "configuration newer than the running process" if status == "stale" else \
            "credentials or configuration changed in this run"
        record("service", f"restart {service} ({why})")
        yield StringCommand(f"/etc/init.d/{service} restart")


# --- the deploys ------------------------------------------------------------------------------


def _common(h: HostSpec) -> None:
    pk = " ".join(h.packages)
    ensure(name=f"Packages for backups: {pk}",
           check=f"dpkg-query -W -f='${{Package}} ${{Status}}\\n' {pk} 2>&1 | "
                 "grep -v ' install ok installed$' | grep . && exit 1 || exit 0",
           fix=f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends {pk}",
           describe=f"apt-get install {pk} (missing ones)")
    if h.role == "drc":
        ensure(name="PostgreSQL server binaries for scratch restores",
               check="ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1",
               fix="DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql",
               describe="apt-get install postgresql (scratch restores of PostgreSQL dumps)")
        u = bs.REST_USER
        ensure(name=f"System user {u} owns the repositories",
               check=f"id -u {u} >/dev/null 2>&1",
               fix=f"useradd --system --user-group --home-dir {h.destination.root if h.destination else '/nonexistent'} "
                   f"--no-create-home --shell /usr/sbin/nologin {u}")
    for path, mode, user, group in h.dirs:
        q = shlex.quote(path)
        ensure(name=f"Directory {path}",
               check=f"[ \"$(stat -c '%a %U %G' {q} 2>/dev/null)\" = '{mode} {user} {group}' ]",
               fix=f"mkdir -p {q} && chown {user}:{group} {q} && chmod {mode} {q}",
               describe=f"mkdir {path} ({mode} {user}:{group})")
    for f in h.files:
        managed_file(name=f"File {f.path}", path=f.path, content=f.content, mode=f.mode,
                     user=f.user, group=f.group)


def _remove_stale(h: HostSpec) -> None:
    keep = {f.path for f in h.files} | {s.path for s in h.secrets}
    keep |= {bs.TLS_CERT, bs.TLS_KEY, bs.HTPASSWD, f"{bs.DRC_CONF}/rclone.conf"}
    globs = " ".join(h.stale)
    _, out = read_state(f"ls -1 {globs} 2>/dev/null; true")
    extra = [p for p in out if p.strip() and p not in keep]
    if extra:
        ensure(name="Remove the files of policies no longer assigned here",
               check="false", fix="rm -f " + " ".join(shlex.quote(p) for p in extra),
               describe="remove " + ", ".join(extra))


def deploy_drc(h: HostSpec, writer: Callable[[SecretSpec], None]) -> None:
    """The DRC side: the append-only REST server, repositories, retention and checks."""
    assert h.destination is not None
    d = h.destination
    _common(h)
    san = f"IP:{d.address}" if d.address.replace(".", "").isdigit() else f"DNS:{d.address}"
    shown = "IP Address:" + d.address if san.startswith("IP") else "DNS:" + d.address
    ensure(name="TLS key and certificate of the REST server",
           check=f"test -s {bs.TLS_KEY} && openssl x509 -in {bs.TLS_CERT} -noout -ext subjectAltName "
                 f"2>/dev/null | grep -qF {shlex.quote(shown)}",
           fix=f"umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
               f"-nodes -days 3650 -subj /CN={shlex.quote(h.name)} -addext "
               f"subjectAltName={shlex.quote(san + ',DNS:' + h.name)} -keyout {bs.TLS_KEY} "
               f"-out {bs.TLS_CERT} 2>/dev/null && chown {bs.REST_USER}:{bs.REST_USER} {bs.TLS_KEY} "
               f"&& chmod 400 {bs.TLS_KEY} && chmod 644 {bs.TLS_CERT}",
           describe=f"make a self-signed TLS certificate for {d.address} (the sources pin it)")
    rc, _ = read_state(f"test -s {bs.TLS_KEY} && openssl x509 -in {bs.TLS_CERT} -noout -ext "
                  f"subjectAltName 2>/dev/null | grep -qF {shlex.quote(shown)}")
    need_restart = rc != 0  # a new certificate
    for f in h.files:
        if f.path in (bs.REST_DEFAULT, bs.REST_INIT):
            cur = ctx_host.get_fact(FileState, path=f.path)
            need_restart = need_restart or cur is None or \
                cur["sha256"] != hashlib.sha256(f.content.encode()).hexdigest()
    for s in h.secrets:
        cur = ctx_host.get_fact(FileState, path=s.path)
        if cur is None or cur["sha256"] != s.sha256:
            need_restart = need_restart or s.path == bs.HTPASSWD
        secret_file(name=f"Secret {s.path}", spec=s, writer=writer)
    for repo in h.repos:
        key = f"{bs.DRC_CONF}/{repo.name}.key"
        ensure(name=f"Repository {repo.path} initialised",
               check=f"test -f {shlex.quote(repo.path)}/config",
               fix=f"runuser -u {bs.REST_USER} -- env HOME=/tmp restic --no-cache -r "
                   f"{shlex.quote(repo.path)} --password-file {key} init",
               describe=f"restic init {repo.path} (key: {repo.key})")
    _remove_stale(h)
    service_running(name="Append-only REST server running (simpul-restic-rest)",
                    service="simpul-restic-rest", pidfile=bs.REST_PIDFILE,
                    configs=[bs.REST_DEFAULT, bs.REST_INIT, bs.TLS_CERT, bs.HTPASSWD],
                    force=need_restart)
    service_running(name="cron running (retention and checks)", service="cron",
                    pidfile="/run/crond.pid", configs=[])


def deploy_source(h: HostSpec, writer: Callable[[SecretSpec], None]) -> None:
    """A source server: the job program, its configuration and secrets, the cron line."""
    _common(h)
    for s in h.secrets:
        secret_file(name=f"Secret {s.path}", spec=s, writer=writer)
    _remove_stale(h)
    service_running(name="cron running (backup jobs)", service="cron", pidfile="/run/crond.pid",
                    configs=[])


# --- running it -------------------------------------------------------------------------------


def secret_writer(t: Target) -> Callable[[SecretSpec], None]:
    """Write a secret file through stdin of a fresh SSH session (never a command line)."""

    def write(s: SecretSpec) -> None:
        d, _, base = s.path.rpartition("/")
        tmp = f"{d}/.{base}.simpul-tmp"
        cmd = (f"umask 077 && mkdir -p {shlex.quote(d)} && cat > {shlex.quote(tmp)} && "
               f"chown {s.user}:{s.group} {shlex.quote(tmp)} && chmod {s.mode} {shlex.quote(tmp)} && "
               f"mv -f {shlex.quote(tmp)} {shlex.quote(s.path)}")
        rc, _, err = run(t, cmd, sudo=True, stdin=s.value.encode(), timeout=60)
        if rc != 0:
            raise SimpulError(f"{t.name}: cannot write {s.path}: {err.strip()[:200]}")

    return write


def _outcome(state: Any, host: Any) -> tuple[int, str]:
    changed, failure = 0, ""
    for op_hash in state.get_op_order():
        if op_hash not in state.ops[host]:
            continue
        meta = state.ops[host][op_hash].operation_meta
        if not meta.is_complete():
            continue
        names = ", ".join(sorted(state.get_op_meta(op_hash).names))
        if meta.did_error():
            if not failure:
                detail = " ".join(meta.stderr_lines[-3:] or meta.stdout_lines[-3:]).strip()
                failure = f"operation '{names}' failed" + (f": {detail[:300]}" if detail else "")
        elif meta.did_change():
            changed += 1
    return changed, failure


def run_spec(t: Target, h: HostSpec, mode: Mode) -> Result:
    """Plan or apply one host's spec with pyinfra; one Result (changes in ``data``)."""
    from pyinfra.api.exceptions import PyinfraError
    from pyinfra.api.operations import run_ops
    from pyinfra.context import ctx_host as ch
    from pyinfra.context import ctx_state

    t0 = time.monotonic()
    preflight(t)
    state = pyinfra_state(t)
    host = state.inventory.get_host(t.name)
    rec = Recorder()
    state.simpul_recorder = rec
    status, message = Status.OK, ""
    changed_ops = 0
    with ctx_state.use(state), ch.use(host):
        try:
            host.connect(raise_exceptions=True, show_errors=False)
        except Exception as e:  # pyinfra's ConnectError: wrap once with the host name
            raise UnreachableError(t.name, f"pyinfra could not connect: {e}") from e
        state.activate_host(host)
        try:
            writer = secret_writer(t)
            (deploy_drc if h.role == "drc" else deploy_source)(h, writer)
            if mode == "apply" and rec.changes:
                try:
                    run_ops(state)
                except PyinfraError as e:
                    log.debug("%s: pyinfra: %s", t.name, e)
                changed_ops, failure = _outcome(state, host)
                if failure:
                    status, message = Status.FAILED, failure
        finally:
            try:
                host.disconnect()
            except Exception as e:  # a failed disconnect changes nothing
                log.debug("%s: disconnect: %s", t.name, e)
    changes = [c.to_dict() for c in rec.changes]
    if status is Status.OK and changes:
        status = Status.CHANGED
    if not message:
        message = (f"{len(changes)} change(s) " + ("pending" if mode == "plan" else "applied")
                   if changes else "up to date")
    return Result(t.name, status, message,
                  {"role": h.role, "mode": mode, "changes": changes, "changed_ops": changed_ops},
                  diff="\n".join(f"# {c['op']}\n{c['detail']}" for c in changes),
                  seconds=time.monotonic() - t0)


def fetch_cert(t: Target) -> str | None:
    rc, out, _ = run(t, f"cat {bs.TLS_CERT} 2>/dev/null", sudo=True, timeout=30)
    return out if rc == 0 and "BEGIN CERTIFICATE" in out else None


def deploy(inv: Inventory, known_hosts: Path, mode: Mode, *, limit: Sequence[str] | None = None,
           parallel: int = 10, hooks: Sequence[Hook] = ()) -> list[Result]:
    """Plan or apply the backup deploy: the DRC servers first (they make the certificate the
    sources pin), then the source servers. ``limit`` restricts to these server names."""
    if not inv.backup_policies:
        raise ConfigError("the inventory has no backup_policies")
    thread_local_pyinfra_context()
    dests = bs.destinations(inv)
    chosen = set(limit) if limit is not None else None
    d_names = [d for d in dests if chosen is None or d in chosen]
    sources = sorted({j.host for j in bs.jobs(inv)}, key=list(inv.servers).index)
    s_names = [s for s in sources if chosen is None or s in chosen]

    def one_drc(name: str) -> Result:
        return run_spec(server_target(inv, name, known_hosts), drc_spec(inv, dests[name]), mode)

    results = run_each(d_names, one_drc, parallel=parallel, hooks=hooks)
    certs: dict[str, str | None] = {}
    for d in dests:
        try:
            certs[d] = fetch_cert(server_target(inv, d, known_hosts))
        except SimpulError as e:
            log.warning("%s: cannot read its TLS certificate: %s", d, e)
            certs[d] = None
    failed_dests = {r.target for r in results if r.failed}

    def one_source(name: str) -> Result:
        js = bs.jobs(inv, hosts=[name])
        bad = sorted({j.pol.destination for j in js} & failed_dests)
        if bad and mode == "apply":
            return Result(name, Status.SKIPPED, f"skipped: its DRC server {', '.join(bad)} failed")
        missing = sorted(d for d in {j.pol.destination for j in js} if not certs.get(d))
        if mode == "apply" and missing:
            raise SimpulError(f"no TLS certificate at {', '.join(missing)} yet",
                              hint="deploy the DRC server first (simpul backup deploy --apply)")
        return run_spec(server_target(inv, name, known_hosts), source_spec(inv, name, certs), mode)

    results += run_each(s_names, one_source, parallel=parallel, hooks=hooks)
    return results
