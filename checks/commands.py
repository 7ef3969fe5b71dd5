"""Running host commands for checks: argument lists only, a deadline, clear failures.

No configuration value ever reaches a shell: commands are lists handed to
``execve``. A missing binary or a timeout raises :class:`CheckFailed`, which the
runner reports as ``UNKNOWN`` with the message::

    out = run_command(["chronyc", "-n", "tracking"], timeout=5)
    if out.returncode != 0: ...
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .errors import CheckFailed

__all__ = ["CommandOutput", "run_command"]


@dataclass(frozen=True)
class CommandOutput:
    """What a finished command printed and how it exited."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def run_command(
    argv: Sequence[str],
    *,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
) -> CommandOutput:
    """Run ``argv`` without a shell and return its output; CheckFailed if it cannot run.

    The environment is the agent's with ``LC_ALL=C`` so tools print the English,
    parseable form; ``env`` adds to it.
    """
    if isinstance(argv, str) or not argv:
        raise TypeError("argv must be a non-empty list of arguments, never a shell string")
    full_env = {**os.environ, "LC_ALL": "C", "LANG": "C", **(env or {})}
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=full_env,
            input=input_text,
            check=False,
        )
    except FileNotFoundError as exc:
        raise CheckFailed(f"command not found: {argv[0]}") from exc
    except PermissionError as exc:
        raise CheckFailed(f"not allowed to run {argv[0]}: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(f"{argv[0]} did not finish within {timeout:g}s") from exc
    return CommandOutput(tuple(argv), done.returncode, done.stdout, done.stderr)
