"""The hardening controls catalog: one entry per control, as data.

Every control has an ID (``SSH-01``), a title and a rationale in Bahasa Indonesia and English,
its references (the seed regulation article, BSSN, ISO/IEC 27001:2022 Annex A and the CIS Debian
Linux 12 Benchmark section where one applies), the profile that enables it, and where its change
and its check live:

- the change is a pyinfra operation whose name carries the control ID (``... | SSH-01``) in one
  of the family deploys (:mod:`simpul.deploys.families`); ``change`` names that family deploy;
- the check is a read-only function in :mod:`simpul.deploys.checks` (``CHECKS[id]``), run with
  testinfra from inside the host, plus the outside probes of :mod:`simpul.deploys.outside`.

The toggle of a control is its profile (``baseline`` controls run on ``baseline`` and ``strict``
hosts, ``strict`` controls only on ``strict`` hosts; ``none`` turns hardening off for a host) and
the host's waivers: an unexpired waiver turns the control off on that host (apply leaves it alone,
audit reports "waived"); an expired waiver stops counting and the control is applied and audited
again.

Scope ``kernel`` marks kernel-global settings (``kernel.*``/``fs.*`` sysctls, audit rules, the
clock, kernel modules). Inside a network/PID namespace (the lab, a container) they cannot be
enforced; there the deploy writes the configuration and the audit checks the configuration and
says so in the report instead of pretending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Profile = Literal["baseline", "strict"]
Scope = Literal["live", "kernel", "audit-only"]

# --- references ------------------------------------------------------------------------------
# Seed regulations (see ../shared/seeds): article texts are quoted in docs/hardening.md.
JAMBI_OS = "Pergub Jambi 12/2022 Pasal 23(2)(b) angka 1 (hardening sistem operasi)"
JAMBI_FW = "Pergub Jambi 12/2022 Pasal 23(2)(b) angka 2 (firewall)"
JAMBI_IPS = "Pergub Jambi 12/2022 Pasal 23(2)(b) angka 3 (IDS/IPS)"
JAMBI_LOG = "Pergub Jambi 12/2022 Pasal 23(2)(b) angka 5 (log processor and analysis)"
JAMBI_VULN = "Pergub Jambi 12/2022 Pasal 23(2)(d) (assessment kerentanan secara teratur)"
JAMBI_CIA = "Pergub Jambi 12/2022 Pasal 22(2),(4) (kerahasiaan, keutuhan, keaslian; standar BSSN)"
TMG_14 = "Perbup Temanggung 83/2021 Pasal 14(8) (jaminan keamanan server Pusat Data)"
TMG_18 = "Perbup Temanggung 83/2021 Pasal 18(3)(a)-(b) (pembatasan akses, otentikasi, deteksi modifikasi)"
TMG_19 = "Perbup Temanggung 83/2021 Pasal 19(2)(c) (perangkat keamanan dan pemantauan keamanan)"
TMG_26 = "Perbup Temanggung 83/2021 Pasal 26(1)(a)-(b) (pembatasan akses, pendeteksian modifikasi)"
BSSN = "Peraturan BSSN 4/2021 (Standar Teknis dan Prosedur Keamanan SPBE: keamanan infrastruktur)"


def iso(*ids: str) -> str:
    return "ISO/IEC 27001:2022 Annex A " + ", ".join(ids)


def cis(section: str) -> str:
    return f"CIS Debian Linux 12 Benchmark §{section}"


@dataclass(frozen=True)
class Control:
    """One hardening control: what, why, where it comes from, how it is changed and checked."""

    id: str
    family: str
    title_id: str
    title_en: str
    rationale_id: str
    rationale_en: str
    refs: tuple[str, ...]
    profile: Profile = "baseline"
    scope: Scope = "live"
    change: str = ""  # the family deploy that carries the change ("" for audit-only controls)
    note: str = ""  # e.g. why a control is audit-only
    tags: tuple[str, ...] = field(default_factory=tuple)

    def title(self, lang: str = "en") -> str:
        return self.title_id if lang == "id" else self.title_en

    def rationale(self, lang: str = "en") -> str:
        return self.rationale_id if lang == "id" else self.rationale_en


C = Control
_OS = (JAMBI_OS, TMG_14)

CONTROLS: tuple[Control, ...] = (
    # --- SSH -------------------------------------------------------------------------------
    C("SSH-01", "ssh", "Login root lewat SSH ditolak", "Root login over SSH refused",
      "Admin masuk dengan akun pribadi lalu sudo, sehingga setiap tindakan tercatat atas nama orangnya.",
      "Admins log in with their own account and use sudo, so every action is attributable.",
      (*_OS, TMG_18, BSSN, iso("A.8.2", "A.8.5"), cis("5.1 PermitRootLogin")), change="ssh"),
    C("SSH-02", "ssh", "Hanya login dengan kunci (password ditolak)", "Key-only login (passwords refused)",
      "Password dapat ditebak dan dicuri; kunci SSH tidak dapat di-brute-force dari jaringan.",
      "Passwords can be guessed and phished; SSH keys cannot be brute-forced over the network.",
      (*_OS, TMG_18, JAMBI_CIA, BSSN, iso("A.5.17", "A.8.5"),
       cis("5.1 PasswordAuthentication/PermitEmptyPasswords")), change="ssh"),
    C("SSH-03", "ssh", "Batas percobaan otentikasi (MaxAuthTries 3)", "Authentication attempts limited (MaxAuthTries 3)",
      "Membatasi percobaan per koneksi memperlambat serangan tebak kunci/password.",
      "Limiting tries per connection slows down guessing attacks.",
      (*_OS, BSSN, iso("A.8.5"), cis("5.1 MaxAuthTries")), change="ssh"),
    C("SSH-04", "ssh", "Sesi menganggur diputus dan waktu login dibatasi", "Idle sessions closed, login grace time limited",
      "Sesi admin yang ditinggal terbuka dapat dipakai orang lain.",
      "An admin session left open can be used by someone else.",
      (*_OS, BSSN, iso("A.8.5"), cis("5.1 ClientAliveInterval/LoginGraceTime")), change="ssh"),
    C("SSH-05", "ssh", "Tanpa forwarding (TCP, agent, X11, tunnel)", "No forwarding (TCP, agent, X11, tunnel)",
      "Forwarding menjadikan server jembatan ke jaringan lain dan melewati firewall.",
      "Forwarding turns the server into a pivot into other networks, around the firewall.",
      (*_OS, JAMBI_FW, iso("A.8.20", "A.8.22"), cis("5.1 DisableForwarding")), change="ssh"),
    C("SSH-06", "ssh", "Kriptografi modern (kex, cipher, MAC) yang tetap menerima alat deploy",
      "Modern crypto (kex, ciphers, MACs) that still admits the deploy tooling",
      "Algoritma lama (CBC, SHA-1, DH group1/14-sha1) lemah; daftar tetap menerima paramiko agar NOC tidak terkunci.",
      "Legacy algorithms (CBC, SHA-1, DH group1/14-sha1) are weak; the list keeps paramiko working so the NOC is not locked out.",
      (*_OS, JAMBI_CIA, BSSN, iso("A.8.24"), cis("5.1 Ciphers/KexAlgorithms/MACs")), change="ssh"),
    C("SSH-07", "ssh", "Login SSH hanya untuk grup simpul-ssh", "SSH login only for group simpul-ssh (AllowGroups)",
      "Akun layanan dan akun lain tidak dapat login walau punya kunci; akses diberikan per grup.",
      "Service and stray accounts cannot log in even with a key; access is granted by group.",
      (*_OS, TMG_18, TMG_26, iso("A.5.15", "A.8.2"), cis("5.1 sshd access (AllowGroups)")), change="ssh"),
    C("SSH-08", "ssh", "Banner peringatan hukum (ID + EN)", "Legal warning banner (ID + EN)",
      "Banner menyatakan sistem milik pemerintah dan aktivitas dipantau, dasar penindakan penyalahgunaan.",
      "The banner states the system is government property and monitored, the basis for acting on misuse.",
      (*_OS, iso("A.5.10"), cis("5.1 Banner; 1.7 warning banners")), change="ssh"),
    C("SSH-09", "ssh", "Log SSH rinci (LogLevel VERBOSE)", "Verbose SSH logging (LogLevel VERBOSE)",
      "Sidik jari kunci yang dipakai login tercatat sehingga setiap login dapat ditelusuri.",
      "The fingerprint of the key used to log in is recorded, so every login is traceable.",
      (*_OS, JAMBI_LOG, iso("A.8.15"), cis("5.1 LogLevel")), change="ssh"),
    C("SSH-10", "ssh", "Izin berkas konfigurasi dan kunci host SSH", "SSH config and host key permissions",
      "Kunci host privat yang terbaca pengguna lain memungkinkan penyamaran server.",
      "A host private key readable by others lets an attacker impersonate the server.",
      (*_OS, TMG_26, iso("A.8.3"), cis("5.1 sshd_config and host key permissions")), change="ssh"),
    C("SSH-11", "ssh", "Batas sesi dan koneksi belum terotentikasi", "Session and unauthenticated-connection limits",
      "Membatasi MaxSessions/MaxStartups menahan banjir koneksi terhadap sshd.",
      "MaxSessions/MaxStartups limits blunt connection floods against sshd.",
      (*_OS, iso("A.8.6", "A.8.20"), cis("5.1 MaxStartups/MaxSessions")), change="ssh"),
    # --- accounts and PAM ------------------------------------------------------------------
    C("ACC-01", "accounts", "Akun deploy dan kuncinya sesuai inventaris", "Deploy account and its key as in the inventory",
      "Hanya kunci yang tercatat di inventaris yang memberi akses admin; grup simpul-ssh memberi hak login.",
      "Only keys recorded in the inventory grant admin access; group simpul-ssh grants login.",
      (*_OS, TMG_18, iso("A.5.16", "A.5.18", "A.8.2")), change="accounts"),
    C("ACC-02", "accounts", "Kebijakan sudo: log, use_pty, tanpa sudo bebas untuk grup lain",
      "sudo policy: logged, use_pty",
      "Setiap perintah sudo dicatat ke /var/log/sudo.log dan berjalan di pty tersendiri.",
      "Every sudo command is logged to /var/log/sudo.log and runs in its own pty.",
      (*_OS, JAMBI_LOG, iso("A.8.2", "A.8.15", "A.8.18"), cis("5.2 sudo (use_pty, logfile)")), change="accounts"),
    C("ACC-03", "accounts", "Tidak ada akun dengan password kosong", "No account with an empty password",
      "Akun berpassword kosong dapat dimasuki siapa saja yang punya akses konsol atau su.",
      "An account with an empty password is open to anyone with console or su access.",
      (*_OS, TMG_18, iso("A.5.17"), cis("7.2 empty password fields")), change="accounts"),
    C("ACC-04", "accounts", "Tidak ada UID ganda", "No duplicate UIDs",
      "UID ganda membuat jejak audit tidak dapat dibedakan antar akun.",
      "Duplicate UIDs make audit trails indistinguishable between accounts.",
      (*_OS, iso("A.5.16"), cis("7.2 duplicate UIDs")), scope="audit-only",
      note="audit only: merging or renumbering accounts needs a human decision"),
    C("ACC-05", "accounts", "Akun sistem tanpa shell login", "System accounts without a login shell",
      "Akun layanan (UID < 1000) tidak boleh dipakai untuk login interaktif.",
      "Service accounts (UID < 1000) must not be usable for interactive login.",
      (*_OS, iso("A.5.16", "A.8.2"), cis("5.4 system accounts secured")), change="accounts",
      note="postgres keeps its shell (Debian PostgreSQL tooling and DR runbooks use su - postgres)"),
    C("ACC-06", "accounts", "umask bawaan 027", "Default umask 027",
      "Berkas baru tidak terbaca oleh pengguna lain secara bawaan.",
      "New files are not readable by other users by default.",
      (*_OS, TMG_26, iso("A.8.3"), cis("5.4 default user umask")), change="accounts"),
    C("ACC-07", "accounts", "Akun admin dari inventaris (kunci, sudo, masa berlaku)",
      "Admin accounts from the inventory (keys, sudo, expiry)",
      "Setiap admin masuk dengan akunnya sendiri dan hanya dengan kunci yang tercatat; sudo hanya bila "
      "diizinkan; akun yang dicabut, habis masa berlakunya atau tidak tercatat untuk server ini dikunci "
      "(home disimpan untuk audit).",
      "Every admin logs in with their own account and only with the keys on record; sudo only where "
      "allowed; accounts that are revoked, expired or not granted on this server are locked (home kept "
      "for audit).",
      (*_OS, TMG_18, iso("A.5.15", "A.5.16", "A.5.18", "A.8.2"),
       cis("5.1 sshd access; 5.2 sudo; 5.4 user accounts (locked and expired accounts)")),
      change="accounts",
      note="the deploy user (ssh.user, ACC-01) and system accounts (UID < 1000) are never touched"),
    C("PAM-01", "pam", "Kualitas password (pwquality minlen 14, 4 kelas)", "Password quality (pwquality minlen 14, 4 classes)",
      "Password lokal (sudo/konsol) harus kuat walau SSH hanya memakai kunci.",
      "Local passwords (sudo/console) must be strong even though SSH uses keys only.",
      (*_OS, TMG_18, iso("A.5.17"), cis("5.3 pam_pwquality")), change="pam"),
    C("PAM-02", "pam", "Penguncian setelah gagal login (faillock 5×/15 menit)", "Lockout after failed logins (faillock 5×/15 min)",
      "Penguncian sementara menggagalkan tebak password pada konsol dan su.",
      "A temporary lockout defeats password guessing on the console and su.",
      (*_OS, TMG_18, iso("A.8.5"), cis("5.3 pam_faillock")), change="pam"),
    C("PAM-03", "pam", "Umur password (maks 365, min 1, peringatan 7 hari)", "Password ageing (max 365, min 1, warn 7 days)",
      "Password yang tidak pernah diganti terus berlaku setelah bocor.",
      "A password that is never changed stays valid after it leaks.",
      (*_OS, iso("A.5.17"), cis("5.4 login.defs PASS_MAX_DAYS/PASS_MIN_DAYS/PASS_WARN_AGE")), change="pam"),
    C("PAM-04", "pam", "Hash password kuat (yescrypt/sha512)", "Strong password hashing (yescrypt/sha512)",
      "Hash lemah mempermudah pemecahan password bila /etc/shadow bocor.",
      "Weak hashes make cracking easy if /etc/shadow leaks.",
      (*_OS, iso("A.8.24"), cis("5.3 password hashing algorithm")), change="pam"),
    # --- kernel and network ----------------------------------------------------------------
    C("SYS-01", "kernel", "Reverse-path filter aktif (rp_filter=1)", "Reverse-path filtering on (rp_filter=1)",
      "Menolak paket dengan alamat sumber palsu.", "Drops packets with spoofed source addresses.",
      (*_OS, JAMBI_FW, iso("A.8.20"), cis("3.3 rp_filter")), change="kernel"),
    C("SYS-02", "kernel", "ICMP redirect ditolak dan tidak dikirim", "ICMP redirects neither accepted nor sent",
      "Redirect dapat membelokkan lalu lintas ke penyerang.", "Redirects can divert traffic to an attacker.",
      (*_OS, iso("A.8.20"), cis("3.3 ICMP redirects")), change="kernel"),
    C("SYS-03", "kernel", "Source routing ditolak", "Source-routed packets refused",
      "Source routing memungkinkan penyerang menentukan jalur paket melewati kontrol.",
      "Source routing lets an attacker steer packets around controls.",
      (*_OS, iso("A.8.20"), cis("3.3 source routed packets")), change="kernel"),
    C("SYS-04", "kernel", "TCP SYN cookies aktif", "TCP SYN cookies on",
      "Menahan serangan SYN flood terhadap layanan.", "Withstands SYN floods against services.",
      (*_OS, iso("A.8.20"), cis("3.3 tcp_syncookies")), change="kernel"),
    C("SYS-05", "kernel", "Paket martian dicatat; broadcast/ICMP palsu diabaikan",
      "Martian packets logged; broadcast/bogus ICMP ignored",
      "Paket aneh terlihat di log; server tidak ikut serangan smurf.",
      "Odd packets show up in the log; the server does not join smurf attacks.",
      (*_OS, JAMBI_LOG, iso("A.8.16"), cis("3.3 log_martians, icmp_echo_ignore_broadcasts")), change="kernel"),
    C("SYS-06", "kernel", "IP forwarding mati (kecuali host router/kontainer)", "IP forwarding off (unless router/container host)",
      "Server biasa tidak boleh meneruskan paket antar jaringan; pengecualian per host di inventaris.",
      "An ordinary server must not route between networks; the per-host exception lives in the inventory.",
      (*_OS, JAMBI_FW, iso("A.8.22"), cis("3.3 ip_forward")), change="kernel",
      note="inventory hardening.ip_forward: true makes this control not applicable"),
    C("SYS-07", "kernel", "Parameter kernel: ASLR, kptr/dmesg restrict, ptrace, proteksi link",
      "Kernel parameters: ASLR, kptr/dmesg restrict, ptrace scope, link protection",
      "Mempersulit eksploitasi celah memori dan kebocoran informasi kernel.",
      "Makes memory exploits and kernel information leaks harder.",
      (*_OS, iso("A.8.9"), cis("1.5 ASLR, ptrace_scope")), scope="kernel", change="kernel"),
    C("SYS-08", "kernel", "Core dump dimatikan", "Core dumps off",
      "Core dump dapat berisi password dan kunci dari memori proses.",
      "Core dumps can hold passwords and keys from process memory.",
      (*_OS, TMG_26, iso("A.8.3"), cis("1.5 core dumps restricted")), scope="kernel", change="kernel"),
    C("SYS-09", "kernel", "Filesystem dan driver penyimpanan lepasan yang tidak dipakai dimatikan",
      "Unused filesystems and removable-storage drivers disabled",
      "Modul filesystem langka memperluas permukaan serangan kernel; USB/FireWire storage membuka jalan pencurian data.",
      "Rare filesystem modules widen the kernel attack surface; USB/FireWire storage is a data theft path.",
      (*_OS, iso("A.8.9"), cis("1.1.1 unused filesystems kernel modules")), scope="kernel", change="kernel"),
    C("SYS-10", "kernel", "Protokol jaringan langka dimatikan (dccp, sctp, rds, tipc)",
      "Uncommon network protocols disabled (dccp, sctp, rds, tipc)",
      "Protokol yang jarang dipakai sering menyimpan celah kernel.",
      "Rarely used protocols often hold kernel vulnerabilities.",
      (*_OS, iso("A.8.9"), cis("3.2 uncommon network protocols")), scope="kernel", change="kernel"),
    # --- firewall --------------------------------------------------------------------------
    C("FW-01", "firewall", "Firewall nftables aktif, masuk default-drop (tabel inet simpul)",
      "nftables firewall on, inbound default-drop (table inet simpul)",
      "Hanya lalu lintas yang diizinkan secara eksplisit yang diterima.",
      "Only explicitly allowed traffic is accepted.",
      (JAMBI_FW, TMG_14, TMG_19, BSSN, iso("A.8.20", "A.8.22"), cis("4.3 nftables")), change="firewall"),
    C("FW-02", "firewall", "Hanya port layanan dari inventaris yang terbuka", "Only the inventory's service ports are open",
      "Port yang terbuka harus sama dengan layanan yang tercatat; sisanya tertutup.",
      "Open ports must match the recorded services; everything else is closed.",
      (JAMBI_FW, TMG_14, iso("A.8.20", "A.8.21"), cis("4.3 open ports")), change="firewall"),
    C("FW-03", "firewall", "Manajemen (SSH, SNMP) hanya dari jaringan NOC", "Management (SSH, SNMP) only from the NOC ranges",
      "Akses administrasi dibatasi ke rentang NOC dari inventaris (organisation.noc_ranges).",
      "Administrative access is limited to the inventory's NOC ranges (organisation.noc_ranges).",
      (JAMBI_FW, TMG_18, TMG_26, iso("A.8.20", "A.8.22", "A.5.15")), change="firewall"),
    C("FW-04", "firewall", "Aturan firewall tersimpan untuk boot berikutnya", "Firewall rules persisted for the next boot",
      "Aturan yang hanya ada di memori hilang saat reboot.", "Rules that only live in memory vanish on reboot.",
      (JAMBI_FW, iso("A.8.9"), cis("4.3 nftables rules permanent")), change="firewall"),
    # --- logging, audit, time --------------------------------------------------------------
    C("LOG-01", "logging", "rsyslog terpasang dan berjalan", "rsyslog installed and running",
      "Log lokal adalah dasar analisis kejadian.", "Local logs are the basis of incident analysis.",
      (JAMBI_LOG, TMG_19, iso("A.8.15"), cis("6.1 rsyslog")), change="logging"),
    C("LOG-02", "logging", "Log diteruskan ke log host Pusat Data", "Logs forwarded to the Pusat Data log host",
      "Salinan log di luar server tidak dapat dihapus oleh penyusup yang menguasai server.",
      "A copy off the server cannot be erased by an intruder who owns the server.",
      (JAMBI_LOG, TMG_19, BSSN, iso("A.8.15", "A.8.16"), cis("6.1 rsyslog remote logging")), change="logging",
      note="not applicable on the log host itself (it receives, see LOG-03)"),
    C("LOG-03", "logging", "Log host menerima log dari server lain", "The log host receives logs from the servers",
      "Log host Pusat Data menerima log melalui TCP 514.", "The Pusat Data log host receives logs over TCP 514.",
      (JAMBI_LOG, iso("A.8.15")), change="logging", note="only on organisation.log_host"),
    C("LOG-04", "logging", "Izin berkas log (tidak terbaca umum)", "Log file permissions (not world-readable)",
      "Log memuat data pribadi dan jejak keamanan.", "Logs hold personal data and security trails.",
      (JAMBI_LOG, TMG_26, iso("A.8.15", "A.8.3"), cis("6.1 log file access")), change="logging"),
    C("AUD-01", "audit", "auditd terpasang dan aktif", "auditd installed and enabled",
      "Audit kernel mencatat perubahan identitas, waktu dan konfigurasi keamanan.",
      "Kernel auditing records identity, time and security configuration changes.",
      (JAMBI_LOG, TMG_18, TMG_26, iso("A.8.15", "A.8.16"), cis("6.2 auditd")), scope="kernel", change="audit"),
    C("AUD-02", "audit", "Aturan audit (identitas, sudoers, sshd, waktu, login, modul)",
      "Audit rules (identity, sudoers, sshd, time, logins, modules)",
      "Pendeteksian modifikasi atas berkas dan tindakan yang penting bagi keamanan.",
      "Modification detection for security-relevant files and actions.",
      (JAMBI_LOG, TMG_18, TMG_26, iso("A.8.15", "A.8.16"), cis("6.2 audit rules")), scope="kernel", change="audit"),
    C("AUD-03", "audit", "Aturan audit tidak dapat diubah sampai reboot (-e 2)",
      "Audit rules immutable until reboot (-e 2)",
      "Penyusup dengan hak root tidak dapat mematikan audit tanpa reboot yang terlihat.",
      "An intruder with root cannot switch auditing off without a visible reboot.",
      (JAMBI_LOG, TMG_26, iso("A.8.15"), cis("6.2 audit configuration immutable")), profile="strict",
      scope="kernel", change="audit"),
    C("TIME-01", "time", "Waktu disinkronkan chrony ke server NTP Dinas", "Time synchronised by chrony to the Dinas NTP servers",
      "Stempel waktu log hanya berguna sebagai bukti bila jam semua server sama.",
      "Log timestamps are only evidence when every server's clock agrees.",
      (JAMBI_LOG, iso("A.8.17"), cis("2.3 time synchronization")), scope="kernel", change="time"),
    C("IPS-01", "ips", "fail2ban memblokir penyerang sshd", "fail2ban bans sshd attackers",
      "Pencegahan intrusi di host: alamat yang gagal login berulang diblokir sementara.",
      "Host intrusion prevention: addresses that fail to log in repeatedly are banned for a while.",
      (JAMBI_IPS, TMG_19, BSSN, iso("A.8.16", "A.8.7")), change="ips"),
    # --- software ----------------------------------------------------------------------------
    C("PKG-01", "software", "Paket lama/tidak aman dihapus (telnet, rsh, nis, tftp, ...)",
      "Legacy/insecure packages removed (telnet, rsh, nis, tftp, ...)",
      "Klien dan layanan tanpa enkripsi membocorkan kredensial.",
      "Clients and services without encryption leak credentials.",
      (*_OS, iso("A.8.19", "A.8.20"), cis("2.2 insecure clients")), change="software"),
    C("PKG-02", "software", "Pembaruan keamanan otomatis (unattended-upgrades)", "Automatic security updates (unattended-upgrades)",
      "Celah yang sudah ada tambalannya ditutup tanpa menunggu jadwal manual.",
      "Vulnerabilities with a published fix get closed without waiting for a manual run.",
      (*_OS, JAMBI_VULN, iso("A.8.8"), cis("1.2 package updates")), change="software"),
    C("PKG-03", "software", "Status patch: tanpa pembaruan keamanan tertunda, tanpa reboot tertunda",
      "Patch status: no pending security updates, no pending reboot",
      "Auditor menanyakan apakah tambalan sudah terpasang dan aktif.",
      "Auditors ask whether fixes are installed and active.",
      (JAMBI_VULN, TMG_14, iso("A.8.8"), cis("1.2 updates installed")), scope="audit-only",
      note="audit only: patching runs through unattended-upgrades (PKG-02) or a maintenance window"),
    # --- file permissions ---------------------------------------------------------------------
    C("FILE-01", "files", "Izin passwd/shadow/group/gshadow", "passwd/shadow/group/gshadow permissions",
      "Hash password hanya boleh terbaca root dan grup shadow.", "Password hashes are readable only by root and group shadow.",
      (*_OS, TMG_26, iso("A.8.3", "A.5.17"), cis("7.1 system file permissions")), change="files"),
    C("FILE-02", "files", "Izin crontab dan direktori cron", "crontab and cron directory permissions",
      "Pengguna lain tidak boleh membaca atau menyisipkan tugas terjadwal root.",
      "Other users must not read or inject root's scheduled jobs.",
      (*_OS, TMG_26, iso("A.8.3"), cis("2.4 cron permissions")), change="files"),
    C("FILE-03", "files", "Tidak ada berkas world-writable di luar direktori sementara",
      "No world-writable files outside temporary directories",
      "Berkas yang dapat diubah siapa saja adalah jalan eskalasi hak akses.",
      "Files anyone can modify are a privilege escalation path.",
      (*_OS, TMG_26, iso("A.8.3"), cis("7.1 world writable files")), change="files"),
    C("FILE-05", "files", "Direktori home 0750 atau lebih ketat", "Home directories 0750 or stricter",
      "Berkas pribadi admin (kunci, riwayat perintah) tidak terbaca pengguna lain.",
      "Admins' private files (keys, shell history) are not readable by other users.",
      (*_OS, TMG_26, iso("A.8.3"), cis("7.2 local interactive user home directories")), change="files"),
    C("FILE-04", "files", "Daftar SUID/SGID sesuai daftar yang diizinkan", "SUID/SGID list matches the allow-list",
      "Biner SUID yang tidak perlu memberi jalan menjadi root.", "Unneeded SUID binaries are a way to root.",
      (*_OS, TMG_26, iso("A.8.2", "A.8.18"), cis("7.1 SUID/SGID executables")), change="files"),
)

BY_ID: dict[str, Control] = {c.id: c for c in CONTROLS}
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(c.family for c in CONTROLS))


def control(cid: str) -> Control:
    """The control with ID ``cid``; ``KeyError`` names the unknown ID."""
    try:
        return BY_ID[cid]
    except KeyError:
        raise KeyError(f"unknown control ID {cid!r}") from None


def op_name(cid: str, text: str) -> str:
    """The pyinfra operation name for a change of control ``cid`` (STYLE: ID in every op name)."""
    control(cid)  # fail early on a typo
    return f"{text} | {cid}"
