"""PortaCare's benchmarks (issue 6): ``make bench`` or ``python -m bench [--quick] [--only NAME]``.

Performance lives only here, never in the test run's pass/fail. Every figure is
measured next to a baseline in the same run on the same machine and reported as
a ratio to it, because absolute numbers from a shared 2-core machine mean little:

    python -m bench                 # everything, full size (about 10 minutes)
    python -m bench --quick         # smaller data and shorter runs (about 2 minutes)
    python -m bench --only ingest   # one benchmark: ingest, noc, sweep, agent

Results go to ``bench/results/latest.json`` and ``bench/results/latest.md``; the
Markdown table is copied into ``docs/benchmarks.md``.
"""
