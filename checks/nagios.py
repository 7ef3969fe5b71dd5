"""nagios: any Nagios-compatible plugin as a check.

The plugin runs as an argument list (never through a shell); its exit code is
the status (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; anything else is UNKNOWN
with the reason), its first line up to ``|`` the summary, its performance data
the metrics (label -> value; units and thresholds in details) and further lines
the long output. One table per plugin; ``type`` is read by the agent::

    [checks.load]
    type = "nagios"
    command = ["/usr/lib/nagios/plugins/check_load", "-w", "5,4,3", "-c", "10,8,6"]
    command_timeout = 20

A plugin that cannot run (not found, not executable, over its timeout) is
UNKNOWN with the reason.
"""

from __future__ import annotations

from typing import Annotated, Any

from .base import Check, CheckOptions
from .commands import run_command
from .errors import CheckFailed
from .options import Meta, field
from .perfdata import PluginOutput, parse_output
from .result import CheckResult, Status

__all__ = ["NagiosCheck", "NagiosOptions", "plugin_result"]

_MAX_LONG_LINES = 200  # a chatty plugin must not fill the spool
_MAX_SUMMARY = 1024


class NagiosOptions(CheckOptions):
    """Options of the nagios plugin adapter."""

    command: Annotated[
        list[str],
        Meta(min_length=1, description="the plugin and its arguments, as a list (no shell)"),
    ]
    command_timeout: Annotated[
        float, Meta(gt=0, description="seconds the plugin may run before it is UNKNOWN")
    ] = 30
    env: Annotated[
        dict[str, str], Meta(description="extra environment variables for the plugin")
    ] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.command or not self.command[0]:
            raise ValueError("command[0] must name the plugin")
        if self.timeout is not None and self.command_timeout >= self.timeout:
            # Otherwise the runner gives up first and the plugin's own reason is lost.
            raise ValueError(
                f"command_timeout ({self.command_timeout:g}) must be shorter than "
                f"timeout ({self.timeout:g})"
            )


def plugin_result(returncode: int, stdout: str, stderr: str) -> CheckResult:
    """The result a plugin's exit code and output stand for."""
    output = parse_output(stdout)
    summary = output.summary
    if not summary:
        first_err = next((line.strip() for line in stderr.splitlines() if line.strip()), "")
        summary = f"no output; stderr: {first_err}" if first_err else "plugin printed nothing"
    if returncode in (0, 1, 2, 3):
        status = Status(returncode)
    else:
        status = Status.UNKNOWN
        reason = (
            f"killed by signal {-returncode}"
            if returncode < 0
            else f"exited {returncode}, not a Nagios status (0-3)"
        )
        summary = f"plugin {reason}: {summary}"
    if len(summary) > _MAX_SUMMARY:
        summary = summary[: _MAX_SUMMARY - 1] + "…"
    details = _details(output, returncode, stderr)
    metrics = {d.label: d.value for d in output.perfdata if d.value is not None}
    return CheckResult(status, summary, metrics, details)


def _details(output: PluginOutput, returncode: int, stderr: str) -> dict[str, Any]:
    details: dict[str, Any] = {
        "exit_code": returncode,
        "perfdata": {d.label: d.as_dict() for d in output.perfdata},
    }
    if output.long_output:
        details["long_output"] = list(output.long_output[:_MAX_LONG_LINES])
    if output.perfdata_errors:
        details["perfdata_errors"] = list(output.perfdata_errors)
    if stderr.strip():
        details["stderr"] = stderr.strip()[:4000]
    return details


class NagiosCheck(Check[NagiosOptions]):
    """Runs one Nagios-compatible plugin and reports what it says."""

    options_model = NagiosOptions
    description = "a Nagios-compatible plugin (exit code, output, perfdata)"

    def run(self) -> CheckResult:
        argv = self.options.command
        try:
            out = run_command(argv, timeout=self.options.command_timeout, env=self.options.env)
        except OSError as exc:  # e.g. exec format error: a file that is no program
            raise CheckFailed(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
        return plugin_result(out.returncode, out.stdout, out.stderr)
