"""Render goldens for every platform; differ and backup on recorded configs.

The Cisco IOS, Huawei VRP and MikroTik RouterOS running configs under net_fixtures/ are
RECORDINGS in the devices' real export formats (the lab cannot run these platforms); FRR's come
from the lab's real routers.
"""

from __future__ import annotations

import mailbox
import subprocess
import time
from pathlib import Path

import pytest

from simpul.errors import ConfigError
from simpul.inventory import load_inventory
from simpul.lab.router_helper import acl_ruleset
from simpul.network.backup import GitRepo, normalise, notify
from simpul.network.differ import diff_config, routeros_lines
from simpul.network.render import TEMPLATES, render, secret_names

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden" / "net"
FIX = Path(__file__).parent / "net_fixtures"
LAB = load_inventory(REPO / "inventory" / "lab")
CONTOH = load_inventory(REPO / "inventory" / "contoh-kabupaten")
CASES = [(LAB, "desa-kemloko"), (LAB, "core-1"), (CONTOH, "core-pd-1"), (CONTOH, "dist-bansari"),
         (CONTOH, "r-kalilor")]


@pytest.mark.parametrize(("inv", "name"), CASES, ids=[n for _, n in CASES])
def test_render_matches_the_golden_file(inv: object, name: str) -> None:
    r = render(inv, name)  # type: ignore[arg-type]
    for fname, text in r.files.items():
        assert text == (GOLDEN / f"{name}.{fname}").read_text(), f"{name}/{fname} (regenerate the golden if intended)"


def test_every_platform_in_the_example_kabupaten_renders_without_secrets() -> None:
    platforms = {d.platform for d in CONTOH.devices.values()}
    assert platforms <= set(TEMPLATES)
    for name in ["core-pd-1", "dist-bansari", "r-kalilor"]:
        text = render(CONTOH, name).main
        assert secret_names(text)  # the login user's password is a placeholder ...
        assert "<secret:router-" in text  # ... named, never its value


def test_frr_acl_golden_is_what_the_device_helper_installs() -> None:
    assert render(LAB, "desa-kemloko").files["mgmt-acl.nft"].split() == acl_ruleset(["169.254.100.0/24"]).split()


def test_bad_ospf_tags_are_config_errors(lab_copy: Path) -> None:
    p = lab_copy / "devices.yaml"
    p.write_text(p.read_text().replace("desa-kemloko: {site: desa-kemloko,",
                                       "desa-kemloko: {site: desa-kemloko, tags: {ospf_hello: '5', ospf_dead: '4'},"))
    with pytest.raises(ConfigError, match=r"ospf_dead \(4\) must be larger than ospf_hello \(5\)"):
        render(load_inventory(lab_copy), "desa-kemloko")


def test_frr_diff_against_the_lab_running_config() -> None:
    running = (FIX / "frr" / "desa-kemloko" / "show_running-config.txt").read_text()
    intended = render(LAB, "desa-kemloko").files["frr.conf"]
    assert diff_config("frr", intended, running).empty  # log file / frr version / ipv6 forwarding ignored
    changed = running.replace(" ip ospf hello-interval 1\n", " ip ospf hello-interval 1\n ip ospf cost 50\n")
    changed = changed.replace("router ospf\n", "ip route 10.199.250.0/24 Null0\nrouter ospf\n")
    d = diff_config("frr", intended, changed)
    assert d.commands == ["interface eth0", "no ip ospf cost 50", "exit", "no ip route 10.199.250.0/24 Null0"]
    assert d.removed == ["interface eth0 / ip ospf cost 50", "ip route 10.199.250.0/24 Null0"]


