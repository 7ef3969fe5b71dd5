"""Nagios plugin output: the summary, long output and performance data, parsed.

Per the Nagios plugin guidelines a plugin prints::

    DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968
    / 15272 MB (77%);                              <- long output
    /boot 68 MB (69%); | /boot=68MB;88;93;0;98     <- more perfdata after a '|'
    'data disk'=1.5GB;;;0;10                       <- every later line is perfdata

and each perfdata item is ``'label'=value[UOM];[warn];[crit];[min];[max]``:
labels with spaces are single-quoted (``''`` is a quote inside one), ``value`` may
be ``U`` (undetermined) and thresholds are ranges (``10``, ``10:``, ``~:5``,
``10:20``, ``@10:20``)::

    >>> data, errors = parse_perfdata("'load 1'=0.5;5;10;0 time=12ms")
    >>> data[0].label, data[1].value, data[1].uom
    ('load 1', 12.0, 'ms')
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["PerfDatum", "PluginOutput", "Range", "parse_output", "parse_perfdata", "parse_range"]

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_VALUE = re.compile(rf"^(?P<value>{_NUMBER}|U)(?P<uom>[^;\d\s][^;]*)?$")
_ITEM = re.compile(r"\s*(?P<label>'(?:[^']|'')+'|[^\s'=]+)=(?P<data>\S*)")
_RANGE = re.compile(rf"^(?P<inside>@)?(?:(?P<start>~|{_NUMBER})?:)?(?P<end>{_NUMBER})?$")

#: Units the guidelines define; others are kept as printed.
KNOWN_UOMS = ("s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c")


@dataclass(frozen=True)
class Range:
    """A threshold range: alert when the value is outside ``start..end`` (inside with ``@``)."""

    text: str
    start: float  # -inf for ``~``
    end: float  # inf when open
    alert_inside: bool = False

    def alerts(self, value: float) -> bool:
        """True when ``value`` breaches this threshold."""
        inside = self.start <= value <= self.end
        return inside if self.alert_inside else not inside

    def as_dict(self) -> dict[str, object]:
        return {
            "range": self.text,
            "start": None if math.isinf(self.start) else self.start,
            "end": None if math.isinf(self.end) else self.end,
            "alert_inside": self.alert_inside,
        }


def parse_range(text: str) -> Range:
    """Parse a Nagios threshold range; ValueError names a malformed one.

    ``10`` is ``0:10``; ``10:`` is 10 to infinity; ``~:5`` is minus infinity to 5;
    ``@10:20`` alerts inside 10..20.
    """
    match = _RANGE.match(text.strip())
    if not match or not (match["start"] or match["end"]):
        raise ValueError(f"malformed range {text!r}")
    if ":" not in text or match["start"] in (None, ""):  # a bare number N is 0:N
        start = 0.0
    elif match["start"] == "~":
        start = -math.inf
    else:
        start = float(match["start"])
    end = float(match["end"]) if match["end"] else math.inf
    if start > end:
        raise ValueError(f"range {text!r} starts after it ends")
    return Range(text.strip(), start, end, bool(match["inside"]))


@dataclass(frozen=True)
class PerfDatum:
    """One performance datum; ``value`` is None when the plugin printed ``U``."""

    label: str
    value: float | None
    uom: str = ""
    warn: Range | None = None
    crit: Range | None = None
    min: float | None = None
    max: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "value": self.value,
            "uom": self.uom,
            "warn": self.warn.as_dict() if self.warn else None,
            "crit": self.crit.as_dict() if self.crit else None,
            "min": self.min,
            "max": self.max,
        }


def _label(raw: str) -> str:
    if len(raw) >= 2 and raw.startswith("'") and raw.endswith("'"):
        return raw[1:-1].replace("''", "'")
    return raw


def _datum(label: str, data: str) -> PerfDatum:
    fields = data.split(";")
    match = _VALUE.match(fields[0])
    if not match:
        raise ValueError(f"{label!r}: value {fields[0]!r} is not a number")
    value = None if match["value"] == "U" else float(match["value"])
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{label!r}: value {fields[0]!r} is not finite")
    extra = [f.strip() for f in fields[1:5]] + [""] * (4 - len(fields[1:5]))
    warn, crit, low, high = extra
    try:
        return PerfDatum(
            label=label,
            value=value,
            uom=match["uom"] or "",
            warn=parse_range(warn) if warn else None,
            crit=parse_range(crit) if crit else None,
            min=float(low) if low else None,
            max=float(high) if high else None,
        )
    except ValueError as exc:
        raise ValueError(f"{label!r}: {exc}") from None


def parse_perfdata(text: str) -> tuple[list[PerfDatum], list[str]]:
    """Every datum in ``text``, and a message for each item that could not be parsed."""
    data: list[PerfDatum] = []
    errors: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _ITEM.match(text, pos)
        if not match:
            junk = text[pos:].split(None, 1)[0]
            errors.append(f"cannot parse perfdata near {junk!r}")
            pos = text.find(junk, pos) + len(junk)
            continue
        pos = match.end()
        label = _label(match["label"])
        try:
            data.append(_datum(label, match["data"]))
        except ValueError as exc:
            errors.append(str(exc))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return data, errors


@dataclass(frozen=True)
class PluginOutput:
    """A plugin's standard output, split as the guidelines say."""

    summary: str
    long_output: tuple[str, ...]
    perfdata: tuple[PerfDatum, ...]
    perfdata_errors: tuple[str, ...]


def parse_output(stdout: str) -> PluginOutput:
    """Split plugin output into summary, long output and parsed perfdata."""
    lines = stdout.rstrip("\n").split("\n") if stdout.strip() else [""]
    first, _, perf_text = lines[0].partition("|")
    perf_parts = [perf_text]
    long_output: list[str] = []
    in_perf = False
    for line in lines[1:]:
        if in_perf:
            perf_parts.append(line)
            continue
        text, bar, perf = line.partition("|")
        if text.strip():
            long_output.append(text.rstrip())
        if bar:
            perf_parts.append(perf)
            in_perf = True
    data: list[PerfDatum] = []
    errors: list[str] = []
    for part in perf_parts:
        found, bad = parse_perfdata(part)
        data.extend(found)
        errors.extend(bad)
    return PluginOutput(first.strip(), tuple(long_output), tuple(data), tuple(errors))
