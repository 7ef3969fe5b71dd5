"""Every configuration example in the docs and in deploy/ is valid: copy-paste must work."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from portacare.agent.config import parse_config
from portacare.checks import discover_checks
from portacare.collector.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = discover_checks()
_TOML_BLOCK = re.compile(r"```toml\n(.*?)```", re.S)


def _examples() -> list[pytest.ParameterSet]:
    cases = []
    for doc in sorted((ROOT / "docs" / "checks").glob("*.md")):
        for number, block in enumerate(_TOML_BLOCK.findall(doc.read_text()), start=1):
            if "[checks." in block:
                cases.append(pytest.param(block, id=f"{doc.stem}-{number}"))
    return cases


def test_every_check_has_its_documentation() -> None:
    documented = {p.stem for p in (ROOT / "docs" / "checks").glob("*.md")}
    assert set(REGISTRY.checks) <= documented
    assert not REGISTRY.broken


@pytest.mark.parametrize("block", _examples())
def test_documented_check_examples_validate(block: str) -> None:
    raw = tomllib.loads(block)
    raw.setdefault("agent", {"collector": "https://noc.example.net:8470"})
    config = parse_config(raw, REGISTRY, "example")
    assert config.checks


def test_deploy_agent_example_validates() -> None:
    raw = tomllib.loads((ROOT / "deploy" / "agent.example.toml").read_text())
    config = parse_config(raw, REGISTRY, "agent.example.toml")
    assert {c.type_name for c in config.checks} == set(REGISTRY.checks)


def test_deploy_collector_example_validates() -> None:
    settings = load_settings(ROOT / "deploy" / "collector.example.toml", {})
    assert settings.customers and settings.contacts
