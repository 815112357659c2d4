"""Benchmarks: `kuavo bench` (kuavo's data pipeline and training vs lerobot's, `api.py`), the GPU run behind
benchmarks/bench_gpu.py (`gpu.py`), and the simulator's speed (`python -m kuavo_cli.bench.sim`).

`pipeline.py` runs one data-pipeline variant per subprocess, `training.py` one training run per tool,
`memory.py` samples the peak memory of those process trees, `report.py` prints the tables."""