def test_ios_diff_on_a_recorded_running_config() -> None:
    running = (FIX / "cisco_ios" / "core-pd-1.running.txt").read_text()
    d = diff_config("cisco_ios", render(CONTOH, "core-pd-1").main, running)
    assert "no username teknisi privilege 15 password <secret>" in d.commands  # unknown account removed
    assert "line vty 0 15 / no transport input ssh telnet" in d.removed
    assert " transport input ssh" in d.commands
    # the hashed secret on the device is not a difference; nothing secret is in the diff
    assert not any("username simpul" in c for c in d.commands)
    assert "$9$" not in d.text() and "0822455D0A16" not in d.text()
    # hierarchy-aware: the existing interface only gets its missing lines
    i = d.commands.index("interface Gi0/0/1")
    assert d.commands[i + 1:i + 5] == [" description core-pd-1--core-drc-1 to core-drc-1",
                                       " ip ospf network point-to-point", " ip ospf hello-interval 1",
                                       " ip ospf dead-interval 4"]


def test_vrp_diff_on_a_recorded_running_config() -> None:
    running = (FIX / "huawei" / "dist-bansari.running.txt").read_text()
    d = diff_config("huawei", render(CONTOH, "dist-bansari").main, running)
    assert "interface GE0/0/9 / undo ip address 192.168.99.1 255.255.255.0" in d.removed
    assert "user-interface vty 0 4 / undo protocol inbound all" in d.removed
    assert not any("local-user simpul password" in c for c in d.commands)
    assert "$1c$" not in d.text()


def test_routeros_diff_on_a_recorded_export() -> None:
    running = (FIX / "mikrotik_routeros" / "r-kalilor.export.rsc").read_text()
    d = diff_config("mikrotik_routeros", render(CONTOH, "r-kalilor").main, running)
    assert d.removed == ["/interface bridge add name=bridge-lan",
                         "/ip address add address=192.168.88.1/24 interface=bridge-lan"]
    assert "/ip address remove [find address=192.168.88.1/24]" in d.commands
    assert "/ip service set ssh address=10.250.0.0/24" in d.commands
    assert "rahasia-lama" not in d.text() and not any(c.startswith("/user") for c in d.commands)
    assert ("/system identity", "set name=r-kalilor") in routeros_lines(running)


def test_backup_normalise_hashes_secrets_stably_and_drops_volatile_lines() -> None:
    running = (FIX / "cisco_ios" / "core-pd-1.running.txt").read_text()
    a = normalise(running)
    assert "Last configuration change" not in a and "Building configuration" not in a
    assert "$9$oNguEA9" not in a and "0822455D0A16" not in a
    assert a == normalise(running)
    b = normalise(running.replace("0822455D0A16", "0822455D0A17"))  # a password change ...
    assert a != b  # ... still shows as a change


def test_git_repo_one_commit_per_run_and_notice_to_mbox(tmp_path: Path) -> None:
    g = GitRepo(tmp_path / "repo")
    c1, _ = g.commit({"a.cfg": "x\n", "b.cfg": "y\n"}, "simpul net backup")
    c2, _ = g.commit({"a.cfg": "x\n", "b.cfg": "y\n"}, "simpul net backup")
    c3, ch3 = g.commit({"a.cfg": "x\nz\n", "b.cfg": "y\n"}, "simpul net backup")
    assert c1 and c2 is None and c3 and ch3 == ["a.cfg"]
    assert g.git("log", "-1", "--format=%s").strip() == "simpul net backup: a"
    notify(f"mbox:{tmp_path / 'noc.mbox'}", "[simpul] changed: a", "diff here")
    [msg] = list(mailbox.mbox(str(tmp_path / "noc.mbox")))
    assert msg["Subject"] == "[simpul] changed: a"
    with pytest.raises(ConfigError):
        notify("smtp:nowhere", "s", "b")
    assert subprocess.run(["git", "-C", str(g.path), "status", "--porcelain"], capture_output=True,
                          text=True, check=True).stdout == ""


