"""The lab's Debian 12 server image: built once with debootstrap, cached, shared read-only.

Layout under ``cache_dir`` (``<h>`` is the recipe hash, see :func:`recipe_hash`)::

    debian12-<h>.tar.zst     the cache: ``rootfs/`` and ``repo/`` (what CI keeps between runs)
    debian12-<h>/            the extracted base rootfs; servers mount it as an overlay lower dir
    debian12-<h>-repo/       offline apt repo (every .deb of the image + Packages.gz), mounted
                             read-only in each server at /srv/simpul-apt

The recipe is ``lab/image-packages.txt`` plus ``lab/init/build-image.sh`` (and the constants
below); change either and the next :func:`ensure_image` builds a new image. A build runs in a
temporary directory and is renamed into place at the end, so an interrupted build leaves
nothing that looks finished; leftovers of dead builds are removed by the next build.

Safety: every step that runs the image's own programs (maintainer scripts!) runs in private
mount/pid/uts/ipc namespaces, with the host-affecting capabilities dropped, /proc/sys read-only
and, unless it downloads packages, in an empty network namespace; no daemon may start
(``policy-rc.d`` exits 101). Example::

    base = ensure_image(Path("/var/cache/simpul/lab"))   # ~3-4 min the first time, then ~0 s
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .netns import LabError, run

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PACKAGES_FILE = HERE / "image-packages.txt"
BUILD_SCRIPT = HERE / "init" / "build-image.sh"
SUITE = "bookworm"
RECIPE_VERSION = "2"  # bump to force a rebuild when something outside the two files changes
DEFAULT_MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
NAME_PREFIX = "debian12"

# Capabilities no process of a lab server (or of an image build) may keep: with them, root
# inside could change the *host's* clock, kernel modules, audit rules, mounts (and from there
# anything), raw devices and memory, kernel log, process accounting, or create device nodes
# for the host's disks. Kept on purpose: chown/dac_*/fowner/fsetid/setuid/setgid/setpcap/
# setfcap/kill (sshd, sudo, su, dpkg), audit_write (sshd/sudo send audit records), net_admin/
# net_raw/net_bind_service (network-namespace local: nftables, net.* sysctls, ping, :22),
# ipc_lock/ipc_owner (IPC namespace local), lease, sys_chroot (sshd privilege separation).
DROPPED_CAPS: tuple[str, ...] = (
    "sys_admin", "sys_time", "sys_module", "sys_rawio", "sys_boot", "sys_ptrace", "sys_pacct",
    "sys_nice", "sys_resource", "sys_tty_config", "audit_control", "audit_read", "mknod",
    "syslog", "mac_admin", "mac_override", "linux_immutable", "wake_alarm", "block_suspend",
    "bpf", "perfmon", "checkpoint_restore",
)
DROPPED_CAPS_ARG = ",".join(f"-{c}" for c in DROPPED_CAPS)

# Mount the build sandbox inside the new rootfs, then chroot into it with the capabilities
# dropped. Runs as the first process of a new pid+mount namespace: every mount disappears with
# it, also when the build is killed.
_SANDBOX_SH = r"""
set -eu
R=$1; REPO=$2; DROP=$3; SCRIPT=$4; shift 4
mount -t proc proc "$R/proc"
for p in sys sysrq-trigger irq bus; do
    if [ -e "$R/proc/$p" ]; then
        mount --bind "$R/proc/$p" "$R/proc/$p"; mount -o remount,bind,ro "$R/proc/$p"
    fi
done
mkdir -p "$R/dev/shm"; mount -t tmpfs -o mode=1777,nosuid,nodev shm "$R/dev/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$R/tmp"
if [ -n "$REPO" ]; then
    mkdir -p "$R/srv/simpul-apt"
    mount --bind "$REPO" "$R/srv/simpul-apt"; mount -o remount,bind,ro "$R/srv/simpul-apt"
