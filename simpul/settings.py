"""Tool settings (TOML), separate from the inventory (YAML).

Looked up in this order: ``--config FILE``, ``$SIMPUL_CONFIG``, ``./simpul.toml``. Every key is
optional; an unknown key is an error. Environment overrides: ``SIMPUL_INVENTORY``,
``SIMPUL_STATE_DIR``.

Example ``simpul.toml``::

    inventory = "inventory/contoh-kabupaten"
    state_dir = "/var/lib/simpul"

    [monitoring]
    sinks = ["influx-v1+http://127.0.0.1:8086?db=simpul"]
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simpul.errors import ConfigError


def default_state_dir() -> Path:
    if os.environ.get("SIMPUL_STATE_DIR"):
        return Path(os.environ["SIMPUL_STATE_DIR"])
    if os.geteuid() == 0:
        return Path("/var/lib/simpul")
    return Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local/state")) / "simpul"


class MonitoringSettings(BaseModel):
    """``[monitoring]``: where ``simpul poll`` delivers points (sink URLs, see docs/monitoring.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sinks: list[str] = Field(default_factory=list, description="e.g. influx-v1+http://127.0.0.1:8086?db=simpul")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    inventory: Path = Field(default=Path("inventory/lab"), description="inventory directory")
    state_dir: Path = Field(default_factory=default_state_dir)
    oplog_path: Path | None = None
    oplog_witness: Path | None = Field(
        default=None, description="second copy of the oplog head, outside the state directory "
        "(default: beside it, e.g. /var/lib/.simpul-oplog.jsonl.witness)")
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    source: Path | None = Field(default=None, exclude=True)

    @property
    def oplog(self) -> Path:
        return self.oplog_path or self.state_dir / "oplog.jsonl"


def load_settings(path: Path | None = None) -> Settings:
    """Load settings; raise :class:`ConfigError` naming the file and key on any problem."""
    candidates = [path] if path else []
    if not path and os.environ.get("SIMPUL_CONFIG"):
        candidates.append(Path(os.environ["SIMPUL_CONFIG"]))
    if not candidates and Path("simpul.toml").exists():
        candidates.append(Path("simpul.toml"))
    data: dict[str, object] = {}
    src = None
    for c in candidates:
        try:
            data = tomllib.loads(c.read_text())
        except FileNotFoundError as e:
            raise ConfigError(f"{c}: settings file not found") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{c}: invalid TOML: {e}") from e
        except UnicodeDecodeError as e:
            raise ConfigError(f"{c}: not UTF-8 text (byte {e.start})") from e
        except OSError as e:  # a directory, no permission, ...
            raise ConfigError(f"{c}: cannot read the settings file ({e.strerror})") from e
        src = c
        break
    if os.environ.get("SIMPUL_INVENTORY"):
        data["inventory"] = os.environ["SIMPUL_INVENTORY"]
    if os.environ.get("SIMPUL_STATE_DIR"):
        data["state_dir"] = os.environ["SIMPUL_STATE_DIR"]
    try:
        return Settings.model_validate({**data, "source": src})
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{src or 'settings'}: {key}: {first['msg']}") from e
