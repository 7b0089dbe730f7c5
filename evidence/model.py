"""The requirement map (data) and what a producer returns (pure).

The map lives in ``evidence/requirements.yaml``: each requirement of the regulations with its
basis (articles), related SPBE/BSSN items, and the producers that evidence it per kind —
*design*, *implementation*, *effectiveness* — plus any gap Simpul cannot close, stated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simpul.errors import ConfigError

Kind = Literal["design", "implementation", "effectiveness"]
KINDS: tuple[Kind, ...] = ("design", "implementation", "effectiveness")


class Text(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=3)
    en: str = Field(min_length=3)

    def __call__(self, lang: str) -> str:
        return self.id if lang == "id" else self.en


class Requirement(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Z]{2,4}-\d{2}$")
    area: str
    title: Text
    basis: list[str] = Field(min_length=1)
    related: list[str] = []
    evidence: dict[Kind, list[str]] = {}
    requires: list[Kind] = Field(default_factory=lambda: list(KINDS),
                                 description="kinds of evidence the requirement needs to be met")
    gaps: list[Text] = []

    def producers(self) -> list[str]:
        return [p for k in KINDS for p in self.evidence.get(k, [])]


class RequirementMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    requirements: list[Requirement]

    def producers(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.requirements:
            for p in r.producers():
                seen.setdefault(p)
        return list(seen)


def load_map(text: str | None = None) -> RequirementMap:
    """The built-in map (or ``text``); raises ConfigError naming the problem."""
    if text is None:
        text = (resources.files("simpul.evidence") / "requirements.yaml").read_text()
    try:
        data = yaml.safe_load(text)
        m = RequirementMap.model_validate(data)
    except (yaml.YAMLError, ValidationError) as e:
        raise ConfigError(f"evidence requirement map: {e}") from e
    ids = [r.id for r in m.requirements]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ConfigError(f"evidence requirement map: duplicate ids {', '.join(dup)}")
    return m


# --- what producers return ---------------------------------------------------------------------

Status = Literal["ok", "partial", "gap", "failed"]


@dataclass
class Artefact:
    """One file of the pack (path relative to the pack root) and what it is."""

    path: str
    title: Text

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "title": self.title.model_dump()}


@dataclass
class Evidence:
    """What one producer collected: artefacts, a one-line summary, or the gap and why.

    ``ok``: evidence collected; ``partial``: collected, but something is missing (e.g. a host
    was unreachable — named in ``summary``); ``gap``: nothing to show for the period, with the
    reason; ``failed``: the producer itself failed (the reason says why).
    """

    producer: str
    status: Status
    summary: Text
    artefacts: list[Artefact] = field(default_factory=list)
    verified_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        return {"producer": self.producer, "status": self.status,
                "summary": self.summary.model_dump(), "verified_at": self.verified_at,
                "artefacts": [a.to_dict() for a in self.artefacts]}


def t(id_: str, en: str) -> Text:
    return Text(id=id_, en=en)


@dataclass(frozen=True)
class Period:
    """A reporting period: a year (``2026``) or a month (``2026-10``), in WIB dates."""

    label: str
    start: date
    end: date  # exclusive

    @staticmethod
    def parse(text: str) -> Period:
        from simpul.errors import UsageError

        try:
            if len(text) == 4 and text.isdigit():
                y = int(text)
                return Period(text, date(y, 1, 1), date(y + 1, 1, 1))
            y_s, _, m_s = text.partition("-")
            y, mo = int(y_s), int(m_s)
            start = date(y, mo, 1)
            end = date(y + (mo == 12), mo % 12 + 1, 1)
            return Period(text, start, end)
        except ValueError:
            raise UsageError(f"--period {text}: give a year (2026) or a month (2026-10)") from None

    def months(self, until: date | None = None) -> list[str]:
        """``YYYY-MM`` of every month of the period that has begun by ``until``."""
        out = []
        d = self.start
        limit = until or date.max
        while d < self.end and d <= limit:
            out.append(f"{d.year:04d}-{d.month:02d}")
            d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        return out
