"""The options layer every check and the agent's own table go through."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

import pytest

from portacare.checks.options import (
    ByteSize,
    IPAddressOption,
    Meta,
    Options,
    OptionsError,
    field,
    parse_options,
)


class _Server(Options):
    """A table that may be written as text: ``"host:port"``."""

    host: Annotated[str, Meta(min_length=1)]
    port: Annotated[int, Meta(ge=1, le=65535)] = 123

    @classmethod
    def from_text(cls, text: str) -> dict[str, object]:
        host, _, port = text.partition(":")
        if port and not port.isdigit():
            raise ValueError(f"bad server {text!r}: port {port!r} is not a number")
        return {"host": host, "port": int(port)} if port else {"host": host}


class _Limits(Options):
    warning: Annotated[float, Meta(ge=0, le=100)] = 80
    critical: Annotated[float, Meta(ge=0, le=100)] = 90

    def __post_init__(self) -> None:
        if self.warning > self.critical:
            raise ValueError("warning above critical")


class _Sample(Options):
    name: Annotated[str, Meta(min_length=1)]
    limit: Annotated[float, Meta(gt=0)] = 1.0
    size: ByteSize = ByteSize(1)
    where: Path = Path("/var/log")
    address: IPAddressOption | None = None
    servers: list[_Server] = field(default_factory=list)
    modes: list[Literal["fast", "safe"]] = field(default_factory=list)
    mounts: dict[str, _Limits] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.limit > 100:
            raise ValueError("limit: 100 at most")


def test_a_good_table_is_converted_with_the_types_toml_cannot_write() -> None:
    got = parse_options(
        _Sample,
        {
            "name": "x",
            "limit": 5,
            "size": "10MB",
            "where": "/srv",
            "address": "2001:db8::1",
            "servers": ["ntp1:4123", {"host": "ntp2"}],
        },
    )
    assert got.limit == 5.0 and isinstance(got.limit, float)
    assert got.size == 10_000_000 and isinstance(got.size, ByteSize)
    assert got.where == Path("/srv")
    assert got.address == ipaddress.ip_address("2001:db8::1")
    assert got.servers == [_Server(host="ntp1", port=4123), _Server(host="ntp2", port=123)]


def test_every_wrong_key_is_named_at_once() -> None:
    with pytest.raises(OptionsError) as caught:
        parse_options(
            _Sample,
            {"limit": 0, "size": "lots", "address": "10.0.0.300", "servers": [{"port": 0}], "x": 1},
        )
    problems = {p.location: p.message for p in caught.value.problems}
    assert set(problems) == {
        "x",
        "name",
        "limit",
        "size",
        "address",
        "servers[0].host",
        "servers[0].port",
    }
    assert problems["x"] == "unknown option"
    assert problems["name"] == "required option missing"
    assert problems["limit"] == "Expected `float` > 0.0"
    assert "'lots' is not a size" in problems["size"]
    assert "'10.0.0.300' is not an IPv4 or IPv6 address" in problems["address"]
    assert problems["servers[0].host"] == "required option missing"
    assert problems["servers[0].port"] == "Expected `int` >= 1"


def test_a_value_outside_its_choices_is_refused_naming_them() -> None:
    with pytest.raises(OptionsError) as caught:
        parse_options(_Sample, {"name": "x", "modes": ["safe", "quick"]})
    assert [str(p) for p in caught.value.problems] == [
        "modes[1]: Invalid enum value 'quick' (expected 'fast' or 'safe')"
    ]


def test_a_wrong_entry_is_named_by_its_key_and_index() -> None:
    with pytest.raises(OptionsError) as caught:
        parse_options(
            _Sample,
            {
                "name": "x",
                "servers": ["ntp1:1", {"host": ""}, "ntp3:x", {"host": "n", "port": 0}],
                "mounts": {
                    "/": {},
                    "/var": {"critical": 101, "typo": 1},
                    "/srv": {"warning": 95, "critical": 90},
                },
            },
        )
    problems = {p.location: p.message for p in caught.value.problems}
    assert set(problems) == {
        "servers[1].host",
        "servers[2]",
        "servers[3].port",
        "mounts./var.critical",
        "mounts./var.typo",
        "mounts./srv",
    }
    assert problems["mounts./var.critical"] == "Expected `float` <= 100.0"
    assert problems["mounts./srv"] == "warning above critical"
    assert problems["servers[2]"] == "bad server 'ntp3:x': port 'x' is not a number"


def test_a_table_written_as_text_reads_at_the_top_too() -> None:
    assert parse_options(_Server, "ntp1:9") == _Server(host="ntp1", port=9)
    with pytest.raises(OptionsError, match="port 'x' is not a number"):
        parse_options(_Server, "ntp1:x")


def test_a_rule_across_keys_is_reported_for_the_table() -> None:
    with pytest.raises(OptionsError, match="limit: 100 at most"):
        parse_options(_Sample, {"name": "x", "limit": 101})


def test_options_are_keyword_only_in_every_subclass() -> None:
    class _Narrower(_Sample):
        required: int
        extra: int = 2

    assert _Narrower(name="x", required=1).extra == 2
    with pytest.raises(TypeError):
        _Narrower("x", 1)  # type: ignore[misc]


def test_options_are_frozen() -> None:
    got = parse_options(_Sample, {"name": "x"})
    with pytest.raises(AttributeError):
        got.limit = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("written", "size"),
    [
        (1048576, 1048576),
        ("512", 512),
        ("10MB", 10_000_000),
        ("10 mb", 10_000_000),
        ("1GiB", 2**30),
        ("1.5KiB", 1536),
        ("2k", 2000),
        ("256MB", 256_000_000),
    ],
)
def test_sizes_read_as_people_write_them(written: object, size: int) -> None:
    assert ByteSize.parse_option(written) == size


@pytest.mark.parametrize("written", ["", "MB", "1.5", "-1", "1iB", "ten", True, [1], 0.5])
def test_sizes_that_are_not_sizes_are_refused(written: object) -> None:
    with pytest.raises(ValueError):
        ByteSize.parse_option(written)
