"""The collector's token cache: an agent's push is no database lookup, yet a revoked token
stops working within seconds, on every collector process, and `token revoke` does it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete

from portacare.checks import utc_now
from portacare.collector import cli
from portacare.collector.api import deps
from portacare.collector.models import Token
from portacare.collector.tokens import Principal, PrincipalCache, hash_token, revoke_tokens

from ...support.collector import Collector, result


class Ticking:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticking(collector: Collector) -> Iterator[Ticking]:
    clock = Ticking()
    collector.client.app.state.principal_cache = PrincipalCache(clock=clock)  # type: ignore[attr-defined]
    yield clock


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each token looked up in the database, in order."""
    seen: list[str] = []
    real = deps._look_up

    def counted(factory, token):  # type: ignore[no-untyped-def]
        seen.append(token)
        return real(factory, token)

    monkeypatch.setattr(deps, "_look_up", counted)
    return seen


def test_an_agent_pushing_every_minute_is_looked_up_once(
    collector: Collector, ticking: Ticking, lookups: list[str]
) -> None:
    token = collector.agent_token("sw1")
    for _ in range(10):  # ten minutes of pushes, a minute apart
        response = collector.push("sw1", [result("disk", "OK")])
        assert response.status_code == 202
        ticking.now += 60
    assert lookups == [token]


def test_a_revoked_token_is_refused_within_the_check_interval(
    collector: Collector, ticking: Ticking
) -> None:
    collector.agent_token("sw1")
    assert collector.push("sw1", [result("disk", "OK")]).status_code == 202
    with collector.sessions() as session, session.begin():
        assert revoke_tokens(session, utc_now(), host="sw1") == 1
    ticking.now += 1  # inside the window the cache may still serve it
    assert collector.push("sw1", [result("disk", "OK")]).status_code == 202
    ticking.now += 5
    refused = collector.push("sw1", [result("disk", "OK")])
    assert refused.status_code == 401
    assert refused.json()["detail"] == "unknown or revoked token"
    collector.agent_token("sw2")  # tokens still valid are served again
    assert collector.push("sw2", [result("disk", "OK")]).status_code == 202


def test_a_deleted_token_is_refused_within_the_check_interval(
    collector: Collector, ticking: Ticking
) -> None:
    token = collector.agent_token("sw1")
    assert collector.push("sw1", [result("disk", "OK")]).status_code == 202
    with collector.sessions() as session, session.begin():
        session.execute(delete(Token).where(Token.token_hash == hash_token(token)))
    ticking.now += 5
    assert collector.push("sw1", [result("disk", "OK")]).status_code == 401


def test_a_lookup_from_before_a_revocation_is_not_remembered(collector: Collector) -> None:
    clock = Ticking()
    cache = PrincipalCache(clock=clock)
    token = collector.agent_token("sw1")
    with collector.sessions() as session:
        cache.check(session)  # the signature before
    started = cache.generation  # a lookup begins, reads the token as live...
    with collector.sessions() as session, session.begin():
        revoke_tokens(session, utc_now(), host="sw1")
    with collector.sessions() as session:
        cache.check(session)  # ...the revocation is noticed before it finishes
    cache.put(token, Principal("agent", "sw1", 1, "sw1"), started)
    assert cache.get(token) is None


def test_token_revoke_command(
    collector: Collector,
    ticking: Ticking,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PORTACARE_DATABASE_URL", collector.settings.database_url)
    collector.agent_token("sw1")
    noc = collector.noc_token("noc-bob")
    assert collector.push("sw1", [result("disk", "OK")]).status_code == 202
    assert cli.main(["token", "revoke", "--host", "sw1"]) == 0
    assert cli.main(["token", "revoke", "--name", "noc-bob"]) == 0
    assert capsys.readouterr().out.splitlines() == ["revoked 1 token", "revoked 1 token"]
    assert cli.main(["token", "revoke", "--host", "sw1"]) == cli.EXIT_ERROR  # none live
    assert "no live token of host 'sw1'" in capsys.readouterr().err
    ticking.now += 5
    assert collector.push("sw1", [result("disk", "OK")]).status_code == 401
    reading = collector.client.get("/api/v1/hosts", headers=collector.auth(noc))
    assert reading.status_code == 401
