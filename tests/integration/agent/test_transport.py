"""The agent's push: to the real collector over verified TLS, and every way it can fail.

The collector is ``create_app`` under uvicorn with a certificate, as a real process
on a loopback port. Where the failure is not the collector's to produce (a load
balancer's 502, a proxy, a redirect, a peer that never answers), a small HTTP server
on loopback stands in. The certificates in ``tls/`` were made once with openssl and
are valid until 2126: ``ca.pem`` signed ``collector.pem`` for IP 127.0.0.1 alone;
``other-ca.pem`` signed nothing used here.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from portacare.agent.errors import Rejected, TransportError
from portacare.agent.transport import Pusher
from portacare.checks import CheckResult, Status
from tests.support.processes import CollectorProcess
from tests.support.services import free_port, require_tool, wait_for

pytestmark = pytest.mark.integration

TLS = Path(__file__).resolve().parent / "tls"
HOST = "agent-under-test.example.net"

_SERVE_TLS = """
import os, sys, uvicorn
from portacare.collector.app import create_app
from portacare.collector.settings import load_settings
port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
app = create_app(load_settings(None, os.environ))
uvicorn.run(app, host="127.0.0.1", port=port, ssl_certfile=cert, ssl_keyfile=key,
            log_level="warning", access_log=False)
