"""Figures, and how they are written: JSON for tools, a Markdown table for people."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Figure", "Report"]


@dataclass
class Figure:
    """One measured number with its baselines, the ratios to them and its target."""

    bench: str
    name: str
    measured: float | None
    unit: str
    baselines: dict[str, float | None] = field(default_factory=dict)
    target: str = ""
    met: bool | None = None
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def ratios(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for label, value in self.baselines.items():
            ok = self.measured is not None and value not in (None, 0)
            out[label] = round(self.measured / value, 2) if ok else None  # type: ignore[operator]
        return out


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("results/s", "rows", "requests/s"):
        return f"{value:,.0f} {unit}"
    if unit == "ms":
        return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"
    if unit == "MB":
        return f"{value:,.1f} MB"
    if unit == "%":
        return f"{value:.2f} %"
    if unit == "s":
        return f"{value:.3f} s"
    return f"{value:g} {unit}"


@dataclass
class Report:
    """Everything one run measured, where and with which sizes."""

    command: str
    started_at: str
    machine: dict[str, Any]
    sizes: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    finished_at: str = ""
    profiles: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(f"  {figure.name}: {_num(figure.measured, figure.unit)}  {figure.note}", flush=True)
        return figure

    def to_json(self) -> str:
        data = asdict(self)
        for item, figure in zip(data["figures"], self.figures, strict=True):
            item["ratios"] = figure.ratios()
        return json.dumps(data, indent=2, default=str)

    def table(self) -> str:
        lines = [
            "| figure | measured | baseline(s) | ratio | target | met? |",
            "|---|---|---|---|---|---|",
        ]
        for f in self.figures:
            baselines = "<br>".join(
                f"{label}: {_num(value, f.unit)}" for label, value in f.baselines.items()
            )
            ratios = "<br>".join(
                f"{'—' if r is None else f'{r:.2f}×'} {label}" for label, r in f.ratios().items()
            )
            met = {True: "yes", False: "**no**", None: "—"}[f.met]
            name = f.name + (f" <br><sub>{f.note}</sub>" if f.note else "")
            lines.append(
                f"| {name} | {_num(f.measured, f.unit)} | {baselines or '—'} | {ratios or '—'} "
                f"| {f.target or '—'} | {met} |"
            )
        return "\n".join(lines)

    def markdown(self) -> str:
        m = self.machine
        parts = [
            f"Measured by `{self.command}` from {self.started_at} to {self.finished_at} "
            f"on {m.get('cpus')} cores, {m.get('memory_gb')} GB, Python {m.get('python')}, "
            f"load average at start {m.get('load_average_at_start')}, "
            f"at the end {m.get('load_average_at_end')} "
            "(a shared machine: compare ratios, not absolute numbers). "
            f"Code: revision {m.get('revision')}"
            + (
                f" with uncommitted changes in {', '.join(m['uncommitted_changes'])}"
                if m.get("uncommitted_changes")
                else ""
            )
            + ".",
            "",
            "Sizes: "
            + ", ".join(
                f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in self.sizes.items()
            )
            + ".",
            "",
            self.table(),
        ]
        if self.problems:
            parts += ["", "Could not be measured / problems:", ""]
            parts += ["- " + p.replace("\n", " ") for p in self.problems]
        for label, profile in self.profiles.items():
            tool = "cProfile" if "cprofile" in profile else "py-spy"
            parts += ["", f"### Where the time goes: {label} ({tool})", ""]
            parts += _profile_lines(profile)
        return "\n".join(parts) + "\n"

    def write(self, results_dir: Path, docs: Path | None) -> None:
        results_dir.mkdir(parents=True, exist_ok=True)
        (results_dir / "latest.json").write_text(self.to_json() + "\n", encoding="utf-8")
        (results_dir / "latest.md").write_text(self.markdown(), encoding="utf-8")
        if docs is not None:
            _update_docs(docs, self.markdown())


_PLUMBING = (
    "threading.py",
    "anyio/",
    "asyncio/",
    "uvicorn/",
    "<module>",
    "selectors.py",
    "queue.py",
    "concurrent/",
    "runners.py",
    "portacare-collector",
    "_bootstrap",
)


def _profile_lines(profile: dict[str, Any]) -> list[str]:
    lines = []
    if "cprofile" in profile:
        lines += [
            "cProfile of the same call on a second database seeded the same way "
            "(cProfile's own overhead inflates the seconds; the measured figure ran without it):",
            "",
        ]
        lines += ["| function | cumulative s | own s |", "|---|---|---|"]
        lines += [f"| `{name}` | {cum} | {own} |" for name, cum, own in profile["cprofile"]]
        lines.append("")
    for kind, title in (
        ("wall", "every thread, wall clock (waiting included)"),
        ("gil", "the thread holding the GIL (Python CPU time)"),
    ):
        data = profile.get(kind)
        if not data:
            continue
        inclusive = [
            (n, p) for n, p in data["inclusive_pct"] if not any(m in n for m in _PLUMBING)
        ][:12]
        own = data["self_pct"][:8]
        lines.append(f"{title}, {data['samples']} samples:")
        lines.append("")
        lines.append("| on the stack | % | at the top | % |")
        lines.append("|---|---|---|---|")
        for i in range(max(len(inclusive), len(own))):
            a = inclusive[i] if i < len(inclusive) else ("", "")
            b = own[i] if i < len(own) else ("", "")
            lines.append(f"| `{a[0]}` | {a[1]} | `{b[0]}` | {b[1]} |".replace("``", ""))
        lines.append("")
    return lines


_BEGIN = "<!-- bench:begin (written by python -m bench) -->"
_END = "<!-- bench:end -->"


def _update_docs(docs: Path, table: str) -> None:
    text = docs.read_text(encoding="utf-8") if docs.exists() else ""
    block = f"{_BEGIN}\n{table}{_END}"
    if _BEGIN in text and _END in text:
        text = re.sub(
            re.escape(_BEGIN) + ".*?" + re.escape(_END), lambda _: block, text, flags=re.S
        )
    else:
        text = text.rstrip() + ("\n\n" if text else "") + block + "\n"
    docs.write_text(text, encoding="utf-8")
