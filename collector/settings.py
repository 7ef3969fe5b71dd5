"""The collector's settings: one TOML file, the database URL overridable from the environment.

    [collector]
    database_url = "postgresql+psycopg://portacare@db/portacare"
    max_body_bytes = 5242880

    [priorities.disk]              # overrides DESIGN.md's default table
    CRITICAL = 1

    [tickets]
    auto_resolve_ok_results = 2
    auto_resolve_after = "10m"
    reopen_window = "24h"

    [plans.premium]                # support plans over the policy's standard plan
    first_response = { P1 = "30m" }

    [customers.acme]
    plan = "premium"
    hosts = ["*.acme.example"]
    contacts = ["noc@acme.example"]
    calendar = { timezone = "Europe/Kyiv", holidays_country = "UA" }

    [contacts]                     # e-mail addresses or webhook URLs per role
    on_duty = ["support@vendor.example", "https://chat.vendor.example/hooks/noc"]
    technical_support_manager = ["tsm@vendor.example"]

    [smtp]
    host = "mail.vendor.example"
    port = 587
    starttls = true
    username = "portacare"
    password_file = "/etc/portacare/smtp.password"

Environment (taken as a parameter, as starlette's Config does, so tests pass their own):
``PORTACARE_DATABASE_URL`` wins over the file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import timedelta
from fnmatch import fnmatch
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from portacare.sla import (
    DEFAULT_CALENDAR,
    STANDARD_PLAN,
    BusinessCalendar,
    SlaError,
    SupportPlan,
    load_plans,
    parse_duration,
)

from .errors import SettingsError

__all__ = ["Settings", "load_settings", "DEFAULT_DATABASE_URL", "ROLE_CONTACT_KEYS"]

DEFAULT_DATABASE_URL = "sqlite:///portacare.db"
ROLE_CONTACT_KEYS = ("on_duty", "technical_support_manager", "customer_relations_manager", "cto")


def _duration(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except SlaError as exc:
            raise ValueError(exc.reason) from exc
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriorityOverride(_Strict):
    """Priorities (1-4) for one check's WARNING, CRITICAL and UNKNOWN states."""

    WARNING: int | None = Field(None, ge=1, le=4)
    CRITICAL: int | None = Field(None, ge=1, le=4)
    UNKNOWN: int | None = Field(None, ge=1, le=4)


class TicketRules(_Strict):
    """When tickets resolve, reopen and count as flapping; when hosts count as silent."""

    auto_resolve_ok_results: int = Field(2, ge=1, description="consecutive OK results")
    auto_resolve_after: Duration = Field(timedelta(minutes=10), description="and OK for this long")
    reopen_window: Duration = Field(timedelta(hours=24), description="a new failure reopens")
    flap_window: int = Field(21, ge=3, le=100, description="results considered (Nagios: 21)")
    flap_high: float = Field(20.0, gt=0, le=100, description="% state change that starts flapping")
    flap_low: float = Field(5.0, ge=0, le=100, description="% state change that ends flapping")
    silent_intervals: int = Field(3, ge=1, description="missed intervals before a host is silent")
    silent_minimum: Duration = Field(timedelta(minutes=5))


class SmtpSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(25, gt=0, lt=65536)
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password_file: Path | None = None
    sender: str = "portacare@localhost"
    timeout: float = Field(10, gt=0)

    def password(self) -> str | None:
        if self.password_file is None:
            return None
        return self.password_file.read_text(encoding="utf-8").strip()


class CustomerSettings(_Strict):
    plan: str = "standard"
    hosts: list[str] = Field(default_factory=list, description="host name globs")
    contacts: list[str] = Field(default_factory=list, description="e-mail addresses, webhook URLs")
    calendar: dict[str, Any] = Field(default_factory=dict)


class Settings(_Strict):
    """Everything the collector is configured with."""

    database_url: str = DEFAULT_DATABASE_URL
    max_body_bytes: int = Field(5 * 1024 * 1024, gt=0)
    sweep_interval: float = Field(30, gt=0, description="seconds between sweeps inside serve")
    sweep_in_serve: bool = True
    delivery_interval: float = Field(5, gt=0, description="seconds between outbox deliveries")
    retry_base: float = Field(30, gt=0, description="first retry of a failed delivery, seconds")
    retry_cap: float = Field(3600, gt=0)
    retention: Duration = Field(timedelta(days=14), description="raw results kept this long")
    auth_failures_per_minute: int = Field(
        10, ge=1, description="failed authentications from one address before it is slowed down"
    )
    priorities: dict[str, PriorityOverride] = Field(default_factory=dict)
    tickets: TicketRules = Field(default_factory=TicketRules)
    plans: dict[str, dict[str, Any]] = Field(default_factory=dict)
    customers: dict[str, CustomerSettings] = Field(default_factory=dict)
    contacts: dict[str, list[str]] = Field(default_factory=dict)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)

    _plans: dict[str, SupportPlan] = PrivateAttr(default_factory=dict)
    _calendars: dict[str, BusinessCalendar] = PrivateAttr(default_factory=dict)

    @field_validator("contacts")
    @classmethod
    def _known_roles(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(value) - set(ROLE_CONTACT_KEYS))
        if unknown:
            raise ValueError(
                f"unknown role {unknown[0]!r}; expected {', '.join(ROLE_CONTACT_KEYS)}"
            )
        return value

    def model_post_init(self, _context: Any) -> None:
        problems = []
        try:
            self._plans.update(load_plans(self.plans))
        except SlaError as exc:
            problems.append(f"plans.{exc.key}: {exc.reason}" if exc.key else f"plans: {exc}")
        for name, customer in self.customers.items():
            if self._plans and customer.plan not in self._plans:
                problems.append(
                    f"customers.{name}.plan: no plan named {customer.plan!r} "
                    f"(known: {', '.join(sorted(self._plans))})"
                )
            try:
                self._calendars[name] = BusinessCalendar.from_dict(customer.calendar)
            except SlaError as exc:
                where = f"customers.{name}.calendar" + (f".{exc.key}" if exc.key else "")
                problems.append(f"{where}: {exc.reason}")
        if problems:
            raise ValueError("; ".join(problems))

    def customer_of(self, host: str, assigned: str | None) -> str | None:
        """The customer of ``host``: the one its token named, else the first whose globs match."""
        if assigned:
            return assigned
        for name, customer in self.customers.items():
            if any(fnmatch(host, pattern) for pattern in customer.hosts):
                return name
        return None

    def plan_for(self, customer: str | None) -> SupportPlan:
        if customer in self.customers:
            return self._plans.get(self.customers[customer].plan, STANDARD_PLAN)
        return self._plans.get("standard", STANDARD_PLAN)

    def calendar_for(self, customer: str | None) -> BusinessCalendar:
        return self._calendars.get(customer or "", DEFAULT_CALENDAR)

    def contacts_for(self, role: str, customer: str | None = None) -> list[str]:
        """Who hears about ``role``'s notifications; ``customer`` is the customer's own contact."""
        if role == "customer":
            return list(self.customers[customer].contacts) if customer in self.customers else []
        return list(self.contacts.get(role, []))


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
            f"  - {'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
            for e in exc.errors()
        )
        raise SettingsError(f"invalid collector configuration in {source}:\n{problems}") from exc
