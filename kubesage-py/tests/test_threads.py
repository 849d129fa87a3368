"""Calls release the GIL: many threads at once give exactly the results of sequential calls."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

import kubesage
from kubesage import anomaly

THREADS = 8


def series(seed: int, n: int = 20_000) -> Tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = 50.0 + rng.normal(0.0, 2.0, n)
    values[rng.integers(1_000, n, 5)] += 40.0
    values[rng.integers(0, n, 20)] = np.nan
    timestamps = 1_700_000_000 + 60 * np.arange(n)
    return values, timestamps


def detect_job(seed: int) -> np.ndarray:
    values, timestamps = series(seed)
    return anomaly.detect(values, timestamps, detector=anomaly.detectors()[seed % len(anomaly.detectors())])


def scan_job(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    return kubesage.scan(demo=True, **kwargs).to_dict()


SCANS: List[Dict[str, Any]] = [
    {},
    {"namespace": "shop"},
    {"selector": "app.kubernetes.io/name=checkout"},
    {"analyzers": ["pod", "service"]},
]


def test_detect_in_threads_equals_sequential() -> None:
    seeds = list(range(3 * THREADS))
    sequential = [detect_job(s) for s in seeds]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        threaded = list(pool.map(detect_job, seeds))
    for s, a, b in zip(seeds, sequential, threaded):
        assert np.array_equal(a, b), f"seed {s}"


def test_scan_in_threads_equals_sequential() -> None:
    jobs = SCANS * 4
    sequential = [scan_job(k) for k in jobs]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        threaded = list(pool.map(scan_job, jobs))
    assert threaded == sequential


def test_scan_and_detect_mixed_in_threads(snapshot_file: Path) -> None:
    def job(i: int) -> Any:
        if i % 3 == 0:
            return scan_job(SCANS[i % len(SCANS)])
        if i % 3 == 1:
            return kubesage.scan(snapshot=snapshot_file).to_dict()
        return detect_job(i).tolist()

    jobs = list(range(4 * THREADS))
    sequential = [job(i) for i in jobs]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        threaded = list(pool.map(job, jobs))
    assert threaded == sequential


def test_one_streaming_detector_per_thread() -> None:
    def job(seed: int) -> np.ndarray:
        values, timestamps = series(seed, 5_000)
        d = anomaly.Detector()
        return np.concatenate([d.score_batch(values[a : a + 500], timestamps[a : a + 500]) for a in range(0, 5_000, 500)])

    seeds = list(range(THREADS))
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        threaded = list(pool.map(job, seeds))
    for seed, scores in zip(seeds, threaded):
        values, timestamps = series(seed, 5_000)
        assert np.array_equal(scores, anomaly.detect(values, timestamps))


def test_errors_in_threads_are_raised_in_the_caller(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"

    def job(i: int) -> Any:
        if i % 2:
            return kubesage.scan(snapshot=missing)
        return anomaly.detect([1.0, 2.0], detector="nope")

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(job, i) for i in range(2 * THREADS)]
        for i, f in enumerate(futures):
            with pytest.raises(kubesage.SnapshotError if i % 2 else kubesage.DetectorError):
                f.result()
