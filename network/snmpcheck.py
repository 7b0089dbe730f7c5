"""Does a router's SNMP agent answer the NOC? (the push's management check beside SSH).

A push must not cost the NOC its monitoring: a management ACL that still admits SSH but drops
SNMP, or an SNMP user the change removed, leaves the router unmonitored without anyone noticing
until the availability report has a hole (Pergub Jambi 12/2022 Pasal 21(1)(b): the NOC manages
and monitors the intranet). :func:`snmp_answers` sends one GET of ``sysUpTime.0`` from this
machine with the inventory's SNMP settings (v3 authPriv or v2c), through gufo-snmp's blocking
client (no event loop; secrets stay in memory, never on a command line).

The monitoring domain has its own SNMP engines for polling; this one question does not justify
importing another domain (docs/architecture.md).
"""

from __future__ import annotations

import logging

from simpul.inventory.models import Inventory
from simpul.netguard import ensure_on_machine
from simpul.secrets_ref import resolve_secret

log = logging.getLogger(__name__)

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"

_AUTH = {"MD5": "Md5Key", "SHA": "Sha1Key", "SHA224": "Sha224Key", "SHA256": "Sha256Key",
         "SHA384": "Sha384Key", "SHA512": "Sha512Key"}
_PRIV = {"AES": "Aes128Key", "AES192": "Aes192Key", "AES256": "Aes256Key", "DES": "DesKey"}


def snmp_answers(inv: Inventory, name: str, *, timeouts: tuple[float, ...] = (1.0, 2.0, 4.0)) -> bool | None:
    """True if router ``name`` answers SNMP from here, False if not, None if the inventory gives
    it no SNMP (nothing to check). Never raises for an unanswered or refused request.

    One try per entry of ``timeouts``, each waiting longer (a router busy applying a change, or a
    lossy radio link, may answer late): an answer costs one round trip; "no answer" — which
    rolls a push back — is said only after 7 s of silence."""
    import gufo.snmp as g
    from gufo.snmp.sync import SnmpSession

    dev = inv.devices[name]
    s = dev.snmp
    if s is None:
        return None
    ensure_on_machine(name, str(dev.mgmt_ip))
    kw: dict[str, object] = {"addr": str(dev.mgmt_ip), "port": s.port}
    if s.version == "3":
        if not (s.user and s.auth_key and s.priv_key):
            return None
        auth = getattr(g, _AUTH[s.auth_protocol.upper()])
        priv = getattr(g, _PRIV[s.priv_protocol.upper()])
        kw["user"] = g.User(s.user,
                            auth_key=auth(resolve_secret(inv, s.auth_key).get_secret_value().encode()),
                            priv_key=priv(resolve_secret(inv, s.priv_key).get_secret_value().encode()))
    elif s.community:
        kw["community"] = resolve_secret(inv, s.community).get_secret_value()
    else:
        return None
    for attempt, timeout in enumerate(timeouts):
        try:
            with SnmpSession(**kw, timeout=timeout) as session:  # type: ignore[arg-type]  # v3: discovery on enter
                session.get(SYS_UPTIME)
            return True
        except (TimeoutError, OSError, g.SnmpError) as e:  # silence, refusal, bad auth: no answer
            log.debug("%s: SNMP try %d: %s", name, attempt + 1, type(e).__name__)
    return False
