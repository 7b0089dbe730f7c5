"""The SNMP engine behind a small Protocol, so it can be swapped and benchmarked.

Two engines implement :class:`SnmpEngine`:

- :class:`GufoEngine` — gufo-snmp (Rust core): ~0.5 ms CPU per device-poll, v1/v2c/v3 with
  SHA*/MD5 and AES*/DES. The default: it is what makes a 1,000-device cycle fit in a minute on
  one core (LAB-FACTS "pysnmp 7 performance").
- :class:`PysnmpEngine` — pysnmp 7 (asyncio hlapi), ~10× the CPU. Kept as the alternate engine
  and cross-check (same Protocol, same results), e.g. where gufo lacks something.

A session exposes two operations: ``get`` (one GET with many varbinds) and ``walk`` (GETBULK one
column until it leaves the subtree). Retries and timeouts are applied per request here; vendor
exceptions are translated into :class:`SnmpTimeout` / :class:`SnmpAuthFailure` /
:class:`SnmpRequestError` at this edge, carrying the device name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from pydantic import SecretStr

log = logging.getLogger(__name__)

Value = int | float | str | bytes | None
VarBinds = list[tuple[str, Value]]
T = TypeVar("T")


@dataclass(frozen=True)
class SnmpTarget:
    """One agent to poll, credentials resolved. ``repr`` never shows a secret."""

    name: str
    address: str
    port: int = 161
    version: Literal["2c", "3"] = "2c"
    community: SecretStr | None = None
    user: str | None = None
    auth_protocol: str = "SHA"
    auth_key: SecretStr | None = None
    priv_protocol: str = "AES"
    priv_key: SecretStr | None = None
    timeout: float = 2.0
    retries: int = 1
    tags: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    platform: str = "frr"


class SnmpError(Exception):
    """A failed SNMP exchange with one device."""

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"{target}: {reason}")
        self.target = target
        self.reason = reason


class SnmpTimeout(SnmpError):
    pass


class SnmpAuthFailure(SnmpError):
    pass


class SnmpRequestError(SnmpError):
    pass


class SnmpSession(Protocol):
    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        """GET many OIDs in one request; OIDs the agent does not have are absent."""
        ...

    async def walk(self, oid: str, max_repetitions: int) -> VarBinds:
        """GETBULK the subtree under ``oid`` (lexicographic order, stops at its end)."""
        ...


class SnmpEngine(Protocol):
    name: str

    def session(self, target: SnmpTarget) -> AbstractAsyncContextManager[SnmpSession]: ...

    async def close(self) -> None: ...


async def _with_retries(
    target: SnmpTarget, what: str, op: Callable[[], Awaitable[T]], timeout: float | None = None
) -> T:
    """Run ``op`` with the target's timeout, retrying timeouts ``target.retries`` times."""
    attempts = target.retries + 1
    limit = timeout or target.timeout
    for attempt in range(1, attempts + 1):
        try:
            return await asyncio.wait_for(op(), limit)
        except TimeoutError:
            if attempt == attempts:
                raise SnmpTimeout(
                    target.name, f"no answer to {what} after {attempts} attempt(s) of {limit:g}s"
                ) from None
            log.debug("%s: %s timed out, retry %d/%d", target.name, what, attempt, target.retries)
    raise AssertionError("unreachable")  # pragma: no cover


# --- gufo-snmp ---------------------------------------------------------------------------------


def _gufo_user(target: SnmpTarget) -> Any:
    from gufo.snmp import (
        Aes128Key,
        Aes192Key,
        Aes256Key,
        DesKey,
        Md5Key,
        Sha1Key,
        Sha224Key,
        Sha256Key,
        Sha384Key,
        Sha512Key,
        User,
    )

    auth = {
        "MD5": Md5Key,
        "SHA": Sha1Key,
        "SHA224": Sha224Key,
        "SHA256": Sha256Key,
        "SHA384": Sha384Key,
        "SHA512": Sha512Key,
    }[target.auth_protocol.upper()]
    priv = {"AES": Aes128Key, "AES192": Aes192Key, "AES256": Aes256Key, "DES": DesKey}[
        target.priv_protocol.upper()
    ]
    if not (target.user and target.auth_key and target.priv_key):
        raise SnmpRequestError(target.name, "SNMPv3 needs user, auth_key and priv_key")
    return User(
        target.user,
        auth_key=auth(target.auth_key.get_secret_value().encode()),
        priv_key=priv(target.priv_key.get_secret_value().encode()),
    )


