"""What the backup deploy puts on each server, computed from the inventory (pure).

The inventory's ``backup_policies`` become **jobs** (one per policy and source server) and
**repositories** at the DRC (one per destination and repository directory). This module turns
them into the files each server gets — the job configuration, the cron lines, the DRC's
append-only REST server — without touching the network, so ``simpul backup plan`` and the
unit tests see exactly what ``deploy --apply`` installs.

Ransomware-proof by construction (Pergub Kalteng 24/2022 Pasal 11(2)(b), 14: the DRC is the
Pusat Data's backup): the source servers reach the repository only through ``rclone serve
restic --append-only --private-repos`` at the DRC, over TLS, with a REST password that can add
snapshots but never delete or overwrite a file; retention (``forget``/``prune``) and integrity
checks run at the DRC only, as the repository's own system user.

The REST password is derived from the repository key (HMAC-SHA256, :func:`rest_password`): no
extra secret to manage, and the DRC stores only its SHA-1 ``htpasswd`` hash (the password has
160 random bits, so the hash cannot be brute-forced).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from typing import Any

from simpul.deploys.hostvars import parse_service
from simpul.errors import ConfigError
from simpul.inventory.models import BackupPolicy, BackupSource, Inventory, cron_for_every

SCRIPT = "/usr/local/sbin/simpul-backup"
CONF_DIR = "/etc/simpul/backup"
DRC_CONF = f"{CONF_DIR}/drc"
STATE_DIR = "/var/lib/simpul-backup"
SPOOL = "/var/backups/simpul"
CACHE_DIR = "/var/cache/simpul-backup"
LOG = "/var/log/simpul-backup.log"
SCRATCH = f"{STATE_DIR}/scratch"
REST_SERVICE = "restic-rest"
REST_USER = "restic"  # system user owning the repositories at the DRC
REST_INIT = "/etc/init.d/simpul-restic-rest"
REST_DEFAULT = "/etc/default/simpul-restic-rest"
REST_PIDFILE = "/run/simpul-restic-rest.pid"
REST_LOG_DIR = "/var/log/simpul-backup"
TLS_KEY = f"{DRC_CONF}/tls.key"
TLS_CERT = f"{DRC_CONF}/tls.pem"
HTPASSWD = f"{DRC_CONF}/htpasswd"
CRON_SOURCE = "/etc/cron.d/simpul-backup"
CRON_DRC = "/etc/cron.d/simpul-backup-drc"
LOGROTATE = "/etc/logrotate.d/simpul-backup"
SCRATCH_PORT = 5499  # scratch PostgreSQL of restore drills (socket only, never TCP)

REFS = ["Perbup Temanggung 83/2021 Pasal 15", "Pergub Jambi 12/2022 Pasal 24(4), 26(1)(e)",
        "Pergub Kalteng 24/2022 Pasal 11(2)(b), 14"]


def script_text() -> str:
    """The server-side program (deploys/files/simpul-backup)."""
    return (resources.files("simpul.deploys") / "files" / "simpul-backup").read_text()


def offset(*names: str) -> int:
    """A stable pseudo-random number per job name: spreads cron start times."""
    return int(hashlib.sha256("/".join(names).encode()).hexdigest()[:8], 16)


# --- jobs and repositories --------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One policy on one source server."""

    policy: str
    host: str
    pol: BackupPolicy

    @property
    def repository(self) -> str:
        return repo_name(self.pol)

    @property
    def service(self) -> str | None:
        return self.pol.service

    def schedule(self) -> str:
        s = self.pol.schedule or cron_for_every(self.pol.every, offset(self.policy, self.host))
        assert s is not None  # the model refuses unschedulable periods without schedule:
        return s


@dataclass
class Repo:
    """One repository at the DRC and the policies that write to it."""

    destination: str
    name: str
    path: str
    key: str  # secret name
    policies: dict[str, BackupPolicy] = field(default_factory=dict)

    def verify(self) -> str:
        """The strongest verification any of its policies asks for."""
        order = ["metadata", "read-data-subset", "read-data"]
        return max((p.verify for p in self.policies.values()), key=order.index)

    def verify_every(self) -> timedelta:
        return min(p.verify_every for p in self.policies.values())


@dataclass
class Destination:
    """A DRC server holding repositories behind the append-only REST server."""

    name: str
    address: str
    port: int
    root: str
    repos: dict[str, Repo] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"https://{self.address}:{self.port}"


def repo_name(pol: BackupPolicy) -> str:
    return pol.repository.rstrip("/").rsplit("/", 1)[1]


def jobs(inv: Inventory, policies: list[str] | None = None, hosts: list[str] | None = None) -> list[Job]:
    """Every (policy, server) pair the inventory asks for, in inventory order."""
    out = []
    for host, srv in inv.servers.items():
        for p in srv.backup:
            if p in inv.backup_policies and (policies is None or p in policies) \
                    and (hosts is None or host in hosts):
                out.append(Job(p, host, inv.backup_policies[p]))
    return out


