"""Benchmarks: each product figure beside a baseline measured in the same run.

`python -m bench` runs the scenarios (see `bench/__main__.py`); they measure, they do not
test. The machines are shared and noisy, so every figure is a ratio against a baseline
run interleaved with it, round after round.
"""
