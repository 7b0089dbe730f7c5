"""netmiko's stock ``cisco_ios`` driver shows and configures every lab router (FRR vtysh)."""

from __future__ import annotations

import time

import pytest
from labkit import LabEnv
from netmiko import ConnectHandler
from netmiko.exceptions import ConfigInvalidException

pytestmark = pytest.mark.lab

ERROR = r"% Unknown command|% Command incomplete|% Invalid"


def _connect(lab_env: LabEnv, name: str) -> ConnectHandler:
    dev = lab_env.inv.devices[name]
    return ConnectHandler(
        device_type="cisco_ios", host=str(dev.mgmt_ip), username=dev.username,
        password=lab_env.secret("router-password"), ssh_config_file=None,
        system_host_keys=False, alt_host_keys=True, alt_key_file=str(lab_env.st.known_hosts),
        use_keys=False, allow_agent=False, conn_timeout=10)


def test_netmiko_shows_and_configures_every_router(lab_env: LabEnv) -> None:
    tag = f"simpul-lab-test-{int(time.time())}"
    for name in lab_env.topo.routers:
        conn = _connect(lab_env, name)
        try:
            assert conn.find_prompt().rstrip("#>") == name
            assert "Full" in conn.send_command("show ip ospf neighbor")
            conn.send_config_set(["interface lo", f" description {tag}"], error_pattern=ERROR)
            assert f"description {tag}" in conn.send_command("show running-config")
            conn.send_config_set(["interface lo", " no description"], error_pattern=ERROR)
            assert tag not in conn.send_command("show running-config")
        finally:
            conn.disconnect()


def test_bad_config_is_reported_not_swallowed(lab_env: LabEnv) -> None:
    conn = _connect(lab_env, "opd-dinkes")
    try:
        with pytest.raises(ConfigInvalidException):
            conn.send_config_set(["interface lo", " frobnicate the router"], error_pattern=ERROR)
        conn.exit_config_mode()  # FRR stays in config mode after an error
        assert conn.find_prompt() == "opd-dinkes#"
    finally:
        conn.disconnect()


def test_write_memory_persists_under_the_lab_state_dir(lab_env: LabEnv) -> None:
    conn = _connect(lab_env, "opd-bappeda")
    try:
        conn.send_config_set(["interface lo", " description saved-by-netmiko"], error_pattern=ERROR)
        out = conn.save_config()
        assert "[OK]" in out
        saved = (lab_env.st.router_dir("opd-bappeda") / "frr" / "frr.conf").read_text()
        assert "description saved-by-netmiko" in saved
        conn.send_config_set(["interface lo", " no description"], error_pattern=ERROR)
        conn.save_config()
    finally:
        conn.disconnect()


def test_ssh_by_name_with_the_deploy_key_lands_in_the_router_cli(lab_env: LabEnv) -> None:
    cp = lab_env.ssh("core-1", "show version")
    assert cp.returncode == 0, cp.stderr
    assert "FRRouting" in cp.stdout and "(core-1)" in cp.stdout