"""


@dataclass(frozen=True)
class TlsCollector:
    port: int
    tokens: Path  # holds one token file per host name

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def token_file(self, host: str = HOST) -> Path:
        return self.tokens / host


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCollector]:
    """The real collector on SQLite, serving HTTPS with ``tls/collector.pem``."""
    workdir = tmp_path_factory.mktemp("tls-collector")
    process = CollectorProcess(workdir, f"sqlite:///{workdir / 'collector.db'}")
    process.cli("migrate")
    tokens = workdir / "tokens"
    tokens.mkdir()
    for host in (HOST, "another-host.example.net"):
        (tokens / host).write_text(process.cli("token", "create", "--host", host) + "\n")
    port = free_port()
    argv = [sys.executable, "-c", _SERVE_TLS, str(port)]
    argv += [str(TLS / "collector.pem"), str(TLS / "collector.key")]
    with (workdir / "collector.log").open("ab") as log:
        server = subprocess.Popen(
            argv, env=process.env(), cwd=workdir, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: _healthy(server, port), timeout=30, what="the collector over TLS")
        yield TlsCollector(port, tokens)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _healthy(server: subprocess.Popen[bytes], port: int) -> bool:
    if server.poll() is not None:
        raise RuntimeError(f"the TLS collector exited with {server.returncode}")
    import ssl

    context = ssl.create_default_context(cafile=str(TLS / "ca.pem"))
    try:
        with urllib.request.urlopen(
            f"https://127.0.0.1:{port}/healthz", timeout=1, context=context
        ) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _pusher(url: str, token_file: Path, **options: object) -> Pusher:
    return Pusher(url, HOST, token_file, interval_s=60, **options)  # type: ignore[arg-type]


def _result(status: str = "OK") -> dict[str, object]:
    wire = CheckResult(Status.OK, "/ 12% used", {"/ used_pct": 12.0}).to_wire("disk")
    return {**wire, "status": status}


# -- the collector answers --------------------------------------------------------------


def test_a_batch_reaches_the_collector_over_verified_tls(collector: TlsCollector) -> None:
    pusher = _pusher(collector.url, collector.token_file(), ca_file=TLS / "ca.pem", timeout=10)
    batch = uuid.uuid4().hex
    assert pusher.push(uuid.uuid4().hex, []).accepted == 0  # a heartbeat
    first = pusher.push(batch, [_result(), _result("WARNING")])
    again = pusher.push(batch, [_result(), _result("WARNING")])
    assert (first.accepted, first.duplicate) == (2, False)
    assert again.duplicate is True


def test_a_ca_folder_is_accepted_as_ca_file(collector: TlsCollector, tmp_path: Path) -> None:
    # a folder of hashed certificates, as c_rehash/update-ca-certificates lay them out
    subject_hash = subprocess.run(
        [require_tool("openssl"), "x509", "-hash", "-noout", "-in", str(TLS / "ca.pem")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (tmp_path / f"{subject_hash}.0").write_bytes((TLS / "ca.pem").read_bytes())
    pusher = _pusher(collector.url, collector.token_file(), ca_file=tmp_path, timeout=10)
    assert pusher.push(uuid.uuid4().hex, [_result()]).accepted == 1


@pytest.mark.parametrize(
    ("status", "token_host", "result_status"),
    [
        pytest.param(401, None, "OK", id="401-unknown-token"),
        pytest.param(403, "another-host.example.net", "OK", id="403-token-of-another-host"),
        pytest.param(422, HOST, "BROKEN", id="422-malformed-result"),
    ],
)
def test_a_refusal_is_rejected_with_its_status(
    collector: TlsCollector, tmp_path: Path, status: int, token_host: str | None, result_status: str
) -> None:
    token_file = tmp_path / "token"
    if token_host is None:
        token_file.write_text("not-a-token-the-collector-issued\n")
    else:
        token_file.write_bytes(collector.token_file(token_host).read_bytes())
    pusher = _pusher(collector.url, token_file, ca_file=TLS / "ca.pem", timeout=10)
    with pytest.raises(Rejected) as refused:
        pusher.push(uuid.uuid4().hex, [_result(result_status)])
    assert refused.value.status == status
    assert f"HTTP {status}" in str(refused.value)


# -- TLS that must not be trusted --------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "ca_file", "reason"),
    [
        pytest.param("127.0.0.1", None, "unable to get local issuer", id="not-in-certifi"),
        pytest.param("127.0.0.1", "other-ca.pem", "unable to get local issuer", id="other-ca"),
        pytest.param("localhost", "ca.pem", "not valid for 'localhost'", id="hostname-mismatch"),
    ],
)
def test_a_certificate_that_does_not_verify_is_a_transport_error(
    collector: TlsCollector, host: str, ca_file: str | None, reason: str
) -> None:
    url = f"https://{host}:{collector.port}"
    pusher = _pusher(url, collector.token_file(), ca_file=ca_file and TLS / ca_file, timeout=10)
    with pytest.raises(TransportError) as failed:
        pusher.push(uuid.uuid4().hex, [_result()])
    assert not isinstance(failed.value, Rejected)
    assert "certificate verify failed" in str(failed.value)
    assert reason in str(failed.value)


def test_a_ca_file_that_is_not_pem_is_a_transport_error(
    collector: TlsCollector, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate\n")
    pusher = _pusher(collector.url, collector.token_file(), ca_file=bundle, timeout=10)
    with pytest.raises(TransportError, match=r"cannot use the CA bundle .*ca\.pem"):
        pusher.push(uuid.uuid4().hex, [])


# -- failures on the way -----------------------------------------------------------------


@dataclass
class StandIn:
    """An HTTP server on loopback that answers every request with one canned response."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> StandIn:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                length = int(self.headers.get("Content-Length", 0))
                stand_in.seen.append(
                    (self.requestline, dict(self.headers), self.rfile.read(length))
                )
                self.send_response(stand_in.status)
                for name, value in stand_in.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(stand_in.body)))
                self.end_headers()
                self.wfile.write(stand_in.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "agent.token"
    path.write_text("secret-token\n")
    return path


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_a_server_error_or_try_later_is_a_transport_error_not_a_rejection(
    token_file: Path, status: int
) -> None:
    unavailable = b"<html>upstream collector unavailable</html>"
    with StandIn(status, unavailable) as balancer, pytest.raises(TransportError) as failed:
        _pusher(balancer.url, token_file, timeout=5).push("b1", [_result()])
    assert not isinstance(failed.value, Rejected)
    assert f"collector answered HTTP {status}" in str(failed.value)
    assert "upstream collector unavailable" in str(failed.value)


def test_the_request_carries_the_token_and_the_wire_contract(token_file: Path) -> None:
    answer = json.dumps({"accepted": 1, "duplicate": False}).encode()
    with StandIn(202, answer) as server:
        pusher = _pusher(server.url, token_file, check_intervals={"disk": 300.0})
        result = _result()
        outcome = pusher.push("b1", [result], dropped={"disk": {"count": 2}})
    assert (outcome.accepted, outcome.duplicate) == (1, False)
    [(line, headers, body)] = server.seen
    assert line == "POST /api/v1/results HTTP/1.1"
    assert headers["Authorization"] == "Bearer secret-token"
    assert headers["Content-Type"] == "application/json"
    sent = json.loads(body)
    assert (sent["host"], sent["batch_id"], sent["results"]) == (HOST, "b1", [result])
    assert sent["agent"]["interval_s"] == 60
    assert sent["agent"]["check_intervals"] == {"disk": 300.0}
    assert sent["agent"]["dropped"] == {"disk": {"count": 2}}


def test_a_202_without_json_is_a_transport_error(token_file: Path) -> None:
    with (
        StandIn(202, b"<html>accepted</html>") as server,
        pytest.raises(TransportError, match="202 with no JSON object"),
    ):
        _pusher(server.url, token_file).push("b1", [])


def test_a_redirect_is_not_followed_and_names_where_it_points(token_file: Path) -> None:
    elsewhere = "https://elsewhere.example.net/"
    with (
        StandIn(308, headers={"Location": elsewhere}) as server,
        pytest.raises(TransportError, match=f"redirect to {elsewhere}"),
    ):
        _pusher(server.url, token_file).push("b1", [])
    assert len(server.seen) == 1  # the token went nowhere else


def test_a_collector_that_never_answers_times_out(token_file: Path) -> None:
    with socket.socket() as silent:  # connections complete in the backlog, nothing is read
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(TransportError, match="timed out"):
            _pusher(url, token_file, timeout=0.5).push("b1", [])
    assert time.monotonic() - started < 5


def test_a_collector_that_is_not_listening_is_a_transport_error(token_file: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(TransportError, match="Connection refused"):
        _pusher(url, token_file, timeout=5).push("b1", [])


def test_an_unreadable_token_file_is_a_transport_error(tmp_path: Path) -> None:
    with pytest.raises(TransportError, match="cannot read token file"):
        _pusher("http://127.0.0.1:9", tmp_path / "missing.token").push("b1", [])


# -- proxies from the environment --------------------------------------------------------


def test_http_proxy_from_the_environment_carries_the_push(
    token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = json.dumps({"accepted": 0, "duplicate": False}).encode()
    with StandIn(202, answer) as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        _pusher("http://collector.example.net:8470", token_file).push("b1", [])
    [(line, headers, _)] = proxy.seen
    assert line == "POST http://collector.example.net:8470/api/v1/results HTTP/1.1"
    assert headers["Authorization"] == "Bearer secret-token"


def test_no_proxy_sends_the_push_straight_to_the_collector(
    collector: TlsCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{free_port()}")  # nobody listens there
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    pusher = _pusher(collector.url, collector.token_file(), ca_file=TLS / "ca.pem", timeout=10)
    assert pusher.push(uuid.uuid4().hex, []).accepted == 0


def test_a_batch_that_json_cannot_carry_is_refused_as_unsendable(token_file: Path) -> None:
    """NaN in a result's details: refused before any request, so the spool sets it aside."""
    result = {**_result(), "details": {"ratio": float("nan")}}
    pusher = _pusher("http://127.0.0.1:9", token_file, timeout=1)  # nothing may be sent
    with pytest.raises(Rejected) as refused:
        pusher.push(uuid.uuid4().hex, [result])
    assert refused.value.status == 422
    assert "cannot be written as JSON" in str(refused.value)