class _GufoSession:
    def __init__(self, target: SnmpTarget, session: Any) -> None:
        self.t = target
        self.s = session

    def _translate(self, e: BaseException, what: str) -> SnmpError:
        from gufo.snmp import SnmpAuthError
        from gufo.snmp import SnmpError as GufoError

        if isinstance(e, SnmpAuthError):
            return SnmpAuthFailure(self.t.name, "authentication failed (SNMPv3 user/keys)")
        if isinstance(e, GufoError):
            return SnmpRequestError(self.t.name, f"{what}: {e}")
        return SnmpRequestError(self.t.name, f"{what}: {type(e).__name__}: {e}")

    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        try:
            return await _with_retries(self.t, "GET", lambda: self.s.get_many(list(oids)))
        except SnmpError:
            raise
        except Exception as e:  # vendor exceptions are wrapped once, here
            raise self._translate(e, "GET") from e

    async def walk(self, oid: str, max_repetitions: int) -> VarBinds:
        async def run() -> VarBinds:
            return [(o, v) async for o, v in self.s.getbulk(oid, max_repetitions=max_repetitions)]

        try:
            # A walk is a few requests; allow each its timeout.
            return await _with_retries(self.t, f"GETBULK {oid}", run, self.t.timeout * 4)
        except SnmpError:
            raise
        except Exception as e:
            raise self._translate(e, f"GETBULK {oid}") from e


class GufoEngine:
    """gufo-snmp: one UDP socket per open session; SNMPv3 engine IDs cached per target."""

    name = "gufo"

    def __init__(self, recv_buffer: int = 1 << 20) -> None:
        self.recv_buffer = recv_buffer
        self._engine_ids: dict[tuple[str, int], bytes] = {}

    @asynccontextmanager
    async def _session(self, target: SnmpTarget) -> AsyncIterator[SnmpSession]:
        kw: dict[str, Any] = {
            "addr": target.address,
            "port": target.port,
            "timeout": target.timeout,
            "recv_buffer": self.recv_buffer,
        }
        key = (target.address, target.port)
        if target.version == "3":
            kw["user"] = _gufo_user(target)
        else:
            if target.community is None:
                raise SnmpRequestError(target.name, "SNMP v2c needs a community")
            kw["community"] = target.community.get_secret_value()
        cached = self._engine_ids.get(key) if target.version == "3" else None
        try:
            s = await self._open(target, kw, cached)
        except (SnmpTimeout, SnmpRequestError):
            if cached is None:
                raise
            # The agent restarted (new snmpEngineBoots/Time) or changed its engine ID: a cached
            # ID then yields silence. Forget it and discover again, once.
            log.info("%s: SNMPv3 engine changed, rediscovering", target.name)
            self._engine_ids.pop(key, None)
            s = await self._open(target, kw, None)
        if target.version == "3":
            self._engine_ids[key] = s.get_engine_id()
        yield _GufoSession(target, s)

    async def _open(self, target: SnmpTarget, kw: dict[str, Any], engine_id: bytes | None) -> Any:
        from gufo.snmp import SnmpAuthError
        from gufo.snmp.aio import SnmpSession as GSession

        args = dict(kw)
        if engine_id is not None:
            args["engine_id"] = engine_id
        try:
            s = GSession(**args)
        except OSError as e:
            raise SnmpRequestError(target.name, f"cannot open socket: {e}") from e
        if target.version == "3":
            try:
                await _with_retries(target, "SNMPv3 discovery", s.refresh)
            except SnmpAuthError as e:
                raise SnmpAuthFailure(target.name, "authentication failed (SNMPv3)") from e
            except SnmpError:
                raise
            except Exception as e:
                raise SnmpRequestError(target.name, f"SNMPv3 discovery: {e}") from e
        return s

    def session(self, target: SnmpTarget) -> AbstractAsyncContextManager[SnmpSession]:
        return self._session(target)

    async def close(self) -> None:
        return None


# --- pysnmp ------------------------------------------------------------------------------------


def _py_value(v: Any) -> Value:
    """pysnmp value → plain Python (ints for numbers, bytes for octet strings, str for OIDs)."""
    cls = type(v).__name__
    if cls in ("NoSuchObject", "NoSuchInstance", "EndOfMibView", "Null"):
        return None
    if cls == "OctetString" or hasattr(v, "asOctets"):
        return bytes(v.asOctets())
    if cls == "ObjectIdentifier" or cls == "ObjectName":
        return str(v)
    if cls == "IpAddress":
        return ".".join(str(b) for b in v.asNumbers())
    try:
        return int(v)
    except (TypeError, ValueError):
        return str(v)


