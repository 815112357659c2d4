#!/usr/bin/env python
"""Benchmark kuavo's data pipeline and training against lerobot's own (see docs/performance.md).

Usage: .venv/bin/python benchmarks/bench_pipeline.py [kuavo bench options], e.g.
    .venv/bin/python benchmarks/bench_pipeline.py --episodes 5 --length 100 --json
Same as `kuavo bench`; every option is listed by `kuavo bench --help`.
"""

from __future__ import annotations

import sys

from kuavo_cli.cli.app import main

if __name__ == "__main__":
    main(["bench", *sys.argv[1:]])
