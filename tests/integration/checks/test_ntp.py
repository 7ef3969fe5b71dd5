"""The ntp check against real chronyd daemons and a real NTP responder on loopback."""

# Fixtures are imported by name and then taken as test parameters of the same name.
# ruff: noqa: F811

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest

from portacare.checks import CheckResult, Status, run_check
from portacare.checks.ntp import NtpCheck
from tests.support.chrony import (  # noqa: F401 - fixtures
    Chronyd,
    chrony_client,
    chrony_server,
    chrony_unsynchronised,
    chronyd_factory,
)
from tests.support.ntp_responder import ntp_responder  # noqa: F401 - fixture
from tests.support.services import free_port

pytestmark = pytest.mark.integration

NO_TIMEDATECTL = "/nonexistent/timedatectl"  # keep the host's own timedated out of the way


def run_ntp(chronyd: Chronyd | None = None, **options: Any) -> CheckResult:
    """Run the check through the runner; ``chronyd`` is the one chronyc talks to."""
    raw: dict[str, Any] = {
        "sample_interval": 0,
        "query_timeout": 1,
        "daemon": "chrony",
        "timedatectl": NO_TIMEDATECTL,
        "chronyc_host": "127.0.0.1",
        "chronyc_port": chronyd.cmdport if chronyd else free_port(socket.SOCK_DGRAM),
        **options,
    }
    return run_check(NtpCheck.from_config(raw))


def dead_server() -> str:
    return f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}"


def test_synchronised_host_and_server_in_time_is_ok(chrony_server, chrony_client):
    result = run_ntp(chrony_client, servers=[chrony_server.address])

    assert result.status is Status.OK, result.summary
    assert f"against {chrony_server.address}" in result.summary
    assert "chrony synchronised to 127.0.0.1" in result.summary
    assert result.metrics[f"{chrony_server.address} stratum"] == 8
    assert abs(result.metrics[f"{chrony_server.address} offset_ms"]) < 100
    assert result.metrics["servers_reachable"] == 1
    assert result.metrics["daemon synchronised"] == 1
    assert result.details["daemon"]["sources"][0]["state"] == "selected"
    assert result.details["servers"][chrony_server.address]["answered"] == 3


@pytest.mark.parametrize(
    ("skew", "status", "offset"),
    [
        pytest.param(0.3, Status.WARNING, r"\+\d{3}\.\d ms", id="300ms-ahead-warns"),
        pytest.param(-0.4, Status.WARNING, r"-\d{3}\.\d ms", id="400ms-behind-warns"),
        pytest.param(2.5, Status.CRITICAL, r"\+2\.\d{3} s", id="2.5s-ahead-critical"),
    ],
)
def test_server_offset_against_thresholds(chrony_client, ntp_responder, skew, status, offset):
    server = ntp_responder(skew=skew)

    result = run_ntp(chrony_client, servers=[server.address])

    assert result.status is status, result.summary
    limit = "critical at 1000 ms" if status is Status.CRITICAL else "warning at 100 ms"
    # the measured offset wobbles by microseconds: the value is checked by the metric
    expected = rf"offset {offset} against {re.escape(server.address)} \({limit}\); "
    assert re.match(expected, result.summary), result.summary
    assert result.metrics[f"{server.address} offset_ms"] == pytest.approx(skew * 1000, abs=50)
    assert server.requests == 3


def test_median_of_samples_is_judged(chrony_client, ntp_responder):
    server = ntp_responder(skew=0.05)

    result = run_ntp(chrony_client, servers=[server.address], offset_warning_ms=40, samples=5)

    assert result.status is Status.WARNING, result.summary
    assert "(warning at 40 ms)" in result.summary
    assert result.details["servers"][server.address]["answered"] == 5


def test_some_servers_unreachable_warns(chrony_server, chrony_client):
    dead = dead_server()

    result = run_ntp(chrony_client, servers=[chrony_server.address, dead], samples=2)

    assert result.status is Status.WARNING, result.summary
    assert f"1 of 2 NTP servers unreachable: {dead} (no reply within 1s)" in result.summary
    assert result.metrics["servers_reachable"] == 1
    assert result.details["servers"][dead]["error"] == "no reply within 1s"


def test_all_servers_unreachable_is_critical(chrony_client):
    dead = [dead_server(), dead_server()]

    result = run_ntp(chrony_client, servers=dead, samples=1, query_timeout=0.5)

    assert result.status is Status.CRITICAL, result.summary
    assert result.summary.startswith("all 2 NTP servers unreachable")
    assert all(d in result.summary for d in dead)
    assert result.metrics["servers_reachable"] == 0


def test_server_name_that_does_not_resolve_is_unreachable(chrony_client):
    result = run_ntp(chrony_client, servers=["ntp.invalid"], samples=1)

    assert result.status is Status.CRITICAL, result.summary
    assert result.summary.startswith(
        "NTP server ntp.invalid unreachable (cannot resolve ntp.invalid"
    )


