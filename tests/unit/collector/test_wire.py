"""The wire contract's bodies as the collector decodes them: what is read, what is refused
and how each refusal is named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portacare.checks import Status
from portacare.collector.wire import (
    MOST_PROBLEMS,
    BatchIn,
    WireError,
    batch_from,
    decode_batch,
    openapi_components,
)


def _result(status: Any = "OK", **changed: Any) -> dict[str, Any]:
    return {
        "check": "disk",
        "status": status,
        "summary": "s",
        "observed_at": "2026-11-27T00:00:00Z",
        **changed,
    }


def _body(*results: dict[str, Any], **changed: Any) -> dict[str, Any]:
    return {"host": "sw1", "batch_id": "b1", "results": list(results), **changed}


def _refusal(body: dict[str, Any] | bytes) -> dict[str, str]:
    """Each named problem of a refused body, location -> message."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(WireError) as refused:
        decode_batch(raw)
    return {problem.location: problem.message for problem in refused.value.problems}


@pytest.mark.parametrize(
    ("sent", "status"),
    [
        ("OK", Status.OK),
        ("WARNING", Status.WARNING),
        ("CRITICAL", Status.CRITICAL),
        ("UNKNOWN", Status.UNKNOWN),
        ("critical", Status.CRITICAL),
        (" Warning ", Status.WARNING),
    ],
)
def test_a_status_name_in_any_case_is_read(sent: str, status: Status) -> None:
    assert batch_from(_body(_result(sent))).results[0].status is status
    assert decode_batch(json.dumps(_body(_result(sent))).encode()).results[0].status is status


@pytest.mark.parametrize(
    ("sent", "says"),
    [
        ("BROKEN", "unknown status 'BROKEN'; expected one of OK, WARNING, CRITICAL, UNKNOWN"),
        (2, "must be one of OK, WARNING, CRITICAL, UNKNOWN"),
        (None, "must be one of OK, WARNING, CRITICAL, UNKNOWN"),
    ],
)
def test_anything_else_is_refused_naming_the_value(sent: Any, says: str) -> None:
    assert _refusal(_body(_result(sent))) == {"results.0.status": says}
    with pytest.raises(WireError, match="results.0.status"):
        batch_from(_body(_result(sent)))


def test_a_body_is_read_with_its_defaults_and_unknown_fields_ignored() -> None:
    body = _body(_result(metrics={"used": 97}, extra="from a newer agent"), agent={"x": 1})
    batch = decode_batch(json.dumps(body).encode())
    assert isinstance(batch, BatchIn)
    assert (batch.agent.interval_s, batch.agent.check_intervals, batch.agent.dropped) == (
        60.0,
        {},
        {},
    )
    result = batch.results[0]
    assert result.metrics == {"used": 97.0} and type(result.metrics["used"]) is float
    assert result.observed_at.utcoffset() is not None
    assert (result.duration_ms, result.details) == (None, {})


def test_every_wrong_field_is_named_at_once() -> None:
    body = _body(
        _result("FINE", observed_at="2026-11-27T00:00:00", metrics={"load": "high"}),
        {"check": "agent_silent"},
        host="",
    )
    assert _refusal(body) == {
        "host": "Expected `str` of length >= 1",
        "results.0.status": "unknown status 'FINE'; expected one of OK, WARNING, CRITICAL, UNKNOWN",
        "results.0.observed_at": "must carry a UTC offset (RFC 3339), e.g. 2026-11-26T12:00:00Z",
        "results.0.metrics.load": "Expected `float`, got `str`",
        "results.1.check": "'agent_silent' is the collector's own name for a silent agent",
        "results.1.status": "required",
        "results.1.summary": "required",
        "results.1.observed_at": "required",
    }


def test_limits_are_named_where_they_are_passed() -> None:
    assert _refusal(_body(*[_result()] * 1001)) == {"results": "Expected `array` of length <= 1000"}
    too_many = {f"m{i}": 1.0 for i in range(257)}
    assert list(_refusal(_body(_result(metrics=too_many)))) == ["results.0.metrics"]
    long_key = "k" * 201
    assert _refusal(_body(_result(metrics={long_key: 1.0}))) == {
        f"results.0.metrics.{long_key}": "the key: Expected `str` of length <= 200"
    }
    long_interval_name = {"c" * 129: 60}
    assert list(_refusal(_body(agent={"check_intervals": long_interval_name}))) == [
        f"agent.check_intervals.{'c' * 129}"
    ]
    assert _refusal(_body(agent={"interval_s": 0})) == {
        "agent.interval_s": "Expected `float` > 0.0"
    }


@pytest.mark.parametrize("written", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_metric_that_is_not_finite_is_named(written: str) -> None:
    text = json.dumps(_body(_result(metrics={"load": "VALUE"}))).replace('"VALUE"', written)
    assert _refusal(text.encode()) == {
        "results.0.metrics.load": "must be a finite number (JSON has no NaN or infinity)"
    }


def test_what_is_not_a_json_object_is_named_as_the_body() -> None:
    assert list(_refusal(b"{not json")) == ["body"]
    assert _refusal(b"[1, 2]") == {"body": "must be a JSON object"}


def test_a_refusal_names_at_most_so_many_problems() -> None:
    problems = _refusal(_body(*[_result("FINE")] * 200))
    assert len(problems) == MOST_PROBLEMS + 1
    assert problems["body"] == f"and {200 - MOST_PROBLEMS} more problems"


def test_the_documented_schema_is_the_decoded_one() -> None:
    schemas = openapi_components()
    result = schemas["ResultIn"]
    assert set(schemas["BatchIn"]["required"]) == {"host", "batch_id", "results"}
    assert set(result["required"]) == {"check", "status", "summary", "observed_at"}
    assert result["properties"]["status"]["enum"] == ["OK", "WARNING", "CRITICAL", "UNKNOWN"]
    assert result["properties"]["check"]["not"] == {"const": "agent_silent"}
    assert result["properties"]["metrics"]["maxProperties"] == 256
    assert schemas["BatchIn"]["properties"]["results"]["maxItems"] == 1000
    assert set(schemas["BatchAccepted"]["required"]) == {"accepted", "duplicate"}