def test_static_routes_from_the_inventory_render_on_every_platform(lab_copy: Path) -> None:
    readme = (REPO / "inventory" / "README.md").read_text()
    import re

    (lab_copy.parent / "ex").mkdir()
    (lab_copy.parent / "ex" / "example.yaml").write_text(re.findall(r"```yaml\n(.*?)```", readme, re.S)[0])
    inv = load_inventory(lab_copy.parent / "ex")
    assert "ip route 10.110.0.64 255.255.255.192 10.251.0.2\n" in render(inv, "core-pd-1").main
    p = lab_copy / "devices.yaml"
    p.write_text(p.read_text().replace("desa-kemloko: {site: desa-kemloko,",
                                       "desa-kemloko: {site: desa-kemloko, static_routes: "
                                       "[{prefix: 10.199.40.0/28, via: 10.199.32.2}],"))
    assert "ip route 10.199.40.0/28 10.199.32.2\n" in render(load_inventory(lab_copy), "desa-kemloko").main


def test_marking_frr_configs_together_equals_marking_each_alone(tmp_path: Path) -> None:
    from simpul.network import differ

    texts = [(GOLDEN / "desa-kemloko.frr.conf").read_text(), (GOLDEN / "core-1.frr.conf").read_text(),
             *(p.read_text() for p in sorted((FIX / "frr").rglob("show_running-config.txt")))]
    differ.clear_parse_cache()
    differ.mark_together(texts)  # one vtysh for all
    assert len(differ._MARKED) == 4  # all four came from the joint run (mark_file hits the cache)
    together = [differ._LocalVtysh().mark_file(_file(tmp_path, i, differ._strip_header(t)))
                for i, t in enumerate(texts)]
    differ.clear_parse_cache()
    alone = [differ._LocalVtysh().mark_file(_file(tmp_path, i, differ._strip_header(t)))
             for i, t in enumerate(texts)]
    assert len(texts) == 4 and together == alone


def _file(d: Path, i: int, text: str) -> str:
    (d / f"{i}.conf").write_text(text)
    return str(d / f"{i}.conf")


def test_routers_asking_at_once_share_a_vtysh_and_a_lone_one_does_not_wait(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``mark_batched`` (group commit): 8 router threads asking while a vtysh runs are served by
    fewer vtysh runs than 8, each text marked exactly as marking it alone gives; one caller
    alone runs at once (one run, no waiting for company)."""
    import threading

    from simpul.network import differ

    base = (GOLDEN / "desa-kemloko.frr.conf").read_text()
    texts = [[base.replace("hostname desa-kemloko", f"hostname r{i}"),
              base.replace("hostname desa-kemloko", f"hostname r{i}").replace("!\nend", f"ip route 10.9.{i}.0/24 Null0\n!\nend")]
             for i in range(8)]
    assert all(t[0] != t[1] for t in texts)
    runs: list[int] = []
    real = differ.mark_together
    started = threading.Event()

    def counted(batch: list[str]) -> None:
        runs.append(len(batch))
        started.set()
        if len(runs) == 1:  # a vtysh that runs until the 7 others have queued up behind it
            deadline = time.monotonic() + 10
            while len(differ._queue) < 7 and time.monotonic() < deadline:
                time.sleep(0.01)
        real(batch)

    monkeypatch.setattr(differ, "mark_together", counted)
    differ.clear_parse_cache()
    first = threading.Thread(target=differ.mark_batched, args=(texts[0],))
    first.start()
    assert started.wait(5)
    rest = [threading.Thread(target=differ.mark_batched, args=(t,)) for t in texts[1:]]
    for t in rest:
        t.start()
    for t in [first, *rest]:
        t.join(30)
    assert runs == [2, 14]  # the first alone at once; the 7 that came meanwhile in one vtysh
    together = {t: differ._MARKED[differ._strip_header(t)] for pair in texts for t in pair}
    differ.clear_parse_cache()
    for i, (t, marked) in enumerate(together.items()):
        assert differ._LocalVtysh().mark_file(_file(tmp_path, i, differ._strip_header(t))) == marked