class _PysnmpSession:
    def __init__(self, engine: PysnmpEngine, target: SnmpTarget, auth: Any, transport: Any):
        self.e = engine
        self.t = target
        self.auth = auth
        self.transport = transport

    def _check(self, what: str, err_ind: Any, err_status: Any) -> None:
        if err_ind:
            text = str(err_ind)
            if "timeout" in text.lower():
                # pysnmp already retried (transport timeout/retries): do not retry again.
                raise SnmpTimeout(self.t.name, f"{what}: {text}")
            if "auth" in text.lower() or "decrypt" in text.lower() or "unknown user" in text.lower():
                raise SnmpAuthFailure(self.t.name, f"{what}: {text}")
            raise SnmpRequestError(self.t.name, f"{what}: {text}")
        if err_status:
            raise SnmpRequestError(self.t.name, f"{what}: {err_status.prettyPrint()}")

    async def _bounded(self, aw: Awaitable[T], what: str, requests: int = 1) -> T:
        limit = self.t.timeout * (self.t.retries + 1) * requests + 1
        try:
            return await asyncio.wait_for(aw, limit)
        except TimeoutError:
            raise SnmpTimeout(self.t.name, f"no answer to {what} within {limit:g}s") from None

    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        from pysnmp.hlapi.v3arch.asyncio import ContextData, ObjectIdentity, ObjectType, get_cmd

        async def run() -> dict[str, Value]:
            ei, es, _idx, vbs = await get_cmd(
                self.e.engine,
                self.auth,
                self.transport,
                ContextData(),
                *[ObjectType(ObjectIdentity(o)) for o in oids],
                lookupMib=False,
            )
            self._check("GET", ei, es)
            out: dict[str, Value] = {}
            for name, val in vbs:
                pv = _py_value(val)
                if pv is not None:
                    out[str(name)] = pv
            return out

        return await self._bounded(run(), "GET")

    async def walk(self, oid: str, max_repetitions: int) -> VarBinds:
        from pysnmp.hlapi.v3arch.asyncio import ContextData, ObjectIdentity, ObjectType, bulk_cmd

        prefix = oid + "."

        async def run() -> VarBinds:
            out: VarBinds = []
            cur = oid
            while True:
                ei, es, _idx, table = await bulk_cmd(
                    self.e.engine,
                    self.auth,
                    self.transport,
                    ContextData(),
                    0,
                    max_repetitions,
                    ObjectType(ObjectIdentity(cur)),
                    lookupMib=False,
                )
                self._check(f"GETBULK {oid}", ei, es)
                if not table:
                    return out
                for name, val in table:
                    n = str(name)
                    pv = _py_value(val)
                    if not n.startswith(prefix) or pv is None:
                        return out
                    out.append((n, pv))
                    cur = n

        return await self._bounded(run(), f"GETBULK {oid}", requests=8)


class PysnmpEngine:
    """pysnmp 7 asyncio hlapi with one shared ``SnmpEngine`` (one per poll costs ~0.5 s)."""

    name = "pysnmp"

    def __init__(self) -> None:
        from pysnmp.hlapi.v3arch.asyncio import SnmpEngine as PyEngine

        self.engine = PyEngine()

    def _auth(self, target: SnmpTarget) -> Any:
        from pysnmp.hlapi.v3arch import asyncio as h

        if target.version == "2c":
            if target.community is None:
                raise SnmpRequestError(target.name, "SNMP v2c needs a community")
            return h.CommunityData(target.community.get_secret_value(), mpModel=1)  # noqa: S508 (v2c is what many desa routers speak)
        auth = {
            "MD5": h.usmHMACMD5AuthProtocol,
            "SHA": h.usmHMACSHAAuthProtocol,
            "SHA224": h.usmHMAC128SHA224AuthProtocol,
            "SHA256": h.usmHMAC192SHA256AuthProtocol,
            "SHA384": h.usmHMAC256SHA384AuthProtocol,
            "SHA512": h.usmHMAC384SHA512AuthProtocol,
        }[target.auth_protocol.upper()]
        priv = {
            "AES": h.usmAesCfb128Protocol,
            "AES192": h.usmAesCfb192Protocol,
            "AES256": h.usmAesCfb256Protocol,
            "DES": h.usmDESPrivProtocol,
        }[target.priv_protocol.upper()]
        if not (target.user and target.auth_key and target.priv_key):
            raise SnmpRequestError(target.name, "SNMPv3 needs user, auth_key and priv_key")
        return h.UsmUserData(
            target.user,
            authKey=target.auth_key.get_secret_value(),
            privKey=target.priv_key.get_secret_value(),
            authProtocol=auth,
            privProtocol=priv,
        )

    @asynccontextmanager
    async def _session(self, target: SnmpTarget) -> AsyncIterator[SnmpSession]:
        from pysnmp.hlapi.v3arch.asyncio import UdpTransportTarget

        transport = await UdpTransportTarget.create(
            (target.address, target.port), timeout=target.timeout, retries=target.retries
        )
        yield _PysnmpSession(self, target, self._auth(target), transport)

    def session(self, target: SnmpTarget) -> AbstractAsyncContextManager[SnmpSession]:
        return self._session(target)

    async def close(self) -> None:
        self.engine.close_dispatcher()


ENGINES: dict[str, Callable[[], SnmpEngine]] = {"gufo": GufoEngine, "pysnmp": PysnmpEngine}


def make_engine(name: str) -> SnmpEngine:
    try:
        return ENGINES[name]()
    except KeyError as e:
        from simpul.errors import UsageError

        raise UsageError(f"unknown SNMP engine '{name}'", hint=f"use one of {sorted(ENGINES)}") from e
