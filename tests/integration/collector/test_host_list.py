"""GET /api/v1/hosts at fleet size: keyset pages by name, and "what is wrong now" filters."""

from __future__ import annotations

from datetime import timedelta

from ...support.collector import T0, Collector, result, walk_pages

# name -> its checks' statuses; "stale" pushes an OK 20 minutes in the past (3 intervals gone)
FLEET = {
    "a-ok.acme.example": ["OK", "OK"],
    "b-crit.acme.example": ["OK", "CRITICAL"],
    "c-warn.other.example": ["WARNING"],
    "d-ok.other.example": ["OK"],
    "e-stale.acme.example": ["stale"],
    "f-silent.other.example": ["OK"],
    "g-ok.acme.example": ["OK"],
}


def _fleet(c: Collector) -> None:
    c.clock.now = T0 - timedelta(minutes=30)
    c.push("f-silent.other.example", [result("disk", "OK", at=c.clock.now)])  # then quiet
    c.clock.now = T0
    for host, statuses in FLEET.items():
        if host.startswith("f-"):
            continue
        results = []
        for n, status in enumerate(statuses):
            if status == "stale":
                results.append(result(f"c{n}", "OK", at=T0 - timedelta(minutes=20)))
            else:
                results.append(result(f"c{n}", status, at=T0))
        assert c.push(host, results).status_code == 202


def test_pages_by_name_cover_every_host_once(collector: Collector) -> None:
    _fleet(collector)
    pages, last = walk_pages(collector, "/api/v1/hosts?limit=3")
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [h for p in pages for h in p] == sorted(FLEET)
    assert "link" not in last.headers  # the last page says so
    assert collector.get("/api/v1/hosts") == collector.get("/api/v1/hosts", limit=5000)


def test_the_failing_filter_shows_exactly_what_is_wrong(collector: Collector) -> None:
    _fleet(collector)
    failing = collector.get("/api/v1/hosts", status=["CRITICAL", "WARNING", "UNKNOWN"])
    shown = {h["host"]: (h["status"], h["silent"]) for h in failing}
    assert shown == {
        "b-crit.acme.example": ("CRITICAL", False),
        "c-warn.other.example": ("WARNING", False),
        "e-stale.acme.example": ("UNKNOWN", False),  # its only check went stale
        "f-silent.other.example": ("UNKNOWN", True),  # quiet for 30 minutes
    }
    pages, _ = walk_pages(collector, "/api/v1/hosts?status=UNKNOWN&limit=1")
    # a filtered walk may end on an empty page: more matches are known only by looking
    assert [h for p in pages for h in p] == ["e-stale.acme.example", "f-silent.other.example"]
    healthy = collector.get("/api/v1/hosts", status="OK")
    assert [h["host"] for h in healthy] == [
        "a-ok.acme.example",
        "d-ok.other.example",
        "g-ok.acme.example",
    ]


def test_one_customers_hosts(collector: Collector) -> None:
    collector.agent_token("b-crit.acme.example", customer="acme")
    collector.agent_token("a-ok.acme.example", customer="acme")
    _fleet(collector)
    acme = collector.get("/api/v1/hosts", customer="acme", status="CRITICAL")
    assert [h["host"] for h in acme] == ["b-crit.acme.example"]
    assert [h["host"] for h in collector.get("/api/v1/hosts", customer="acme")] == [
        "a-ok.acme.example",
        "b-crit.acme.example",
    ]


def test_bad_paging_and_filters_are_422_naming_the_parameter(collector: Collector) -> None:
    for query, field in (("limit=0", "limit"), ("limit=5001", "limit"), ("status=BAD", "status")):
        response = collector.client.get(
            f"/api/v1/hosts?{query}", headers=collector.auth(collector.noc_token())
        )
        assert response.status_code == 422, query
        assert field in response.text