def test_unsynchronised_chrony_server_is_stratum_16_critical(
    chrony_client, chrony_unsynchronised, chrony_server
):
    # A real chronyd without a source answers with leap indicator 3 and stratum 0.
    servers = [chrony_server.address, chrony_unsynchronised.address]

    result = run_ntp(chrony_client, servers=servers)

    assert result.status is Status.CRITICAL, result.summary
    assert result.summary.startswith(
        f"{chrony_unsynchronised.address} is unsynchronised (stratum 16)"
    )
    assert result.metrics[f"{chrony_unsynchronised.address} stratum"] == 16


def test_responder_at_stratum_16_is_critical(chrony_client, ntp_responder):
    server = ntp_responder(stratum=16)

    result = run_ntp(chrony_client, servers=[server.address])

    assert result.status is Status.CRITICAL, result.summary
    assert f"{server.address} is unsynchronised (stratum 16)" in result.summary


def test_unsynchronised_local_daemon_is_critical(chrony_server, chrony_unsynchronised):
    result = run_ntp(chrony_unsynchronised, servers=[chrony_server.address])

    assert result.status is Status.CRITICAL, result.summary
    assert result.summary.startswith(
        "chrony is not synchronised; none of its 1 sources is reachable"
    )
    assert result.metrics["daemon synchronised"] == 0
    assert result.details["daemon"]["leap"] == "Not synchronised"


def test_daemon_serving_only_its_local_clock_warns(chrony_server):
    result = run_ntp(chrony_server, servers=[chrony_server.address])

    assert result.status is Status.WARNING, result.summary
    assert "chrony is synchronised only to its own local clock" in result.summary


@pytest.mark.parametrize(
    ("skew", "status", "text"),
    [
        pytest.param(0.5, Status.WARNING, r"\+\d{3}\.\d ms \(warning at 100 ms\)", id="behind"),
        pytest.param(-1.5, Status.CRITICAL, r"-1\.\d{3} s \(critical at 1000 ms\)", id="ahead"),
    ],
)
def test_daemon_offset_against_thresholds(chronyd_factory, ntp_responder, skew, status, text):
    # chronyd -x never steps the clock, so it keeps reporting the source's skew.
    source = ntp_responder(skew=skew)
    daemon = chronyd_factory(
        "skewed",
        [f"server 127.0.0.1 port {source.port} iburst minpoll -2 maxpoll -2"],
        serve=False,
        wait_synchronised=True,
    )

    result = run_ntp(daemon, servers=[])

    assert result.status is status, result.summary
    assert re.fullmatch(rf"chrony synchronised to 127\.0\.0\.1, offset {text}", result.summary), (
        result.summary
    )
    assert result.metrics["daemon offset_ms"] == pytest.approx(skew * 1000, abs=50)


@pytest.mark.parametrize(
    ("missing_daemon", "status"),
    [
        pytest.param(None, Status.OK, id="default-reports-only"),
        pytest.param("WARNING", Status.WARNING, id="configured-warning"),
        pytest.param("CRITICAL", Status.CRITICAL, id="configured-critical"),
        pytest.param("UNKNOWN", Status.UNKNOWN, id="configured-unknown"),
    ],
)
def test_absent_daemon_status_is_configurable(chrony_server, missing_daemon, status):
    options = {"missing_daemon": missing_daemon} if missing_daemon else {}

    result = run_ntp(None, servers=[chrony_server.address], daemon="auto", **options)

    assert result.status is status, result.summary
    assert "no time daemon found (chronyc: chronyd does not answer" in result.summary
    assert f"timedatectl: command not found: {NO_TIMEDATECTL}" in result.summary
    assert result.details["daemon"]["found"] is False


def test_nothing_to_observe_is_unknown():
    result = run_ntp(None, servers=[])

    assert result.status is Status.UNKNOWN, result.summary
    assert result.summary.startswith("nothing to observe: no NTP servers configured")


def test_unreadable_daemon_answer_is_unknown_but_servers_still_reported(chrony_server):
    # /bin/false stands for a chronyc that fails without saying why.
    result = run_ntp(None, servers=[chrony_server.address], chronyc="/bin/false")

    assert result.status is Status.UNKNOWN, result.summary
    assert "chronyc tracking failed (exit 1), no output" in result.summary
    assert f"against {chrony_server.address}" in result.summary


def test_auto_mode_finds_chrony(chrony_server, chrony_client):
    result = run_ntp(chrony_client, servers=[chrony_server.address], daemon="auto")

    assert result.status is Status.OK, result.summary
    assert result.details["daemon"]["daemon"] == "chrony"


def test_servers_come_from_the_hosts_chrony_config(tmp_path: Path, chrony_server, chrony_client):
    conf = tmp_path / "chrony.conf"
    conf.write_text(
        "# the host's configuration\n"
        f"server 127.0.0.1 port {chrony_server.port} iburst\n"
        f"confdir {tmp_path}/conf.d\n"
    )
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "extra.conf").write_text(f"pool localhost port {chrony_server.port}\n")

    result = run_ntp(chrony_client, config_files=[str(tmp_path / "absent.conf"), str(conf)])

    assert result.status is Status.OK, result.summary
    assert result.details["servers_from"] == str(conf)
    assert set(result.details["servers"]) == {
        chrony_server.address,
        f"localhost:{chrony_server.port}",
    }