fi
cp "$SCRIPT" "$R/tmp/build-image.sh"
exec chroot "$R" setpriv --bounding-set "$DROP" --inh-caps -all -- /bin/sh /tmp/build-image.sh "$@"
"""


def read_packages(path: Path = PACKAGES_FILE) -> list[str]:
    """Package names from ``image-packages.txt`` (comments and blank lines dropped)."""
    pkgs = []
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if " " in line or line.startswith("-"):
            raise LabError(f"{path}:{lineno}: expected one package name per line, got {line!r}")
        pkgs.append(line)
    return pkgs


def recipe_hash() -> str:
    """Short hash of everything that defines the image (package list, build script, suite)."""
    h = hashlib.sha256()
    for part in (RECIPE_VERSION, SUITE, "\n".join(read_packages()), BUILD_SCRIPT.read_text()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def repo_dir_for(image: Path) -> Path:
    """The offline apt repo that belongs to the extracted image ``image``."""
    return image.with_name(image.name + "-repo")


def ensure_image(cache_dir: Path) -> Path:
    """Return the extracted base rootfs for the current recipe, building it if needed.

    Raises :class:`LabError` if debootstrap, apt or a check fails (e.g. systemd pulled in).
    """
    cache_dir = Path(cache_dir).resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)
    name = f"{NAME_PREFIX}-{recipe_hash()}"
    image, tarball = cache_dir / name, cache_dir / f"{name}.tar.zst"
    repo = repo_dir_for(image)
    if image.is_dir() and repo.is_dir():
        return image
    with _locked(cache_dir / f".{NAME_PREFIX}.lock"):
        if image.is_dir() and repo.is_dir():  # another process finished it meanwhile
            return image
        _remove_dead_builds(cache_dir)
        work = cache_dir / f".build-{name}-{os.getpid()}"
        work.mkdir()
        try:
            if tarball.is_file():
                t0 = time.monotonic()
                _extract(tarball, work)
                log.info("image %s: extracted from %s in %.1f s", name, tarball.name,
                         time.monotonic() - t0)
            else:
                t0 = time.monotonic()
                _build(work)
                _pack(work, tarball)
                log.info("image %s: built in %.0f s (%s)", name, time.monotonic() - t0,
                         _human(tarball.stat().st_size))
            for final, part in ((repo, work / "repo"), (image, work / "rootfs")):
                if final.exists():
                    _rmtree(final)
                part.rename(final)
        finally:
            _rmtree(work)
    return image


def images_in_use() -> set[Path]:
    """Base images that running lab servers are booted from (their stage-1 command lines)."""
    used: set[Path] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            args = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for i, arg in enumerate(args):
            if arg.endswith(b"/init/stage1.sh") and len(args) > i + 2:
                used.add(Path(args[i + 2].decode(errors="replace")))
    return used


def prune_images(cache_dir: Path) -> list[Path]:
    """Remove cached images of older recipes that no running server uses; return them."""
    cache_dir = Path(cache_dir).resolve()
    current = f"{NAME_PREFIX}-{recipe_hash()}"
    removed: list[Path] = []
    with _locked(cache_dir / f".{NAME_PREFIX}.lock"):
        used = images_in_use()
        for image in sorted(cache_dir.glob(f"{NAME_PREFIX}-*")):
            if not image.is_dir() or image.name.endswith("-repo") or image.name == current:
                continue
            if image in used:
                log.info("image %s: still used by a running server, kept", image.name)
                continue
            for p in (image, repo_dir_for(image), image.with_name(image.name + ".tar.zst")):
                _rmtree(p)
            removed.append(image)
            log.info("image %s: removed (old recipe)", image.name)
    return removed


def _build(work: Path) -> None:
    rootfs, repo = work / "rootfs", work / "repo"
    packages = read_packages()
    mirror = os.environ.get("SIMPUL_DEBIAN_MIRROR", DEFAULT_MIRROR)
    security = os.environ.get("SIMPUL_DEBIAN_SECURITY_MIRROR", SECURITY_MIRROR)
    t0 = time.monotonic()
    log.info("image: debootstrap --variant=minbase %s from %s", SUITE, mirror)
    run(["unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
         "setpriv", "--bounding-set", ",".join(f"-{c}" for c in DROPPED_CAPS if c != "mknod"
                                             and c != "sys_admin"), "--",
         "debootstrap", "--variant=minbase", SUITE, str(rootfs), mirror], timeout=1800)
    log.info("image: debootstrap done in %.0f s", time.monotonic() - t0)
    (rootfs / "etc/apt/sources.list").write_text(
        f"deb {mirror} {SUITE} main\ndeb {mirror} {SUITE}-updates main\n"
        f"deb {security} {SUITE}-security main\n")
    _sandbox(rootfs, ["prepare"], network=False)
    # Downloads happen in the host's network namespace, installs (maintainer scripts) without
    # any network: nothing a postinst does can reach out or be reached.
    shutil.copy2("/etc/resolv.conf", rootfs / "etc/resolv.conf")
    _sandbox(rootfs, ["apt", "apt-get", "update"], network=True)
    _sandbox(rootfs, ["apt", "apt-get", "-y", "--download-only", "dist-upgrade"], network=True)
    _sandbox(rootfs, ["apt", "apt-get", "-y", "--no-download", "dist-upgrade"], network=False)
    _sandbox(rootfs, ["apt", "apt-get", "install", "-y", "--download-only", *packages],
             network=True)
    _sandbox(rootfs, ["install", *packages], network=False)
    _sandbox(rootfs, ["configure"], network=False)
    # The offline repo holds every installed package (so "reinstall" or "remove then install
    # again" work on a server), not just the ones apt downloaded above.
    installed = _sandbox(rootfs, ["apt", "dpkg-query", "-W", "-f",
                                  "${db:Status-Abbrev} ${binary:Package}\n"],
                         network=False).stdout
    names = [ln.split()[1] for ln in installed.splitlines() if ln.startswith("ii ")]
    _sandbox(rootfs, ["apt", "apt-get", "install", "-y", "--reinstall", "--download-only",
                      *names], network=True)
    repo.mkdir()
    for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        deb.rename(repo / deb.name)
    _index_repo(repo)
    _sandbox(rootfs, ["finalize"], network=False, repo=repo)
    log.info("image: %d packages, repo %d .debs (%s)", len(names), len(list(repo.glob("*.deb"))),
             _human(sum(p.stat().st_size for p in repo.glob("*.deb"))))


def _sandbox(rootfs: Path, argv: Sequence[str], *, network: bool,
             repo: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a stage of build-image.sh in the build sandbox (see the module docstring)."""
    ns = [] if network else ["--net"]
    cmd = ["unshare", *ns, "--mount", "--pid", "--uts", "--ipc", "--fork", "--kill-child", "--",
           "/bin/sh", "-c", _SANDBOX_SH, "simpul-image-sandbox", str(rootfs), str(repo or ""),
           DROPPED_CAPS_ARG, str(BUILD_SCRIPT), *argv]
    t0 = time.monotonic()
    cp = run(cmd, timeout=3600)
    log.info("image: %s done in %.1f s", " ".join(argv[:3]), time.monotonic() - t0)
    return cp


