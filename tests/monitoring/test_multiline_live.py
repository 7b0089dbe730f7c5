"""A multi-line SNMP string over the wire stays text (issue 9 #15), with both engines.

net-snmp's snmpd serves the text of a Cisco IOS sysDescr (four lines, CR LF) through
``extend`` (NET-SNMP-EXTEND-MIB::nsExtendOutputFull); the poller must store it as that text, not
as hex. (The project has no Cisco device; this is the same bytes on the same wire.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import SecretStr
from support.localdaemons import SnmpdProcess

from simpul.monitoring.devicepoll import poll_device, to_lines
from simpul.monitoring.engine import GufoEngine, PysnmpEngine, SnmpTarget
from simpul.monitoring.profiles import Column, PollPlan

pytestmark = pytest.mark.slow

CISCO_SYSDESCR = (
    "Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M), Version 12.2(55)SE7, RELEASE SOFTWARE (fc1)\r\n"
    "Technical Support: http://www.cisco.com/techsupport\r\n"
    "Copyright (c) 1986-2013 by Cisco Systems, Inc.\r\n"
    "Compiled Mon 28-Jan-13 10:28 by prod_rel_team")
EXTEND_OID = "1.3.6.1.4.1.8072.1.3.2.3.1.2.8." + ".".join(str(ord(c)) for c in "sysdescr")


@pytest.mark.parametrize("engine_cls", [GufoEngine, PysnmpEngine])
def test_a_multi_line_string_from_a_real_agent_stays_text(tmp_path: Path, engine_cls: type) -> None:
    text_file = tmp_path / "sysdescr.txt"
    text_file.write_bytes(CISCO_SYSDESCR.encode())
    plan = PollPlan("t", (("snmp", Column(name="sysDescr", oid=EXTEND_OID, type="string")),), ())
    with SnmpdProcess(tmp_path / "snmpd", addresses=["127.0.0.62"], port=19862,
                      extra_config=f"extend sysdescr /bin/cat {text_file}") as agent:

        async def run() -> object:
            eng = engine_cls()
            try:
                t = SnmpTarget("c2960", "127.0.0.62", port=19862, version="2c",
                               community=SecretStr(agent.community))
                return await poll_device(eng, t, plan)
            finally:
                await eng.close()

        p = asyncio.run(run())
    assert p.ok, p.error  # type: ignore[attr-defined]
    assert p.scalars["snmp"]["sysDescr"] == CISCO_SYSDESCR  # type: ignore[attr-defined]
    lines = to_lines(p, plan, {"device": "c2960"}, 1)  # type: ignore[arg-type]
    assert all("\n" not in ln for ln in lines)
