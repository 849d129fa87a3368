"""Every failure is one exception class under kubesage.KubeSageError, with a useful message."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Callable, Tuple, Type

import numpy as np
import pytest

import kubesage
from kubesage import anomaly

ERRORS = [
    kubesage.InvalidInputError,
    kubesage.SnapshotError,
    kubesage.ClusterError,
    kubesage.DetectorError,
    kubesage.PrometheusError,
]


def raises(kind: Type[BaseException], call: Callable[[], Any]) -> str:
    """Runs `call`, checks it raises `kind` (and so KubeSageError), and returns the message."""
    with pytest.raises(kind) as info:
        call()
    assert isinstance(info.value, kubesage.KubeSageError)
    message = str(info.value)
    assert message
    return message


def write_kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: {server}
contexts:
- name: local
  context:
    cluster: local
    user: someone
current-context: local
users:
- name: someone
  user:
    token: not-a-real-token
"""
    )
    return path


class TestHierarchy:
    @pytest.mark.parametrize("kind", ERRORS, ids=lambda k: k.__name__)
    def test_every_error_is_a_kubesage_error(self, kind: Type[Exception]) -> None:
        assert issubclass(kind, kubesage.KubeSageError)
        assert issubclass(kubesage.KubeSageError, Exception)
        assert kind is getattr(kubesage, kind.__name__) is getattr(kubesage._kubesage, kind.__name__)

    def test_errors_are_distinct(self) -> None:
        assert len(set(ERRORS)) == len(ERRORS)
        for a in ERRORS:
            for b in ERRORS:
                assert (a is b) == issubclass(a, b)

    def test_errors_pickle(self) -> None:
        error = kubesage.SnapshotError("cannot read x")
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is kubesage.SnapshotError and str(again) == "cannot read x"


class TestDetectInput:
    def test_mismatched_lengths(self) -> None:
        message = raises(kubesage.InvalidInputError, lambda: anomaly.detect([1.0, 2.0, 3.0], [1, 2]))
        assert "3 values but 2 timestamps" in message
        # The compiled function checks too.
        message = raises(
            kubesage.InvalidInputError,
            lambda: kubesage._kubesage.detect(np.zeros(3), np.arange(2, dtype=np.int64), "default"),
        )
        assert "3 values but 2 timestamps" in message

    @pytest.mark.parametrize(
        "values",
        [
            "abc",
            ["a", "b"],
            [1.0, "x"],
            {"a": 1},
            [[1.0, 2.0], [3.0]],
            np.array(["1", "x"]),
        ],
        ids=["str", "list-of-str", "mixed", "dict", "ragged", "str-array"],
    )
    def test_non_numeric_values(self, values: object) -> None:
        assert "numeric" in raises(kubesage.InvalidInputError, lambda: anomaly.detect(values))

    @pytest.mark.parametrize("shape", [(3, 3), (2, 1), (1, 4), (2, 2, 2)])
    def test_values_must_be_one_dimensional(self, shape: Tuple[int, ...]) -> None:
        message = raises(kubesage.InvalidInputError, lambda: anomaly.detect(np.zeros(shape)))
        assert "one-dimensional" in message

    @pytest.mark.parametrize("values", ["123", 3.0, None], ids=["numeric-str", "scalar", "None"])
    def test_scalars_are_not_series(self, values: object) -> None:
        raises(kubesage.InvalidInputError, lambda: anomaly.detect(values))

    def test_bad_timestamps(self) -> None:
        message = raises(kubesage.InvalidInputError, lambda: anomaly.detect([1.0, 2.0], ["a", "b"]))
        assert "timestamps" in message
        raises(kubesage.InvalidInputError, lambda: anomaly.detect([1.0, 2.0], np.zeros((2, 1), dtype=np.int64)))

    def test_streaming_mismatched_lengths(self) -> None:
        d = anomaly.Detector()
        raises(kubesage.InvalidInputError, lambda: d.score_batch(np.zeros(3), np.arange(2, dtype=np.int64)))
        bank = anomaly.DetectorBank()
        raises(
            kubesage.InvalidInputError,
            lambda: bank.score_series({"pod": "a"}, np.zeros(3), np.arange(2, dtype=np.int64)),
        )
        assert len(bank) == 0

    @pytest.mark.parametrize(
        "call",
        [
            lambda: anomaly.detect([1.0, 2.0], detector="nope"),
            lambda: anomaly.Detector("nope"),
            lambda: anomaly.DetectorBank("nope"),
            lambda: kubesage._kubesage.detect(np.zeros(2), None, "nope"),
        ],
        ids=["detect", "Detector", "DetectorBank", "compiled-detect"],
    )
    def test_unknown_detector(self, call: Callable[[], Any]) -> None:
        message = raises(kubesage.DetectorError, call)
        assert '"nope"' in message and "default" in message


