"""GET /api/v1/tickets: the queue by nearest deadline, a page at a time."""

from __future__ import annotations

from ...support.collector import Collector, result, walk_pages


def _open_tickets(c: Collector, count: int) -> list[int]:
    """``count`` tickets opened a minute apart: deadlines in opening order (same priority)."""
    for n in range(count):
        c.clock.advance(minutes=1)
        assert (
            c.push(f"h{n}.example", [result("disk", "CRITICAL", at=c.clock())]).status_code == 202
        )
    return [t["number"] for t in c.get("/api/v1/tickets", limit=1000)]


def test_pages_walk_the_queue_in_deadline_order_once(collector: Collector) -> None:
    numbers = _open_tickets(collector, 7)
    assert len(numbers) == 7
    dues = [t["first_response_due"] for t in collector.get("/api/v1/tickets")]
    assert dues == sorted(dues)
    pages, last = walk_pages(collector, "/api/v1/tickets?limit=3")
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [n for p in pages for n in p] == numbers
    assert "link" not in last.headers


def test_tickets_with_the_same_deadline_are_neither_lost_nor_repeated(
    collector: Collector,
) -> None:
    for n in range(5):  # one moment: five equal deadlines, ordered by number
        collector.push(f"same{n}.example", [result("disk", "CRITICAL")])
    pages, _ = walk_pages(collector, "/api/v1/tickets?limit=2")
    numbers = [n for p in pages for n in p]
    assert numbers == sorted(numbers) and len(set(numbers)) == 5


def test_a_filter_pages_too(collector: Collector) -> None:
    _open_tickets(collector, 4)
    collector.clock.advance(hours=1)
    pages, _ = walk_pages(collector, "/api/v1/tickets?state=open&limit=1")
    assert sum(len(p) for p in pages) == 4


def test_a_bad_position_is_422_naming_it(collector: Collector) -> None:
    for after in ("yesterday", "2026-11-26T12:00:00Z,x", ",5"):
        response = collector.client.get(
            "/api/v1/tickets",
            params={"after": after},
            headers=collector.auth(collector.noc_token()),
        )
        assert response.status_code == 422, after
        assert "after" in response.text
    late = collector.client.get(
        "/api/v1/tickets",
        params={"limit": 1001},
        headers=collector.auth(collector.noc_token()),
    )
    assert late.status_code == 422 and "limit" in late.text


def test_the_default_page_is_the_hundred_most_urgent(collector: Collector) -> None:
    for n in range(101):
        collector.push(f"x{n:03d}.example", [result("disk", "WARNING")])
    response = collector.client.get(
        "/api/v1/tickets", headers=collector.auth(collector.noc_token())
    )
    assert len(response.json()) == 100
    assert 'rel="next"' in response.headers["link"]
