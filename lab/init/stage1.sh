#!/bin/sh
# Stage 1 of a Simpul lab server's boot (started by lab/servers.py:start_server).
#
# Runs as PID 1 of the server's new pid namespace, in its own mount, uts and ipc namespaces,
# inside the server's (existing) network namespace, still with full capabilities. It builds the
# server's root filesystem, sets the hostname, pivots into the new root, drops the
# host-affecting capabilities for good and execs the lab init (init.py) as PID 1.
# Every mount made here lives only in the server's private mount namespace: when the server's
# PID 1 dies, the kernel removes them all — a crash cannot leave a mount behind on the host.
#
# usage: stage1.sh NAME BASE DIR REPO HOSTNAME DROPPED_CAPS
#   BASE  extracted image (overlay lower dir, read-only)   DIR   state_dir/servers/NAME
#   REPO  offline apt repo (bind-mounted read-only at /srv/simpul-apt)
set -eu
NAME=$1 BASE=$2 DIR=$3 REPO=$4 HOST=$5 DROP=$6
R=$DIR/root
say() { echo "simpul-stage1[$NAME]: $*"; }

mount -t overlay "simpul-$NAME" -o "lowerdir=$BASE,upperdir=$DIR/upper,workdir=$DIR/work" "$R"

# /proc of the new pid namespace. /proc/sys read-only except /proc/sys/net (network-namespace
# local): root inside must not change the host's kernel.*/vm.*/fs.* settings. The other entries
# that act on the whole machine are read-only too (sysrq-trigger would reboot the host).
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
for p in sys sysrq-trigger irq bus fs acpi; do
    if [ -e "$R/proc/$p" ]; then
        mount --bind "$R/proc/$p" "$R/proc/$p"
        mount -o remount,bind,ro,nosuid,nodev,noexec "$R/proc/$p"
    fi
done
mount --bind "$R/proc/sys/net" "$R/proc/sys/net"
mount -o remount,bind,rw,nosuid,nodev,noexec "$R/proc/sys/net"

# /sys read-only (shows this network namespace's interfaces).
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"

# A minimal /dev: the nodes a server needs, nothing that reaches host hardware. CAP_MKNOD is
# dropped below, so no other node can ever be created.
mount -t tmpfs -o mode=0755,nosuid,noexec,size=1m dev "$R/dev"
for n in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
    set -- $n
    mknod -m 0666 "$R/dev/$1" c "$2" "$3"
done
mkdir -m 0755 "$R/dev/pts"
mkdir -m 1777 "$R/dev/shm"
# a private devpts instance: PTYs for sshd sessions, not the host's
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev,size=256m shm "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"

# /run is a tmpfs as on any Debian system; /run/simpul carries the boot data (spec, host keys,
# the init) from the host into the server.
mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m run "$R/run"
mkdir -m 1777 "$R/run/lock"
mkdir -m 0700 "$R/run/simpul"
cp -a "$DIR/boot/." "$R/run/simpul/"

# The offline apt repo.
mkdir -p "$R/srv/simpul-apt"
mount --bind "$REPO" "$R/srv/simpul-apt"
mount -o remount,bind,ro,nosuid,nodev "$R/srv/simpul-apt"

hostname "$HOST"

cd "$R"
mkdir -p run/simpul/oldroot
pivot_root . run/simpul/oldroot
# From here on, commands come from the server's own image.
cd /
umount -l /run/simpul/oldroot
rmdir /run/simpul/oldroot
say "root ready, dropping capabilities: $DROP"
exec /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 TERM=linux \
    /usr/bin/setpriv --bounding-set "$DROP" --inh-caps -all -- \
    /usr/bin/python3 -u /run/simpul/init.py "$NAME"
