"""Nagios plugin output and perfdata parsing, per the plugin development guidelines."""

from __future__ import annotations

import math

import pytest

from portacare.checks.perfdata import PerfDatum, Range, parse_output, parse_perfdata, parse_range

INF = math.inf

RANGES = [
    pytest.param("10", Range("10", 0.0, 10.0), id="bare-number-is-0-to-n"),
    pytest.param("10:", Range("10:", 10.0, INF), id="open-end"),
    pytest.param("~:10", Range("~:10", -INF, 10.0), id="minus-infinity"),
    pytest.param("10:20", Range("10:20", 10.0, 20.0), id="between"),
    pytest.param("@10:20", Range("@10:20", 10.0, 20.0, True), id="inside"),
    pytest.param("-5:-1", Range("-5:-1", -5.0, -1.0), id="negative"),
    pytest.param("0.5", Range("0.5", 0.0, 0.5), id="decimal"),
    pytest.param(":5", Range(":5", 0.0, 5.0), id="empty-start"),
]


@pytest.mark.parametrize(("text", "expected"), RANGES)
def test_parse_range(text: str, expected: Range) -> None:
    assert parse_range(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "20:10", "@", "1:2:3", "~"])
def test_malformed_ranges_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="range"):
        parse_range(text)


@pytest.mark.parametrize(
    ("text", "value", "alerts"),
    [
        pytest.param("10", 11, True, id="above"),
        pytest.param("10", -1, True, id="below-zero"),
        pytest.param("10", 10, False, id="edge-inclusive"),
        pytest.param("10:", 9, True, id="under-open-end"),
        pytest.param("~:10", -1000, False, id="minus-infinity-ok"),
        pytest.param("@10:20", 15, True, id="inside-alerts"),
        pytest.param("@10:20", 25, False, id="outside-fine"),
    ],
)
def test_range_alerts(text: str, value: float, alerts: bool) -> None:
    assert parse_range(text).alerts(value) is alerts


PERFDATA = [
    pytest.param("time=0.025676s;;;0.000000",
                 PerfDatum("time", 0.025676, "s", min=0.0), id="check-dig"),
    pytest.param("/=2643MB;5948;5958;0;5968",
                 PerfDatum("/", 2643.0, "MB", parse_range("5948"), parse_range("5958"), 0.0,
                           5968.0), id="check-disk"),
    pytest.param("'data disk'=1.5GB;@1:2;~:5;0;10",
                 PerfDatum("data disk", 1.5, "GB", parse_range("@1:2"), parse_range("~:5"),
                           0.0, 10.0), id="quoted-label"),
    pytest.param("'it''s'=5%", PerfDatum("it's", 5.0, "%"), id="escaped-quote"),
    pytest.param("users=U;5;10", PerfDatum("users", None, "", parse_range("5"),
                                           parse_range("10")), id="undetermined"),
    pytest.param("count=42c", PerfDatum("count", 42.0, "c"), id="counter"),
    pytest.param("rta=-1.5e-3ms;;", PerfDatum("rta", -0.0015, "ms"), id="exponent"),
    pytest.param("lat=12us", PerfDatum("lat", 12.0, "us"), id="microseconds"),
    pytest.param("x=1TB", PerfDatum("x", 1.0, "TB"), id="terabytes"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), PERFDATA)
def test_parse_one_datum(text: str, expected: PerfDatum) -> None:
    data, errors = parse_perfdata(text)
    assert (data, errors) == ([expected], [])


def test_several_data_and_bad_ones_reported_not_fatal() -> None:
    data, errors = parse_perfdata("load1=0.2;5;10;0 bad=abc 'x y'=3 junk load5=0.1;4;8;0")
    assert [d.label for d in data] == ["load1", "x y", "load5"]
    assert errors == ["'bad': value 'abc' is not a number", "cannot parse perfdata near 'junk'"]


def test_bad_threshold_is_reported() -> None:
    data, errors = parse_perfdata("a=1;20:10")
    assert data == []
    assert errors == ["'a': range '20:10' starts after it ends"]


def test_guidelines_example_output() -> None:
    output = parse_output(
        "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n"
        "/ 15272 MB (77%);\n"
        "/boot 68 MB (69%);\n"
        "/home 69357 MB (27%);\n"
        "/var/log 819 MB (84%); | /boot=68MB;88;93;0;98\n"
        "/home=69357MB;253404;253409;0;253414\n"
        "/var/log=818MB;970;975;0;980\n"
    )
    assert output.summary == "DISK OK - free space: / 3326 MB (56%);"
    assert output.long_output == (
        "/ 15272 MB (77%);", "/boot 68 MB (69%);", "/home 69357 MB (27%);",
        "/var/log 819 MB (84%);",
    )  # fmt: skip
    assert [(d.label, d.value) for d in output.perfdata] == [
        ("/", 2643.0), ("/boot", 68.0), ("/home", 69357.0), ("/var/log", 818.0),
    ]  # fmt: skip
    assert output.perfdata_errors == ()


@pytest.mark.parametrize(
    ("stdout", "summary", "long_output", "labels"),
    [
        pytest.param("", "", (), [], id="empty"),
        pytest.param("OK\n", "OK", (), [], id="summary-only"),
        pytest.param("OK | a=1\n", "OK", (), ["a"], id="first-line-perfdata"),
        pytest.param("OK\nmore\neven more\n", "OK", ("more", "even more"), [], id="long-no-perf"),
        pytest.param("OK\n| a=1\nb=2\n", "OK", (), ["a", "b"], id="perf-on-second-line"),
    ],
)
def test_parse_output_shapes(
    stdout: str, summary: str, long_output: tuple[str, ...], labels: list[str]
) -> None:
    output = parse_output(stdout)
    assert output.summary == summary
    assert output.long_output == long_output
    assert [d.label for d in output.perfdata] == labels
