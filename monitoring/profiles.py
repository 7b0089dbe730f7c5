"""OID profiles: what to poll, declared as YAML data (numeric OIDs, human names).

A profile has optional ``scalars`` (single values, one point per device) and ``tables`` (walked
column by column with GETBULK, one point per row). A column may declare a ``fallback``: when the
agent returns nothing for the primary column (an ifTable-only agent without the 64-bit ifXTable
counters), the fallback column is walked instead and stored under its own name, as Telegraf does.

Platforms map to a list of profiles in ``profiles/platforms.yaml``; :func:`profiles_for` resolves
them and :func:`merge` combines them into the :class:`PollPlan` the poller runs.

Example::

    plan = plan_for_platform("mikrotik_routeros")
    [t.measurement for t in plan.tables]   # ['interface', 'hrProcessorTable', ...]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from simpul.errors import ConfigError

PROFILE_DIR = Path(__file__).parent / "profiles"
_OID = re.compile(r"^1(\.\d+)+$")

ValueKind = Literal["counter32", "counter64", "gauge", "integer", "timeticks", "string"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_oid(v: str) -> str:
    v = v.strip().lstrip(".")
    if not _OID.match(v):
        raise ValueError(f"'{v}' is not a numeric OID (e.g. 1.3.6.1.2.1.1.3.0)")
    return v


class Fallback(_Strict):
    name: str
    oid: str
    type: ValueKind = "string"
    speed: Literal["bps", "mbps"] | None = None

    _oid = field_validator("oid")(_check_oid)


class Column(_Strict):
    """One value: a scalar (OID ends in .0) or a table column (OID of the column)."""

    name: str
    oid: str
    type: ValueKind = "string"
    rate: str | None = Field(default=None, description="name of the derived per-second rate")
    scale: float = Field(default=1.0, description="multiply the rate (8 turns octets into bits)")
    speed: Literal["bps", "mbps"] | None = Field(
        default=None, description="this column is the interface speed in this unit"
    )
    fallback: Fallback | None = None

    _oid = field_validator("oid")(_check_oid)

    @property
    def is_counter(self) -> bool:
        return self.type in ("counter32", "counter64")


class Scalars(_Strict):
    measurement: str
    fields: list[Column]


class Table(_Strict):
    name: str
    measurement: str
    index_tag: str
    tags: list[Column] = []
    fields: list[Column] = []

    @property
    def columns(self) -> list[Column]:
        return [*self.tags, *self.fields]


class Profile(_Strict):
    name: str
    description: str = ""
    scalars: Scalars | None = None
    tables: list[Table] = []

    def scalar_columns(self) -> list[tuple[str, Column]]:
        """``(measurement, column)`` for every scalar."""
        return [(self.scalars.measurement, c) for c in self.scalars.fields] if self.scalars else []

    def oids(self) -> list[str]:
        """Every OID the profile can request (for snmp_exporter configs and docs)."""
        out = [c.oid for _, c in self.scalar_columns()]
        for t in self.tables:
            out += [c.oid for c in t.columns]
        return out


@cache
def load_profile(name: str, directory: Path = PROFILE_DIR) -> Profile:
    """Load ``<directory>/<name>.yaml``; raise :class:`ConfigError` naming the file and key."""
    path = directory / f"{name}.yaml"
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: OID profile '{name}' does not exist") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from e
    try:
        return Profile.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {key}: {first['msg']}") from e


@cache
def platform_map(directory: Path = PROFILE_DIR) -> dict[str, tuple[str, ...]]:
    path = directory / "platforms.yaml"
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of platform → [profiles]")
    return {str(k): tuple(v) for k, v in data.items()}


@dataclass(frozen=True)
class PollPlan:
    """What the poller asks one device: scalars (measurement, column) and tables."""

    name: str
    scalars: tuple[tuple[str, Column], ...]
    tables: tuple[Table, ...]

    def oids(self) -> list[str]:
        out = [c.oid for _, c in self.scalars]
        for t in self.tables:
            for c in t.columns:
                out.append(c.oid)
                if c.fallback:
                    out.append(c.fallback.oid)
        return out


def merge(name: str, profiles: list[Profile]) -> PollPlan:
    """Combine profiles into one plan; a scalar or table named twice is taken once."""
    scalars: list[tuple[str, Column]] = []
    tables: list[Table] = []
    seen: set[tuple[str, str]] = set()
    seen_tables: set[str] = set()
    for p in profiles:
        for m, c in p.scalar_columns():
            if (m, c.name) not in seen:
                seen.add((m, c.name))
                scalars.append((m, c))
        for t in p.tables:
            if t.name not in seen_tables:
                seen_tables.add(t.name)
                tables.append(t)
    return PollPlan(name=name, scalars=tuple(scalars), tables=tuple(tables))


def profiles_for(key: str, directory: Path = PROFILE_DIR) -> list[Profile]:
    pm = platform_map(directory)
    if key not in pm:
        raise ConfigError(
            f"no OID profile set for platform '{key}'",
            hint=f"known: {', '.join(sorted(pm))} (monitoring/profiles/platforms.yaml)",
        )
    return [load_profile(n, directory) for n in pm[key]]


@cache
def plan_for_platform(key: str, directory: Path = PROFILE_DIR) -> PollPlan:
    """The merged profile the poller runs for an inventory platform (or ``server``)."""
    return merge(key, profiles_for(key, directory))
