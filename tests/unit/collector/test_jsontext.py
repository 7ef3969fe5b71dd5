"""JSON columns' text: orjson where it can, the standard library for what orjson refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from portacare.collector import jsontext


def test_values_round_trip_as_compact_json() -> None:
    value = {"recent": [0, 2, 2], "flapping": False, "percent": 41.5, "name": "disk /var"}
    text = jsontext.dumps(value)
    assert text == '{"recent":[0,2,2],"flapping":false,"percent":41.5,"name":"disk /var"}'
    assert jsontext.loads(text) == value == json.loads(text)


def test_an_integer_past_64_bits_is_kept_not_refused() -> None:
    details = {"serial": 2**70, "nested": {"n": -(2**65)}}
    assert jsontext.loads(jsontext.dumps(details)) == details


def test_a_key_that_is_not_a_string_is_written_as_the_standard_library_writes_it() -> None:
    assert jsontext.loads(jsontext.dumps({1: "one"})) == {"1": "one"}


def test_times_are_written_the_same_whichever_library_writes_them() -> None:
    """Rows go to PostgreSQL as JSON documents; a big integer beside a time takes the fallback."""
    at = datetime(2026, 11, 27, 5, 0, 0, 500000, tzinfo=UTC)
    east = datetime(2026, 11, 27, 7, 0, tzinfo=timezone(timedelta(hours=2)))
    by_orjson = jsontext.dumps([{"at": at, "east": east}])
    by_stdlib = jsontext.dumps([{"at": at, "east": east, "serial": 2**70}])
    assert (
        by_orjson
        == '[{"at":"2026-11-27T05:00:00.500000+00:00","east":"2026-11-27T07:00:00+02:00"}]'
    )
    assert by_stdlib == by_orjson[:-2] + ',"serial":' + str(2**70) + "}]"


def test_what_neither_library_can_write_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        jsontext.dumps({"serial": 2**70, "tags": {"a"}})
