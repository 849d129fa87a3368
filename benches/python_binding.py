"""Binding overhead: the default detector over the same 1,000,000-point series from Python
(kubesage.anomaly.detect on numpy arrays) and in pure Rust (benches/anomaly.rs), in one run.

Usage: python benches/python_binding.py   (with the kubesage wheel installed; runs cargo)
Target: Python within 1.2x of pure Rust.
"""

import os
import re
import subprocess
import sys
import time

import numpy as np

import kubesage

N = 1_000_000
HERE = os.path.dirname(os.path.abspath(__file__))


def series(n):
    """The series of benches/anomaly.rs `series()`, bit for bit."""
    mask = (1 << 64) - 1
    state = 0x2545F4914F6CDD1D
    noise = np.empty(n)
    for i in range(n):
        state ^= (state << 13) & mask
        state ^= state >> 7
        state ^= (state << 17) & mask
        noise[i] = (state >> 11) / float(1 << 53) - 0.5
    i = np.arange(n)
    day = np.sin(i * 300.0 / 86_400.0 * 2.0 * np.pi)
    spike = np.where(i % 5_000 == 4_999, 40.0, 0.0)
    values = 50.0 + 20.0 * day + 4.0 * noise + spike
    stamps = 1_700_000_000 + 300 * i.astype(np.int64)
    return stamps, values


def main():
    stamps, values = series(N)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        scores = kubesage.anomaly.detect(values, stamps)
        best = min(best, time.perf_counter() - t0)
    assert scores.shape == (N,) and scores.dtype == np.float64
    py_rate = N / best

    env = dict(os.environ, KUBESAGE_BENCH="default")
    out = subprocess.run(
        ["cargo", "bench", "-q", "-p", "kubesage-benches", "--bench", "anomaly"],
        cwd=os.path.join(HERE, ".."), env=env, check=True, capture_output=True, text=True,
    ).stdout
    match = re.search(r"default\s+(\d+) points/s", out)
    if not match:
        sys.exit(f"no Rust figure in:\n{out}")
    rust_rate = float(match.group(1))
    ratio = rust_rate / py_rate
    print(f"pure Rust:            {rust_rate:>12,.0f} points/s")
    print(f"Python (numpy in/out): {py_rate:>11,.0f} points/s")
    print(f"binding overhead: {ratio:.2f}x (target <= 1.2x: {'met' if ratio <= 1.2 else 'NOT met'})")


if __name__ == "__main__":
    main()
