"""Benchmark harness for taskq and its peers (issue 5). Entry point: scripts/bench.

Layout:
  bench (entry)   bootstrap venvs, start a throwaway server, run cases in subprocesses, report
  env.py          one venv per peer under .bench/venvs (peers' redis pins conflict)
  server.py       the throwaway redis-server on a free port
  procs.py        process groups, timeouts, RSS/PSS of a process tree via /proc
  cases.py        the measurements; runs inside a peer's venv (`python -m benchlib.cases`)
  peer.py         the small Protocol every peer adapter implements
  sink.py         what bench tasks use to record times cheaply (a raw RPUSH, no client lib)
  report.py       medians, the markdown table, targets
  peers/*.py      one adapter (and its task functions) per system
"""
