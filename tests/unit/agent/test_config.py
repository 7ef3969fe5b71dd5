"""The agent's configuration: the DESIGN.md shape, and one error listing every bad field."""

from __future__ import annotations

from pathlib import Path

import pytest

from portacare.agent.config import load_config, parse_config
from portacare.agent.errors import ConfigError
from portacare.checks import discover_checks

REGISTRY = discover_checks()


def test_the_design_shape_loads(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(
        """
        [agent]
        collector = "https://noc.example.net:8470/"
        host = "sw1.example.net"
        token_file = "/etc/portacare/agent.token"
        state_dir = "/var/lib/portacare"
        interval = 60

        [checks.disk]
        interval = 300
        warning = 85
        critical = 95

        [checks.scratch]
        type = "disk"
        include_mounts = ["/scratch"]
        enabled = false
        """
    )
    config = load_config(path, REGISTRY)
    assert config.agent.collector == "https://noc.example.net:8470"
    assert config.agent.host == "sw1.example.net"
    assert [c.name for c in config.checks] == ["disk", "scratch"]
    assert [c.name for c in config.enabled_checks()] == ["disk"]
    disk = config.checks[0]
    assert config.interval_of(disk) == 300
    assert config.checks[1].type_name == "disk"


def test_host_defaults_to_this_machine() -> None:
    config = parse_config({"agent": {"collector": "http://c:8470"}}, REGISTRY, "test")
    assert config.agent.host and config.agent.host != "localhost"


def test_every_problem_is_listed_at_once() -> None:
    raw = {
        "agent": {"collector": "ftp://x", "interval": -1, "colector": "typo"},
        "checks": {
            "disk": {"warning": 200, "mounts": {"/var": {"critical": "lots"}}},
            "nope": {},
            "other": {"type": "also_nope"},
            "flat": 5,
        },
        "extra": {},
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, REGISTRY, "agent.toml")
    problems = caught.value.problems
    fields = sorted(p.split(":")[0] for p in problems)
    assert fields == [
        "agent.colector",
        "agent.collector",
        "agent.interval",
        "checks.disk.mounts./var.critical",
        "checks.disk.warning",
        "checks.flat",
        "checks.nope",
        "checks.other",
        "extra",
    ]
    assert "no check named 'also_nope'" in str(caught.value)
    assert str(caught.value).startswith("invalid configuration in agent.toml:")


def test_missing_file_and_bad_toml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.toml", REGISTRY)
    broken = tmp_path / "broken.toml"
    broken.write_text("[agent\ncollector=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken, REGISTRY)


def test_slow_moving_checks_run_less_often_unless_configured() -> None:
    raw = {
        "agent": {"collector": "http://c:8470", "interval": 60},
        "checks": {
            "disk": {},
            "os_errata": {},
            "backups_now": {"type": "os_errata", "interval": 30},
        },
    }
    config = parse_config(raw, REGISTRY, "test")
    intervals = {c.name: config.interval_of(c) for c in config.checks}
    assert intervals == {"disk": 60, "os_errata": 3600, "backups_now": 30}
