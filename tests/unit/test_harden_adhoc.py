"""``simpul run``'s read-only rule (issue 9 #5): every allow-listed command shape runs without
``--apply``, and known state-changing variants of each need it, with a message naming the word.

:data:`SHAPES` must name every command of :data:`simpul.deploys.adhoc.READ_ONLY`: adding a
command to the allow-list without saying here how it is used and how it could write fails
:func:`test_every_allow_listed_command_has_examples`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simpul.deploys import adhoc
from simpul.deploys.adhoc import READ_ONLY, is_read_only, read_only_words
from simpul.errors import UsageError
from simpul.results import Result, Status

# command → (read-only uses, state-changing or unknown variants that must need --apply)
SHAPES: dict[str, tuple[list[str], list[str]]] = {
    "uptime": (["uptime", "uptime -p"], ["/usr/bin/uptime"]),
    "uname": (["uname -a"], ["/tmp/x/uname -a"]),
    "id": (["id", "id -un", "id postgres"], []),
    "whoami": (["whoami"], []),
    "w": (["w", "w -h"], []),
    "who": (["who -b"], []),
    "last": (["last -n 20"], []),
    "lastlog": (["lastlog", "lastlog -u simpul", "lastlog -b 30"],
                ["lastlog -C -u budi", "lastlog -S -u budi", "lastlog --clear --user budi"]),
    "df": (["df -h", "df -hT /var"], []),
    "du": (["du -sh /var/log"], []),
    "free": (["free -m"], []),
    "lsblk": (["lsblk -f"], []),
    "findmnt": (["findmnt -n /"], []),
    "ps": (["ps aux", "ps -ef", "ps -eo pid,cmd --sort=-%cpu"], []),
    "cat": (["cat /etc/os-release", "cat /etc/*.conf"], ["cat /etc/passwd > /tmp/x", "cat a; reboot",
                                                         "cat $(echo /etc/shadow)", "/tmp/x/cat /etc/passwd"]),
    "head": (["head -n 5 /etc/passwd"], []),
    "tail": (["tail -n 50 /var/log/syslog", "tail -f /var/log/auth.log"], ["tail /x | sh"]),
    "grep": (["grep -r PermitRootLogin /etc/ssh"], ["grep x /etc/passwd && reboot"]),
    "ls": (["ls -la /etc"], ["ls `reboot`"]),
    "stat": (["stat -c '%a %U' /etc/shadow"], []),
    "getent": (["getent passwd simpul", "getent group sudo"], []),
    "lscpu": (["lscpu"], []),
    "nproc": (["nproc"], []),
    "dpkg-query": (["dpkg-query -W -f='${Status}' openssh-server"], []),
    "sha256sum": (["sha256sum /etc/ssh/sshd_config", "sha256sum -c SUMS"], []),
    "md5sum": (["md5sum /etc/passwd"], []),
    "wc": (["wc -l /etc/passwd"], []),
    "lsmod": (["lsmod"], []),
    "pgrep": (["pgrep -a sshd"], []),
    "vmstat": (["vmstat 1 3"], []),
    "hostname": (["hostname", "hostname -f", "hostname -I"],
                 ["hostname x", "hostname -F /tmp/name", "hostname -b x", "hostname --file /tmp/n"]),
    "date": (["date", "date +%F", "date -u +%s", "date -d yesterday +%F", "date --iso-8601=seconds"],
             ["date -s '2020-01-01 00:00'", "date --set=2020-01-01", "date 010203042020",
              "date -s@0", "date -us 2020"]),
    "env": (["env"], ["env X=1 id", "env -i sh"]),
    "sysctl": (["sysctl -a", "sysctl -n net.ipv4.ip_forward", "sysctl net.ipv4.ip_forward kernel.sysrq",
                "sysctl -a -r rp_filter"],
               ["sysctl -w net.ipv4.ip_forward=1", "sysctl net.ipv4.ip_forward=1", "sysctl -p",
                "sysctl --system", "sysctl -p /etc/sysctl.d/x.conf", "sysctl --load=/tmp/x",
                "sysctl -qw kernel.sysrq=1"]),
    "dpkg": (["dpkg -l", "dpkg -l 'openssh*'", "dpkg -s sudo", "dpkg -L sudo", "dpkg -S /usr/bin/sudo"],
             ["dpkg -i x.deb", "dpkg -r telnet", "dpkg --purge telnet", "dpkg --configure -a", "dpkg",
              "dpkg --set-selections"]),
    "apt": (["apt list --installed", "apt policy openssh-server", "apt show sudo"],
            ["apt install nginx", "apt update", "apt remove telnet", "apt full-upgrade", "apt"]),
    "apt-cache": (["apt-cache policy sudo", "apt-cache search nginx", "apt-cache depends sudo"],
                  ["apt-cache gencaches", "apt-cache"]),
    "ip": (["ip a", "ip addr", "ip -br a", "ip -4 -j addr show dev eth0", "ip route", "ip r get 1.1.1.1",
            "ip -s link", "ip link show eth0", "ip neigh", "ip rule list", "ip netns list"],
           ["ip link set eth0 down", "ip addr add 10.0.0.1/24 dev eth0", "ip addr flush dev eth0",
            "ip route del default", "ip -batch /tmp/cmds", "ip -b /tmp/cmds", "ip netns exec x sh",
            "ip neigh flush all", "ip", "ip -force addr del 1.1.1.1/32 dev lo"]),
    "ss": (["ss -tlnp", "ss -s", "ss -Htn state established dst 10.0.0.1", "ss -tunap"],
           ["ss -K dst 10.0.0.1", "ss --kill", "ss -D /tmp/x", "ss --diag=/tmp/x", "ss -tK"]),
    "nft": (["nft list ruleset", "nft -a list table inet simpul", "nft -j list ruleset"],
            ["nft flush ruleset", "nft -f /tmp/rules", "nft add rule inet simpul input accept",
             "nft delete table inet simpul", "nft", "nft -i"]),
    "chronyc": (["chronyc sources", "chronyc -n tracking"],
                ["chronyc makestep", "chronyc -n makestep", "chronyc settime 10:00", "chronyc burst 4/4",
                 "chronyc"]),
    "fail2ban-client": (["fail2ban-client status", "fail2ban-client status sshd", "fail2ban-client ping"],
                        ["fail2ban-client set sshd unbanip 10.0.0.1", "fail2ban-client unban --all",
                         "fail2ban-client reload", "fail2ban-client stop", "fail2ban-client"]),
    "journalctl": (["journalctl -u ssh -n 50 --no-pager", "journalctl -b -1 -p err", "journalctl -fu ssh",
                    "journalctl _SYSTEMD_UNIT=ssh.service", "journalctl --since '1 hour ago'",
                    "journalctl --disk-usage", "journalctl /usr/sbin/sshd"],
                   ["journalctl --vacuum-time=1s", "journalctl --vacuum-size=1M", "journalctl --rotate",
                    "journalctl --flush", "journalctl --setup-keys", "journalctl --update-catalog",
                    "journalctl --relinquish-var", "journalctl --cursor-file=/tmp/c", "journalctl --sync"]),
    "sshd": (["sshd -T", "sshd -t", "sshd -T -C user=root,host=x,addr=10.0.0.1"],
             ["sshd", "sshd -D", "sshd -p 2222", "/usr/sbin/sshd -T"]),
    "lynis": (["lynis show version"], ["lynis audit system", "lynis update info"]),
    "systemctl": (["systemctl status ssh", "systemctl status ssh --no-pager -l", "systemctl is-enabled nftables",
                   "systemctl list-units --type=service"],
                  ["systemctl restart ssh", "systemctl stop nftables", "systemctl disable fail2ban",
                   "systemctl mask auditd", "systemctl daemon-reload", "systemctl reboot", "systemctl"]),
    "service": (["service --status-all", "service ssh status"],
                ["service ssh restart", "service nftables stop", "service ssh"]),
    "timedatectl": (["timedatectl", "timedatectl status"], ["timedatectl set-time 10:00", "timedatectl set-ntp no"]),
    "hostnamectl": (["hostnamectl", "hostnamectl status"], ["hostnamectl set-hostname x", "hostnamectl hostname x"]),
    "mount": (["mount", "mount -l", "mount -t ext4"], ["mount /dev/sdb1 /mnt", "mount -a", "mount -o remount,rw /"]),
    "find": (["find /etc -name '*.conf'", "find / -xdev -type f -perm -0002", "find /var/log -mtime -7 -ls",
              "find /home ! -user root -maxdepth 1"],
             ["find / -delete", "find /tmp -name x -delete", "find / -exec rm {} +", "find / -execdir sh",
              "find / -ok rm {} +", "find / -fprint /tmp/x", "find / -fprintf /tmp/x %p",
              "find / -fls /tmp/x"]),
}
# anything off the list, and the sudo prefix with options
OTHERS = ["rm -rf /tmp/x", "reboot", "apt-get install x", "sudo -u postgres psql", "python3 -c 1",
          "sh -c uptime", "bash", "tee /etc/x", "cp /etc/passwd /tmp", "kill 1", "passwd -d root",
          "useradd x", "usermod -L simpul", "crontab -r", "shutdown -h now", "", "   "]


def test_every_allow_listed_command_has_examples() -> None:
    assert set(SHAPES) == set(READ_ONLY), "each allow-listed command needs uses and bad variants here"


@pytest.mark.parametrize("cmd", [c for good, _ in SHAPES.values() for c in good])
def test_read_only_shapes_run_without_apply(cmd: str) -> None:
    ok, why = is_read_only(cmd)
    assert ok, f"{cmd}: {why}"
    assert is_read_only(f"sudo {cmd}")[0]


@pytest.mark.parametrize("cmd", [c for _, bad in SHAPES.values() for c in bad] + OTHERS)
def test_state_changing_variants_need_apply_and_say_why(cmd: str) -> None:
    ok, why = is_read_only(cmd)
    assert not ok, f"{cmd!r} passed as read-only"
    assert why and len(why) > 10
    assert not is_read_only(f"sudo {cmd}")[0]


@pytest.mark.parametrize(("cmd", "named"), [
    ("date -s 2020-01-01", "-s"), ("hostname x", "'x'"), ("sysctl -w a.b=1", "-w"),
    ("sysctl net.ipv4.ip_forward=1", "net.ipv4.ip_forward=1"), ("journalctl --vacuum-time=1s", "--vacuum-time"),
    ("/tmp/x/cat /etc/passwd", "/tmp/x/cat"), ("find / -delete", "-delete"), ("ip link set eth0 up", "ip link set"),
    ("systemctl restart ssh", "systemctl restart"), ("uptime; reboot", "';'"), ("ss -tK", "-K"),
])
def test_the_refusal_names_the_word_that_is_not_read_only(cmd: str, named: str) -> None:
    assert named in is_read_only(cmd)[1]


def test_an_allowed_command_runs_exactly_as_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Globs, braces and variables are not expanded: the words the rule saw are the words run."""
    ran: list[str] = []

    def fake_run_one(t: adhoc.Target, command: str, sudo: bool, timeout: float) -> Result:
        ran.append(command)
        return Result(t.name, Status.OK)

    monkeypatch.setattr(adhoc, "run_one", fake_run_one)
    t = adhoc.Target("x", "127.0.0.1", 22, "u", Path("/k"), Path("/kh"))
    adhoc.run_command([t], "ls {-d,/etc} $HOME/* '/var/log'", apply=False)
    assert ran == ["ls '{-d,/etc}' '$HOME/*' /var/log"]
    ran.clear()
    adhoc.run_command([t], "echo $HOME && date", apply=True)
    assert ran == ["echo $HOME && date"]  # --apply: the shell's, as the user wrote it
    with pytest.raises(UsageError, match="option -s is not on the read-only list"):
        adhoc.run_command([t], "date -s 2020", apply=False)


def test_words_keep_the_sudo_prefix() -> None:
    assert read_only_words("sudo nft list ruleset") == (["sudo", "nft", "list", "ruleset"], "")