def primary_only(pol: BackupPolicy) -> bool:
    """A policy with a database dumped only where the local server is the primary (``on:
    primary``): its servers (e.g. a Patroni pair) take turns, so they count as one source."""
    return any(s.type != "paths" and s.on == "primary" for s in pol.sources)


@dataclass(frozen=True)
class JobGroup:
    """What freshness and drills are judged on: one policy on one server, or — for a
    primary-only policy — on all its servers together (whichever is the primary backs up)."""

    policy: str
    hosts: tuple[str, ...]
    pol: BackupPolicy

    @property
    def host(self) -> str:
        return ",".join(self.hosts)

    @property
    def label(self) -> str:
        return f"{self.policy}@{self.host}"

    @property
    def repository(self) -> str:
        return repo_name(self.pol)


def job_groups(inv: Inventory, policies: list[str] | None = None) -> list[JobGroup]:
    groups: dict[tuple[str, ...], list[Job]] = {}
    for j in jobs(inv, policies):
        key = (j.policy,) if primary_only(j.pol) else (j.policy, j.host)
        groups.setdefault(key, []).append(j)
    return [JobGroup(js[0].policy, tuple(j.host for j in js), js[0].pol) for js in groups.values()]


def rest_port(inv: Inventory, server: str) -> int:
    for spec in inv.servers[server].services:
        if spec.partition("/")[0] == REST_SERVICE:
            return int(parse_service(spec)[0].port)
    raise ConfigError(f"{server}: does not list the service {REST_SERVICE}",
                      hint=f"add {REST_SERVICE} to servers.{server}.services")


def destinations(inv: Inventory) -> dict[str, Destination]:
    """The DRC servers of all policies with their repositories."""
    out: dict[str, Destination] = {}
    for name, pol in inv.backup_policies.items():
        d = pol.destination
        if d not in inv.servers:
            raise ConfigError(f"backup policy {name}: destination {d} is not a server")
        srv = inv.servers[d]
        parent = pol.repository.rstrip("/").rsplit("/", 1)[0]
        dest = out.setdefault(d, Destination(d, str(srv.address or srv.mgmt_ip), rest_port(inv, d),
                                             parent))
        r = dest.repos.setdefault(repo_name(pol), Repo(d, repo_name(pol), pol.repository,
                                                       pol.encryption_key))
        r.policies[name] = pol
    return out


def repo_of(inv: Inventory, policy: str) -> Repo:
    pol = inv.backup_policies[policy]
    return destinations(inv)[pol.destination].repos[repo_name(pol)]


# --- credentials ------------------------------------------------------------------------------


def rest_password(repository_key: str, user: str) -> str:
    """The append-only REST password of repository ``user``, derived from its key."""
    return hmac.new(repository_key.encode(), f"simpul-rest-append-only:{user}".encode(),
                    hashlib.sha256).hexdigest()[:40]


def htpasswd_line(user: str, password: str) -> str:
    """An ``htpasswd`` entry rclone accepts ({SHA}: base64 of SHA-1)."""
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()  # noqa: S324
    return f"{user}:{{SHA}}{digest}"


def repository_url(dest: Destination, repo: str, password: str) -> str:
    """What the source's ``--repository-file`` holds (the password makes it a secret)."""
    return f"rest:https://{repo}:{password}@{dest.address}:{dest.port}/{repo}/"


# --- file contents ----------------------------------------------------------------------------


