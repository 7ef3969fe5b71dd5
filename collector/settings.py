"""The collector's settings: one TOML file, the database URL overridable from the environment.

    [collector]
    database_url = "postgresql+psycopg://portacare@db/portacare"
    max_body_bytes = 5242880

    [priorities.disk]          # overrides DESIGN.md's default table
    WARNING = 2
    CRITICAL = 1

Environment (taken as a parameter, as starlette's Config does, so tests pass their own):
``PORTACARE_DATABASE_URL`` wins over the file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import SettingsError

__all__ = ["Settings", "load_settings", "DEFAULT_DATABASE_URL"]

DEFAULT_DATABASE_URL = "sqlite:///portacare.db"


class PriorityOverride(BaseModel):
    """Priorities (1-4) for one check's WARNING, CRITICAL and UNKNOWN states."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    WARNING: int | None = Field(None, ge=1, le=4)
    CRITICAL: int | None = Field(None, ge=1, le=4)
    UNKNOWN: int | None = Field(None, ge=1, le=4)


class Settings(BaseModel):
    """Everything the collector is configured with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    max_body_bytes: int = Field(5 * 1024 * 1024, gt=0)
    sweep_interval: float = Field(30, gt=0, description="seconds between sweeps inside serve")
    sweep_in_serve: bool = True
    priorities: dict[str, PriorityOverride] = Field(default_factory=dict)


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (if any), apply the environment, validate; SettingsError lists all."""
    environ = environ or {}
    raw: dict[str, Any] = {}
    source = str(path) if path else "defaults"
    if path is not None:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"{path}: file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: not valid TOML: {exc}") from exc
        raw = dict(document.pop("collector", {}))
        raw.update(document)
    if environ.get("PORTACARE_DATABASE_URL"):
        raw["database_url"] = environ["PORTACARE_DATABASE_URL"]
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = "\n".join(
            f"  - {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise SettingsError(f"invalid collector configuration in {source}:\n{problems}") from exc
