"""The wire contract's status field: names as agents send them, leniently spelt, nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from portacare.checks import Status
from portacare.collector.wire import ResultIn


def _result(status: Any) -> dict[str, Any]:
    return {
        "check": "disk",
        "status": status,
        "summary": "s",
        "observed_at": "2026-11-27T00:00:00Z",
    }


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
    assert ResultIn.model_validate(_result(sent)).status is status
    assert ResultIn.model_validate_json(json.dumps(_result(sent))).status is status


@pytest.mark.parametrize(
    ("sent", "says"),
    [
        ("BROKEN", "unknown status 'BROKEN'; expected one of OK, WARNING, CRITICAL, UNKNOWN"),
        (2, "must be one of OK, WARNING, CRITICAL, UNKNOWN"),
        (None, "must be one of OK, WARNING, CRITICAL, UNKNOWN"),
    ],
)
def test_anything_else_is_refused_naming_the_value(sent: Any, says: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ResultIn.model_validate(_result(sent))
    assert says in str(refused.value)
