#!/bin/sh
# Customise the Simpul lab server image. Part of the image recipe: changing this file changes
# the recipe hash, so the next `ensure_image` rebuilds the image.
#
# lab/image.py runs each stage inside the new rootfs (chroot) in private mount/pid/uts/ipc
# namespaces with the host-affecting capabilities dropped and /proc/sys read-only. Stages that do
# not download anything also run in an empty network namespace. Usage:
#   build-image.sh prepare                 apt/dpkg settings, no service starts during the build
#   build-image.sh apt CMD...              run CMD (apt-get update/download, dpkg-query)
#   build-image.sh install PKG...          install from the already-downloaded .debs (offline)
#   build-image.sh configure               lab tweaks (see comments), checks (no systemd)
#   build-image.sh finalize                point apt at the offline repo only; shrink the image
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin
stage=$1
shift

case "$stage" in
prepare)
    # Maintainer scripts must never start a daemon during the build.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    cat > /etc/apt/apt.conf.d/90simpul <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
    # Documentation, man pages and translations are not needed on a lab server (size).
    cat > /etc/dpkg/dpkg.cfg.d/90simpul-nodoc <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    ;;

apt)
    # a plain command inside the sandbox (apt-get downloads, dpkg-query)
    exec "$@"
    ;;

install)
    apt-get install -y --no-install-recommends --no-download "$@"
    ;;

configure)
    # 1. No systemd in the lab: pyinfra picks systemd whenever systemctl exists.
    for f in /bin/systemctl /usr/bin/systemctl /sbin/init /lib/systemd/systemd; do
        if [ -e "$f" ]; then echo "build-image: $f exists: systemd was pulled in" >&2; exit 3; fi
    done
    if dpkg-query -W -f '${Status}\n' systemd systemd-sysv 2>/dev/null | grep -q 'ok installed'; then
        echo "build-image: systemd is installed" >&2; exit 3
    fi

    # 2. Per-server secrets must not live in the shared image: the lab's init provisions host
    #    keys (from the orchestrator), the machine-id and the SNMP users at first boot.
    rm -f /etc/ssh/ssh_host_*
    : > /etc/machine-id
    rm -f /var/lib/dbus/machine-id

    # 3. Init scripts for services Debian 12 only ships systemd units for. Simple LSB scripts
    #    so pyinfra's sysvinit backend (`/etc/init.d/<svc> restart`) and the lab init work.
    cat > /etc/init.d/rsyslog <<'EOF'
#!/bin/sh
### BEGIN INIT INFO
# Provides:          rsyslog syslog
# Required-Start:    $remote_fs $time
# Required-Stop:     umountnfs $time
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: enhanced syslogd (Simpul lab init script)
### END INIT INFO
PIDFILE=/run/rsyslogd.pid
DAEMON=/usr/sbin/rsyslogd
case "$1" in
  start) start-stop-daemon --start --quiet --oknodo --background --pidfile $PIDFILE \
             --exec $DAEMON -- -n -i $PIDFILE ;;
  stop) start-stop-daemon --stop --quiet --oknodo --retry 5 --pidfile $PIDFILE --exec $DAEMON; rm -f $PIDFILE ;;
  restart|force-reload) "$0" stop; "$0" start ;;
  reload|rotate) start-stop-daemon --stop --signal HUP --quiet --pidfile $PIDFILE --exec $DAEMON ;;
  status) start-stop-daemon --status --pidfile $PIDFILE --exec $DAEMON ;;
  *) echo "Usage: $0 {start|stop|restart|reload|status}" >&2; exit 3 ;;
esac
EOF
    cat > /etc/init.d/nftables <<'EOF'
#!/bin/sh
### BEGIN INIT INFO
# Provides:          nftables
# Required-Start:    $local_fs
# Required-Stop:     $local_fs
# Default-Start:     S
# Default-Stop:      0 6
# Short-Description: load /etc/nftables.conf (Simpul lab init script)
### END INIT INFO
CONF=/etc/nftables.conf
case "$1" in
  start|restart|reload|force-reload) /usr/sbin/nft -f "$CONF" ;;
  stop) /usr/sbin/nft flush ruleset ;;
  status) /usr/sbin/nft list ruleset ;;
  *) echo "Usage: $0 {start|stop|restart|reload|status}" >&2; exit 3 ;;
