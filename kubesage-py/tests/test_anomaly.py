"""kubesage.anomaly: detect on numpy, lists and pandas; streaming Detector; DetectorBank."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import pandas as pd
import pytest

import kubesage
from kubesage import anomaly

T0 = 1_700_000_000  # Unix seconds
MINUTE = 60


def flat_noise(n: int, seed: int = 0) -> np.ndarray:
    """Bounded noise around a constant level: nothing in it is an anomaly."""
    return 50.0 + np.random.default_rng(seed).uniform(-2.0, 2.0, n)


def assert_scores(scores: np.ndarray, n: int) -> None:
    assert isinstance(scores, np.ndarray)
    assert scores.dtype == np.float64 and scores.shape == (n,)
    assert np.all((scores >= 0.0) & (scores <= 1.0)), scores


def phase_break(seed: int = 0) -> Tuple[np.ndarray, np.ndarray, int]:
    """Ten days of a daily cycle sampled every minute, starting on a Thursday at midnight UTC.

    After eight days the *timestamps* jump ahead by twelve hours while the values carry on
    as before: the sequence of values alone is a perfect cycle, but from then on the series
    is at its peak when it should be at its trough. Only the time of day shows it.
    Returns (timestamps, values, index of the jump).
    """
    per_day = 86_400 // MINUTE
    n = 10 * per_day
    i = np.arange(n)
    values = 100.0 + 40.0 * np.sin(2 * np.pi * i / per_day) + np.random.default_rng(seed).uniform(-1.0, 1.0, n)
    # 2024-01-04 00:00 UTC was a Thursday, like 1970-01-01: without timestamps (points a
    # minute apart from 0) the day and week line up exactly with the real ones.
    timestamps = 1_704_326_400 + MINUTE * i
    jump = 8 * per_day
    timestamps[jump:] += 12 * 3600
    return timestamps, values, jump


class TestDetect:
    def test_numpy_float_array(self) -> None:
        x = flat_noise(500)
        scores = anomaly.detect(x)
        assert_scores(scores, 500)
        # The input is read, not changed.
        assert np.array_equal(x, flat_noise(500))

    def test_int_arrays_lists_and_tuples_are_converted(self) -> None:
        ints = np.random.default_rng(1).integers(40, 60, 400)
        expected = anomaly.detect(ints.astype(np.float64))
        assert np.array_equal(anomaly.detect(ints), expected)
        assert np.array_equal(anomaly.detect(ints.astype(np.int32)), expected)
        assert np.array_equal(anomaly.detect(ints.tolist()), expected)
        assert np.array_equal(anomaly.detect(tuple(ints.tolist())), expected)
        assert np.array_equal(anomaly.detect(ints.astype(np.float32)), expected)

    def test_non_contiguous_and_read_only_arrays(self) -> None:
        x = flat_noise(800)
        expected = anomaly.detect(x[::2].copy())
        assert np.array_equal(anomaly.detect(x[::2]), expected)
        frozen = x.copy()
        frozen.flags.writeable = False
        assert np.array_equal(anomaly.detect(frozen), anomaly.detect(x))

    def test_explicit_timestamps(self) -> None:
        x = flat_noise(300)
        ts = T0 + 300 * np.arange(300)
        scores = anomaly.detect(x, ts)
        assert_scores(scores, 300)
        assert np.array_equal(anomaly.detect(x, ts.tolist()), scores)
        assert np.array_equal(anomaly.detect(x, ts.astype("datetime64[s]")), scores)
        assert np.array_equal(anomaly.detect(x, pd.to_datetime(ts, unit="s")), scores)

    def test_without_timestamps_points_are_a_minute_apart(self) -> None:
        _, values, _ = phase_break()
        implicit = MINUTE * np.arange(len(values))
        assert np.array_equal(anomaly.detect(values), anomaly.detect(values, implicit))

    def test_pandas_series_without_a_datetime_index_is_plain_values(self) -> None:
        x = flat_noise(400)
        assert np.array_equal(anomaly.detect(pd.Series(x)), anomaly.detect(x))
        assert np.array_equal(anomaly.detect(pd.Series(x, index=np.arange(1000, 1400))), anomaly.detect(x))

    def test_a_spike_scores_high_and_stands_out(self) -> None:
        x = flat_noise(1000)
        x[800] = 90.0
        scores = anomaly.detect(x)
        assert scores[800] >= 0.5
        assert scores[800] > scores[300:800].max()

    def test_flat_noise_stays_below_the_threshold_after_warm_up(self) -> None:
        scores = anomaly.detect(flat_noise(1000))
        assert scores[:300].max() == 0.0  # warm-up
        assert scores[300:].max() < 0.5

    def test_gaussian_noise_rarely_alarms(self) -> None:
        x = 50.0 + np.random.default_rng(2).normal(0.0, 1.0, 5000)
        scores = anomaly.detect(x)
        assert np.mean(scores[300:] >= 0.5) < 0.01

    def test_nan_is_a_gap_scored_zero_and_does_not_poison_what_follows(self) -> None:
        x = flat_noise(1000)
        x[800] = 90.0
        x[500] = np.nan
        x[600:650] = np.nan
        scores = anomaly.detect(x)
        assert_scores(scores, 1000)
        assert not np.isnan(scores).any()
        assert scores[500] == 0.0 and scores[600:650].max() == 0.0
        assert scores[660:800].max() < 0.5
        assert scores[800] >= 0.5

    @pytest.mark.parametrize("name", anomaly.detectors())
    def test_every_detector_scores_within_0_and_1(self, name: str) -> None:
        x = flat_noise(1500)
        x[1000], x[1001], x[1200] = 1e12, -1e12, np.nan
        x[1300] = np.inf
        assert_scores(anomaly.detect(x, detector=name), 1500)

    def test_detector_names(self) -> None:
        names = anomaly.detectors()
        assert names[0] == "default"
        assert {"default", "mad", "ewma", "seasonal"} <= set(names)

    @pytest.mark.parametrize(
        "values, timestamps",
        [
            (np.array([], dtype=np.float64), None),
            ([], None),
            (np.array([], dtype=np.float64), np.array([], dtype=np.int64)),
            (pd.Series([], dtype=np.float64), None),
            (pd.Series([], dtype=np.float64, index=pd.DatetimeIndex([])), None),
        ],
    )
    def test_empty_input_gives_an_empty_result(self, values: object, timestamps: object) -> None:
        assert_scores(anomaly.detect(values, timestamps), 0)

    def test_the_compiled_detect_takes_float64_and_int64_arrays(self) -> None:
        x = flat_noise(200)
        ts = T0 + MINUTE * np.arange(200, dtype=np.int64)
        assert np.array_equal(kubesage._kubesage.detect(x, ts, "default"), anomaly.detect(x, ts))


class TestTimeOfDay:
    def test_a_break_in_the_daily_cycle_is_found_only_with_timestamps(self) -> None:
        timestamps, values, jump = phase_break()
        with_time = anomaly.detect(values, timestamps)
        without = anomaly.detect(values)
        per_day = 86_400 // MINUTE
        # Before the jump the two clocks agree to the second of the week: same scores.
        assert np.array_equal(with_time[:jump], without[:jump])
        # The learned cycle is quiet ...
        assert with_time[3 * per_day : jump].max() < 0.5
        # ... until the series runs twelve hours out of phase, which only the timestamps show.
        assert with_time[jump:].max() >= 0.5
        assert without[jump:].max() < 0.5

    def test_a_series_with_a_datetime_index_gives_the_same_length_in_0_1(self) -> None:
        timestamps, values, _ = phase_break()
        index = pd.to_datetime(timestamps, unit="s")
        series = pd.Series(values, index=index)
        for scores in (anomaly.detect(series), anomaly.detect(series.to_numpy()), anomaly.detect(values)):
            assert_scores(scores, len(values))

    @pytest.mark.parametrize("tz", [None, "UTC", "Europe/Berlin"])
    @pytest.mark.parametrize(
        "unit",
        [
            "ns",
            "us",
            "ms",
            "s",
        ],
    )
    def test_a_datetime_index_supplies_unix_seconds(self, unit: str, tz: str) -> None:
        timestamps, values, jump = phase_break()
        index = pd.to_datetime(timestamps, unit="s", utc=tz is not None)
        if tz is not None:
            index = index.tz_convert(tz)
        if hasattr(index, "as_unit"):
            index = index.as_unit(unit)
        elif unit != "ns":
            pytest.skip("pandas < 2 has nanosecond indexes only")
        series = pd.Series(values, index=index)
        v, t = anomaly.as_arrays(series)
        assert t is not None and np.array_equal(t, timestamps)
        scores = anomaly.detect(series)
        assert np.array_equal(scores, anomaly.detect(values, timestamps))
        assert scores[jump:].max() >= 0.5

    @pytest.mark.parametrize("container", ["index", "series", "list"])
    def test_time_zone_aware_timestamps(self, container: str) -> None:
        timestamps, values, _ = phase_break()
        index = pd.to_datetime(timestamps, unit="s", utc=True).tz_convert("Europe/Berlin")
        given = {"index": index, "series": pd.Series(index), "list": list(index)}[container]
        assert np.array_equal(anomaly.detect(values, given), anomaly.detect(values, timestamps))

    def test_explicit_timestamps_win_over_the_index(self) -> None:
        timestamps, values, _ = phase_break()
        series = pd.Series(values, index=pd.date_range("2000-01-01", periods=len(values), freq="s"))
        assert np.array_equal(anomaly.detect(series, timestamps), anomaly.detect(values, timestamps))


class TestNab:
    def test_a_nab_series_from_csv(self, nab_dir: Path) -> None:
        name = "realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv"
        series = pd.read_csv(nab_dir / "data" / name, index_col="timestamp", parse_dates=True)["value"]
        scores = anomaly.detect(series)
        assert_scores(scores, len(series))
        (window,) = json.loads((nab_dir / "combined_windows.json").read_text())[name]
        inside = (series.index >= pd.Timestamp(window[0])) & (series.index <= pd.Timestamp(window[1]))
        assert scores[inside].max() >= 0.5, "the labelled anomaly window holds no detection"


class TestDetector:
    @pytest.mark.parametrize("name", anomaly.detectors())
    def test_point_by_point_equals_detect(self, name: str) -> None:
        x = flat_noise(1200)
        x[900] = 80.0
        ts = T0 + MINUTE * np.arange(len(x))
        whole = anomaly.detect(x, ts, detector=name)
        d = anomaly.Detector(name)
        one_by_one = np.array([d.score(int(t), float(v)) for t, v in zip(ts, x)])
        assert np.array_equal(one_by_one, whole)

    @pytest.mark.parametrize("name", anomaly.detectors())
    def test_score_batch_continues_the_state(self, name: str) -> None:
        x = flat_noise(1200)
        x[900] = 80.0
        ts = T0 + MINUTE * np.arange(len(x))
        whole = anomaly.detect(x, ts, detector=name)
        d = anomaly.Detector(name)
        parts = [d.score_batch(x[a:b], ts[a:b]) for a, b in [(0, 1), (1, 400), (400, 400), (400, 1000), (1000, 1200)]]
        for p in parts:
            assert p.dtype == np.float64
        assert np.array_equal(np.concatenate(parts), whole)
        # Mixing single points and batches is the same stream.
        d = anomaly.Detector(name)
        head = d.score_batch(x[:600], ts[:600])
        middle = [d.score(int(t), float(v)) for t, v in zip(ts[600:700], x[600:700])]
        tail = d.score_batch(x[700:], ts[700:])
        assert np.array_equal(np.concatenate([head, middle, tail]), whole)

    def test_score_batch_without_timestamps_continues_the_clock(self) -> None:
        _, values, _ = phase_break()
        whole = anomaly.detect(values, detector="seasonal")
        d = anomaly.Detector("seasonal")
        parts = [d.score_batch(np.ascontiguousarray(c)) for c in np.array_split(values, 7)]
        assert np.array_equal(np.concatenate(parts), whole)

    def test_attributes(self) -> None:
        d = anomaly.Detector()
        assert d.name == "default" and repr(d) == "<Detector default>"
        assert anomaly.Detector("mad").name == "mad"
        assert isinstance(d.memory_bytes, int) and d.memory_bytes > 0
        d.score_batch(flat_noise(2000))
        assert d.memory_bytes < 1_000_000

    def test_a_nan_point_scores_zero(self) -> None:
        d = anomaly.Detector()
        d.score_batch(flat_noise(500), T0 + MINUTE * np.arange(500))
        assert d.score(T0 + 500 * MINUTE, float("nan")) == 0.0
        assert 0.0 <= d.score(T0 + 501 * MINUTE, 50.0) < 0.5


def labels(pod: str) -> Dict[str, str]:
    return {"namespace": "shop", "pod": pod}


class TestDetectorBank:
    def test_label_sets_keep_separate_state(self) -> None:
        bank = anomaly.DetectorBank("mad")
        assert len(bank) == 0
        for i in range(300):
            bank.score(labels("a"), T0 + MINUTE * i, 10.0 + i % 3)
            bank.score(labels("b"), T0 + MINUTE * i, 1000.0 + i % 5)
        assert len(bank) == 2
        t = T0 + MINUTE * 300
        # 1001 is ordinary for b and wildly abnormal for a.
        assert bank.score(labels("b"), t, 1001.0) < 0.2
        assert bank.score(labels("a"), t, 1001.0) > 0.9
        # Label order does not matter: a dict is a set of labels.
        assert bank.score({"pod": "b", "namespace": "shop"}, t + MINUTE, 1002.0) < 0.2
        assert len(bank) == 2

    def test_each_series_scores_as_a_fresh_detector_would(self) -> None:
        x = flat_noise(1000)
        x[700] = 90.0
        ts = T0 + MINUTE * np.arange(1000)
        bank = anomaly.DetectorBank()
        a = bank.score_series(labels("a"), x, ts)
        bank.score_series(labels("b"), x[::-1].copy(), ts)
        assert np.array_equal(a, anomaly.detect(x, ts))
        # Streaming into the bank, interleaved with another series, gives the same scores.
        bank = anomaly.DetectorBank()
        streamed = []
        for t, v in zip(ts, x):
            streamed.append(bank.score(labels("a"), int(t), float(v)))
            bank.score(labels("b"), int(t), 3.0)
        assert np.array_equal(np.array(streamed), a)

    def test_max_series_bounds_the_bank(self) -> None:
        bank = anomaly.DetectorBank(max_series=10)
        for i in range(100):
            bank.score(labels(f"pod-{i}"), T0, 1.0)
            assert len(bank) <= 10
        assert len(bank) >= 1

    def test_a_series_in_constant_use_is_kept(self) -> None:
        bank = anomaly.DetectorBank(max_series=20)
        hot = flat_noise(600)
        for i, v in enumerate(hot):
            bank.score(labels("hot"), T0 + MINUTE * i, float(v))
            bank.score(labels(f"cold-{i}"), T0, 1.0)
        assert len(bank) <= 20
        # "hot" still has its history: a spike now scores high (a fresh detector would say 0).
        assert bank.score(labels("hot"), T0 + MINUTE * 600, 90.0) >= 0.5

    def test_memory_grows_with_series(self) -> None:
        bank = anomaly.DetectorBank("mad")
        assert bank.memory_bytes == 0
        bank.score(labels("a"), T0, 1.0)
        one = bank.memory_bytes
        bank.score(labels("b"), T0, 1.0)
        assert 0 < one < bank.memory_bytes