def retention_json(pol: BackupPolicy) -> dict[str, Any]:
    r = pol.retention
    out: dict[str, Any] = {k: getattr(r, k) for k in ("last", "hourly", "daily", "weekly",
                                                         "monthly", "yearly")}
    if r.within is not None:
        out["within_hours"] = max(1, int(r.within.total_seconds() // 3600))
    return out


def retention_args(pol: BackupPolicy) -> list[str]:
    """The ``restic forget`` flags of a policy (the DRC runs them)."""
    ret = retention_json(pol)
    args: list[str] = []
    for k in ("last", "hourly", "daily", "weekly", "monthly", "yearly"):
        if ret[k] > 0:
            args += [f"--keep-{k}", str(ret[k])]
    if "within_hours" in ret:
        args += ["--keep-within", f"{ret['within_hours']}h"]
    return args


def _source_json(s: BackupSource) -> dict[str, Any]:
    d: dict[str, Any] = {"type": "mariadb" if s.type == "mysql" else s.type}
    if s.type == "paths":
        d["paths"] = list(s.paths)
        d["exclude"] = list(s.exclude)
    else:
        d["database"] = s.database
        d["on"] = s.on
        if s.port:
            d["port"] = s.port
    return d


def source_config(job: Job, dest: Destination) -> str:
    """``/etc/simpul/backup/<policy>.json`` on a source server (no secret in it)."""
    conf = {
        "policy": job.policy, "host": job.host, "service": job.service,
        "repository": job.repository, "destination": dest.name, "url": dest.base_url,
        "repository_file": f"{CONF_DIR}/{job.policy}.repo",
        "password_file": f"{CONF_DIR}/{job.policy}.key",
        "cacert": f"{CONF_DIR}/{dest.name}.pem",
        "sources": [_source_json(s) for s in job.pol.sources],
    }
    return json.dumps(conf, indent=1, sort_keys=True) + "\n"


def drc_config(repo: Repo) -> str:
    """``/etc/simpul/backup/drc/<repo>.json`` at the DRC (no secret in it)."""
    conf = {
        "repository": repo.name, "path": repo.path, "user": REST_USER,
        "password_file": f"{DRC_CONF}/{repo.name}.key", "verify": repo.verify(),
        "policies": {n: {"retention": retention_json(p), "verify": p.verify,
                         "service": p.service} for n, p in sorted(repo.policies.items())},
    }
    return json.dumps(conf, indent=1, sort_keys=True) + "\n"


def cron_source(host_jobs: list[Job]) -> str:
    lines = ["# Simpul backup jobs (simpul backup deploy); Perbup Temanggung 83/2021 Pasal 15",
             "SHELL=/bin/sh", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             'MAILTO=""']
    for j in sorted(host_jobs, key=lambda j: j.policy):
        lines.append(f"{j.schedule()} root {SCRIPT} run {j.policy} >/dev/null 2>&1")
    return "\n".join(lines) + "\n"


def cron_drc(dest: Destination) -> str:
    """Retention (daily) and integrity checks (``verify_every``) at the DRC, per repository."""
    lines = ["# Simpul DRC jobs (simpul backup deploy): retention and integrity checks run here only",
             "SHELL=/bin/sh", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             'MAILTO=""']
    for name, repo in sorted(dest.repos.items()):
        forget = cron_for_every(timedelta(days=1), offset("forget", dest.name, name))
        check = cron_for_every(repo.verify_every(), offset("check", dest.name, name)) or forget
        lines.append(f"{forget} root {SCRIPT} drc-forget {name} >/dev/null 2>&1")
        lines.append(f"{check} root {SCRIPT} drc-check {name} >/dev/null 2>&1")
    return "\n".join(lines) + "\n"


def rest_default(dest: Destination) -> str:
    return (
        "# simpul-restic-rest: restic's REST protocol, append-only, one private repository per\n"
        "# user (simpul backup deploy). Ransomware-proof copy: clients can add, never delete.\n"
        f'ADDR="{dest.address}:{dest.port}"\n'
        f'ROOT="{dest.root}"\n'
        f'HTPASSWD="{HTPASSWD}"\n'
        f'CERT="{TLS_CERT}"\n'
        f'KEY="{TLS_KEY}"\n'
    )


INIT_SCRIPT = f"""#!/bin/sh
### BEGIN INIT INFO
# Provides:          simpul-restic-rest
# Required-Start:    $remote_fs $network
# Required-Stop:     $remote_fs $network
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: append-only restic REST server for Simpul backups (rclone serve restic)
### END INIT INFO
# Installed by simpul backup deploy. Pergub Kalteng 24/2022 Pasal 11(2)(b), 14.
. {REST_DEFAULT}
PIDFILE={REST_PIDFILE}
DAEMON=/usr/bin/rclone
case "$1" in
  start)
    start-stop-daemon --start --quiet --oknodo --background --make-pidfile --pidfile $PIDFILE \\
      --chuid {REST_USER}:{REST_USER} --umask 077 --exec $DAEMON -- serve restic \\
      --config {DRC_CONF}/rclone.conf --addr "$ADDR" --append-only --private-repos \\
      --htpasswd "$HTPASSWD" --cert "$CERT" --key "$KEY" \\
      --log-file {REST_LOG_DIR}/restic-rest.log --log-level NOTICE "$ROOT" ;;
  stop)
    start-stop-daemon --stop --quiet --oknodo --retry 10 --pidfile $PIDFILE --exec $DAEMON
    rm -f $PIDFILE ;;
  restart|force-reload) "$0" stop; "$0" start ;;
  status) start-stop-daemon --status --pidfile $PIDFILE --exec $DAEMON ;;
  *) echo "Usage: $0 {{start|stop|restart|status}}" >&2; exit 3 ;;
esac
"""

LOGROTATE_CONF = f"""# simpul backup deploy
{LOG} {REST_LOG_DIR}/*.log {{
    weekly
    rotate 12
    compress
    missingok
    notifempty
    create 0600 root root
    copytruncate
}}
"""


def packages_for(jobs_on_host: list[Job]) -> list[str]:
    """Debian packages a source server needs for its jobs."""
    pkgs = {"restic", "python3", "cron"}
    for j in jobs_on_host:
        for s in j.pol.sources:
            if s.type == "postgres":
                pkgs.add("python3-psycopg2")  # pg_dump comes with the server itself
            elif s.type in ("mariadb", "mysql"):
                pkgs.add("mariadb-client")
    return sorted(pkgs)


DRC_PACKAGES = ["cron", "openssl", "python3", "python3-psycopg2", "rclone", "restic",
                "mariadb-server"]  # and a PostgreSQL server (any version) for scratch restores
