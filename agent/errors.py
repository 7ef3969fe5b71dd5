"""Errors of the agent.

AgentError            base of everything raised here
├── ConfigError       the configuration is unusable; lists every bad field
└── TransportError    a push did not reach the collector or was not accepted
    └── Rejected      the collector answered, and refused the batch (4xx)
"""

from __future__ import annotations

__all__ = ["AgentError", "ConfigError", "TransportError", "Rejected"]


class AgentError(Exception):
    """Base of the agent's errors."""


class ConfigError(AgentError):
    """The agent's configuration is unusable.

    ``problems`` holds one line per bad field, each naming it, so an operator
    fixes everything in one edit instead of one field per restart.
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration in {source}:\n{listing}")


class TransportError(AgentError):
    """A push failed in a way worth retrying (network, timeout, 5xx)."""


class Rejected(TransportError):
    """The collector refused a batch with a 4xx status."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(f"collector refused the batch: HTTP {status}: {message}")
