"""Benchmark conventions (read by benchmarks/report.py).

* Every comparison is one pytest-benchmark *group* (``@pytest.mark.benchmark(group="...")``)
  holding our implementation and its anchors, measured in the same run on the same input.
* Our function's test name ends in ``_ours``; every other test in the group is an anchor and
  its name ends in ``_<anchor name>`` (e.g. ``test_sauvola_a4_doxapy``).
* ``make bench`` writes build/bench.json and report.py prints, per group, each anchor's time
  divided by ours ("x faster").  Timings are never asserted.
* Anchors that are not installed are skipped with ``pytest.importorskip``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # import synth
