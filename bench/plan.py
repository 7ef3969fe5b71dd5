"""How big and how long: the full run of ``make bench`` and the ``--quick`` one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    name: str
    load_seconds: float  # each measured wrk run
    warmup_seconds: float  # wrk before it, not counted
    connections: int
    agents: int  # simulated agents (hosts with their own token) cycled over the connections
    noc_hosts: int
    noc_checks_per_host: int
    noc_history: int
    noc_tickets: int
    noc_requests: int  # per NOC endpoint (bounded by noc_seconds too)
    noc_seconds: float
    sweep_tickets: int
    agent_seconds: float
    agent_settle_seconds: float
    profile: bool = True  # py-spy the collector when it misses a target (ingest, NOC reads)
    profile_seconds: float = 8
    noc_min_samples: int = 5  # even when an endpoint is slow
    cpu_batches: int = 2400  # batches stored in-process for the CPU-per-batch figures
    # Icinga 2 and the SQLite collector measured this many times each, taking turns; each
    # figure is the median run (a shared machine's speed drifts by 15-25 % between minutes)
    rounds: int = 3


FULL = Plan(
    name="full",
    load_seconds=12,
    warmup_seconds=3,
    connections=16,
    agents=1000,
    noc_hosts=10_000,
    noc_checks_per_host=15,
    noc_history=5_000_000,
    noc_tickets=50_000,
    noc_requests=100,
    noc_seconds=20,
    sweep_tickets=10_000,
    agent_seconds=60,
    agent_settle_seconds=65,  # past the first runs, spread over up to 60 s
)

QUICK = Plan(
    name="quick",
    load_seconds=3,
    warmup_seconds=1,
    connections=16,
    agents=200,
    noc_hosts=2_000,
    noc_checks_per_host=15,
    noc_history=200_000,
    noc_tickets=10_000,
    noc_requests=20,
    noc_seconds=4,
    sweep_tickets=10_000,
    agent_seconds=10,
    rounds=1,
    agent_settle_seconds=3,
    profile=False,
    profile_seconds=5,
    noc_min_samples=3,
    cpu_batches=400,
)