def _index_repo(repo: Path) -> None:
    """Write Packages(.gz) for a flat repo (``deb [trusted=yes] file:/srv/simpul-apt ./``)."""
    try:
        cp = subprocess.run(["dpkg-scanpackages", "--multiversion", ".", "/dev/null"], cwd=repo,
                            capture_output=True, text=True, timeout=600, check=False)
    except FileNotFoundError as e:
        raise LabError("dpkg-scanpackages: command not found",
                       hint="apt-get install dpkg-dev (scripts/setup does)") from e
    if cp.returncode != 0:
        raise LabError(f"dpkg-scanpackages in {repo} failed: {cp.stderr.strip()[:500]}")
    (repo / "Packages").write_text(cp.stdout)
    run(["gzip", "-9kf", str(repo / "Packages")])
    # A Release file listing exactly the indexes that exist: without it apt probes
    # Packages.xz/.bz2/... and prints "Err: Method gave a blank filename" on every update.
    lines = ["Origin: Simpul lab", "Label: simpul-lab", "Suite: simpul-lab",
             f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S UTC', time.gmtime())}", "SHA256:"]
    for index in ("Packages", "Packages.gz"):
        data = (repo / index).read_bytes()
        lines.append(f" {hashlib.sha256(data).hexdigest()} {len(data)} {index}")
    (repo / "Release").write_text("\n".join(lines) + "\n")


def _pack(work: Path, tarball: Path) -> None:
    tmp = tarball.with_name(f".{tarball.name}.{os.getpid()}.tmp")
    run(["tar", "-C", str(work), "--numeric-owner", "--xattrs", "--xattrs-include=*",
         "-I", "zstd -T0 -3 -q", "-cf", str(tmp), "rootfs", "repo"], timeout=1800)
    tmp.rename(tarball)


def _extract(tarball: Path, work: Path) -> None:
    run(["tar", "-C", str(work), "--numeric-owner", "--xattrs", "--xattrs-include=*",
         "-I", "zstd -T0 -q", "-xpf", str(tarball)], timeout=1800)


def _remove_dead_builds(cache_dir: Path) -> None:
    for old in cache_dir.glob(".build-*"):
        pid = old.name.rsplit("-", 1)[-1]
        if pid.isdigit() and Path(f"/proc/{pid}").exists() and int(pid) != os.getpid():
            continue
        log.info("image: removing leftovers of an interrupted build: %s", old)
        _rmtree(old)
    for tmp in cache_dir.glob(".*.tar.zst.*.tmp"):
        tmp.unlink(missing_ok=True)


def _rmtree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        # a rootfs holds device nodes and read-only dirs; never cross into another filesystem
        run(["rm", "-rf", "--one-file-system", "--", str(path)], timeout=600)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
