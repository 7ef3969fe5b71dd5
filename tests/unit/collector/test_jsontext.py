"""JSON columns' text: orjson where it can, the standard library for what orjson refuses."""

from __future__ import annotations

import json

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