class TestScanErrors:
    def test_missing_snapshot_names_the_path(self, tmp_path: Path) -> None:
        missing = tmp_path / "no-such-dir" / "snap.json"
        message = raises(kubesage.SnapshotError, lambda: kubesage.scan(snapshot=missing))
        assert str(missing) in message

    def test_a_missing_file_among_good_ones(self, snapshot_file: Path, tmp_path: Path) -> None:
        missing = tmp_path / "gone.yaml"
        message = raises(kubesage.SnapshotError, lambda: kubesage.scan(snapshot=[snapshot_file, missing]))
        assert str(missing) in message

    def test_malformed_json(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.json"
        bad.write_text('{"apiVersion": "v1", "kind": "List", "items": [')
        message = raises(kubesage.SnapshotError, lambda: kubesage.scan(snapshot=bad))
        assert str(bad) in message

    def test_json_that_is_not_kubernetes(self, tmp_path: Path) -> None:
        other = tmp_path / "other.json"
        other.write_text('{"hello": "world"}')
        message = raises(kubesage.SnapshotError, lambda: kubesage.scan(snapshot=other))
        assert str(other) in message and "kind" in message

    def test_wrong_field_types(self, tmp_path: Path) -> None:
        wrong = tmp_path / "wrong.json"
        wrong.write_text('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": 5, "namespace": "x"}}')
        assert str(wrong) in raises(kubesage.SnapshotError, lambda: kubesage.scan(snapshot=wrong))

    def test_a_folder_without_snapshots(self, tmp_path: Path) -> None:
        (tmp_path / "notes.txt").write_text("nothing here")
        message = raises(kubesage.SnapshotError, lambda: kubesage.scan(snapshot=tmp_path))
        assert str(tmp_path) in message

    @pytest.mark.parametrize("selector", ["app in (a", "=x", "!!", "a==b==c", "app notin x"])
    def test_bad_selector(self, selector: str) -> None:
        message = raises(kubesage.InvalidInputError, lambda: kubesage.scan(demo=True, selector=selector))
        assert selector in message

    def test_bad_selector_on_a_snapshot(self, snapshot_file: Path) -> None:
        raises(kubesage.InvalidInputError, lambda: kubesage.scan(snapshot=snapshot_file, selector="app in (a"))

    def test_unknown_analyzer(self) -> None:
        message = raises(kubesage.InvalidInputError, lambda: kubesage.scan(demo=True, analyzers=["pod", "nope"]))
        assert '"nope"' in message and "pod" in message

    def test_demo_and_snapshot_together(self, snapshot_file: Path) -> None:
        raises(kubesage.InvalidInputError, lambda: kubesage.scan(demo=True, snapshot=snapshot_file))

    def test_unreachable_api_server(self, tmp_path: Path, closed_port: int) -> None:
        server = f"http://127.0.0.1:{closed_port}"
        config = write_kubeconfig(tmp_path / "kubeconfig", server)
        message = raises(kubesage.ClusterError, lambda: kubesage.scan(kubeconfig=config))
        assert f"127.0.0.1:{closed_port}" in message
        # A str path works the same.
        raises(kubesage.ClusterError, lambda: kubesage.scan(kubeconfig=str(config), context="local"))

    def test_unknown_context(self, tmp_path: Path, closed_port: int) -> None:
        config = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{closed_port}")
        message = raises(kubesage.ClusterError, lambda: kubesage.scan(kubeconfig=config, context="no-such-context"))
        assert "no-such-context" in message

    def test_missing_kubeconfig(self, tmp_path: Path) -> None:
        missing = tmp_path / "no-kubeconfig"
        assert str(missing) in raises(kubesage.ClusterError, lambda: kubesage.scan(kubeconfig=missing))


class TestPrometheusErrors:
    def test_closed_port(self, closed_port: int) -> None:
        url = f"http://127.0.0.1:{closed_port}"
        message = raises(
            kubesage.PrometheusError, lambda: anomaly.prometheus_range(url, "up", 1_700_000_000, 1_700_003_600, 60, timeout=5)
        )
        assert f"127.0.0.1:{closed_port}" in message
        raises(
            kubesage.PrometheusError,
            lambda: anomaly.prometheus_range(url, "up", 1_700_000_000, 1_700_003_600, 60, timeout=5, as_frame=True),
        )

    def test_invalid_url(self) -> None:
        message = raises(kubesage.PrometheusError, lambda: anomaly.prometheus_range("not a url", "up", 0, 600, 60))
        assert "not a url" in message

    @pytest.mark.parametrize("timeout", [0.0, -1.0, float("nan"), float("inf")])
    def test_bad_timeout(self, timeout: float, closed_port: int) -> None:
        url = f"http://127.0.0.1:{closed_port}"
        message = raises(kubesage.InvalidInputError, lambda: anomaly.prometheus_range(url, "up", 0, 600, 60, timeout=timeout))
        assert "timeout" in message