esac
EOF
    chmod 0755 /etc/init.d/rsyslog /etc/init.d/nftables
    update-rc.d rsyslog defaults
    # nftables is installed but, as on Debian, not enabled: the hardening deploy enables it.
    update-rc.d nftables defaults
    update-rc.d nftables disable
    # Installed for deploys and drills, not started at boot (as on a fresh server where the
    # hardening deploy or a drill decides). auditd and chronyd cannot work in a namespace
    # without CAP_AUDIT_CONTROL/CAP_SYS_TIME anyway (the lab checks them as configuration).
    # etcd-server and mariadb-server start themselves on install: off too (drc deploy runs its
    # own etcd member; lab seed starts MariaDB where the data lives).
    for svc in postgresql auditd chrony fail2ban etcd mariadb; do
        if [ -x "/etc/init.d/$svc" ]; then update-rc.d "$svc" disable; fi
    done
    # The container has no /dev/rtc and may not set the clock.
    if [ -e /etc/init.d/hwclock.sh ]; then update-rc.d hwclock.sh disable; fi

    # 4. `invoke-rc.d` (package upgrades, pyinfra) needs a runlevel; the lab init runs level 2.
    cat > /usr/local/sbin/runlevel <<'EOF'
#!/bin/sh
# Simpul lab: there is no sysvinit; the lab init runs the scripts of runlevel 2.
echo "N 2"
EOF
    chmod 0755 /usr/local/sbin/runlevel
    if [ ! -e /sbin/runlevel ]; then ln -s /usr/local/sbin/runlevel /sbin/runlevel; fi
    #    invoke-rc.d blocks every start ("No init system") unless /sbin/init exists. The lab's
    #    init is copied into /run/simpul at each boot: the link resolves only in a booted
    #    server, so invoke-rc.d (package postinsts, upgrades) behaves as on a real server.
    if [ ! -e /sbin/init ] && [ ! -L /sbin/init ]; then ln -s /run/simpul/init.py /sbin/init; fi

    # 5. Namespace quirks. pam_loginuid cannot set the login uid when the lab was started from a
    #    login session (needs CAP_AUDIT_CONTROL, which the lab drops): make it optional.
    sed -i 's/^session\s\+required\s\+pam_loginuid.so/session    optional     pam_loginuid.so/' \
        /etc/pam.d/sshd /etc/pam.d/cron 2>/dev/null || true
    #    chronyd may not set the clock (no CAP_SYS_TIME): -x keeps it running without doing so
    #    once a deploy enables it; its configuration (servers) is what the lab checks.
    sed -i 's/^DAEMON_OPTS="-F 1"$/DAEMON_OPTS="-F 1 -x"  # Simpul lab: no CAP_SYS_TIME/' \
        /etc/default/chrony
    #    rsyslog cannot read the kernel log without CAP_SYSLOG (dropped): no imklog.
    sed -i 's/^\(module(load="imklog".*\)$/#\1  # Simpul lab: no CAP_SYSLOG/' /etc/rsyslog.conf

    # 6. SNMP: quiet by default (Debian ships no MIB files); the init writes the real config.
    cat > /etc/default/snmpd <<'EOF'
# Simpul lab: no MIBs (Debian ships none), log to syslog, own pidfile.
export MIBS=
SNMPDRUN=yes
SNMPDOPTS='-LSwd -u Debian-snmp -g Debian-snmp -I -smux,mteTrigger,mteTriggerConf'
EOF
    ;;

finalize)
    # Offline apt: the only source is the read-only repo the lab mounts at /srv/simpul-apt.
    rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*
    echo 'deb [trusted=yes] file:/srv/simpul-apt ./' > /etc/apt/sources.list.d/simpul-lab.list
    apt-get update -o Acquire::Languages=none
    rm -f /usr/sbin/policy-rc.d
    apt-get clean
    rm -rf /var/cache/apt/*.bin /var/log/apt/* /var/log/dpkg.log /var/log/alternatives.log \
        /var/cache/debconf/*-old /var/lib/dpkg/*-old /tmp/* /var/tmp/* /root/.cache
    find /usr/share/doc -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
    find /usr/share/doc -mindepth 1 -type d -empty -delete 2>/dev/null || true
    rm -rf /usr/share/man/* /usr/share/info/* /usr/share/lintian/*
    find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    : > /etc/resolv.conf
    ;;

*)
    echo "build-image: unknown stage $stage" >&2
    exit 2
    ;;
esac
