"""Tests of the installed kubesage package: scanning, anomaly detection, errors, threads."""

import concurrent.futures
import json
import pathlib
import socket

import numpy as np
import pandas as pd
import pytest

import kubesage
from kubesage import anomaly

NAB = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nab"


def test_installed_not_source_tree():
    assert "site-packages" in kubesage.__file__, kubesage.__file__


# --- scanning ---------------------------------------------------------------------------


def test_demo_scan_has_typed_findings():
    result = kubesage.scan(demo=True)
    assert isinstance(result, kubesage.ScanResult)
    assert len(result) == len(result.findings) >= 30
    f = result.findings[0]
    assert isinstance(f, kubesage.Finding)
    assert f.severity == "critical"
    assert len(f.id) == 16
    assert set(f.object) == {"kind", "namespace", "name"}
    assert f.evidence and all("type" in e for e in f.evidence)
    assert isinstance(f.next_steps, list) and isinstance(f.related, list)
    d = f.to_dict()
    assert {"id", "analyzer", "reason", "severity", "object", "summary", "evidence", "related"} <= set(d)
    whole = result.to_dict()
    assert whole["source"] == "embedded demo cluster"
    assert len(whole["findings"]) == len(result.findings)
    assert result.summary["critical"] == sum(1 for x in result.findings if x.severity == "critical")


def test_ids_are_stable_and_related_ids_resolve():
    a = [f.id for f in kubesage.scan(demo=True).findings]
    b = [f.id for f in kubesage.scan(demo=True).findings]
    assert a == b
    result = kubesage.scan(demo=True)
    ids = {f.id for f in result.findings}
    checkout = next(f for f in result.findings if f.object["kind"] == "Deployment" and f.object["name"] == "checkout")
    crashing = {f.id for f in result.findings if f.reason == "CrashLoopBackOff"}
    assert crashing and crashing <= set(checkout.related) <= ids


def test_scope_by_namespace_selector_and_analyzers():
    shop = kubesage.scan(demo=True, namespace="shop")
    assert shop.findings and all(f.object["namespace"] == "shop" for f in shop.findings)
    sel = kubesage.scan(demo=True, selector="app.kubernetes.io/name=checkout")
    assert sel.findings and all(f.object["name"].startswith("checkout") for f in sel.findings)
    nodes = kubesage.scan(demo=True, analyzers=["node"])
    assert {f.analyzer for f in nodes.findings} == {"node"}


def test_snapshot_paths(tmp_path):
    snap = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "spec": {"unschedulable": True},
             "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                                         "message": "container runtime is down"}]}},
        ],
    }
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(snap))
    for arg in (str(path), path, [path]):
        result = kubesage.scan(snapshot=arg)
        reasons = sorted(f.reason for f in result.findings)
        assert reasons == ["Cordoned", "NotReady"], reasons
        assert result.source.startswith("snapshot")


# --- anomaly detection -------------------------------------------------------------------


def noise(n, seed=1):
    return np.random.default_rng(seed).normal(40.0, 1.0, n)


def test_detect_returns_float_scores_and_finds_a_spike():
    values = noise(2000)
    values[1500] = 90.0
    scores = anomaly.detect(values)
    assert scores.dtype == np.float64 and scores.shape == values.shape
    assert ((scores >= 0) & (scores <= 1)).all()
    assert scores[1500] >= 0.5 and scores[1500] == scores.max()
    # Gaussian noise has tails: a few isolated alarms in 1,400 points is the default's
    # measured false-alarm rate at 0.5 (about one in 400 points); never a burst.
    assert (np.delete(scores, 1500)[600:] >= 0.5).sum() <= 8


def test_inputs_are_converted_from_lists_ints_and_pandas():
    ints = np.arange(500) % 7
    assert anomaly.detect(ints).shape == (500,)
    assert anomaly.detect(list(ints.astype(float))).shape == (500,)
    index = pd.date_range("2024-01-01", periods=1000, freq="5min")
    series = pd.Series(noise(1000), index=index)
    with_index = anomaly.detect(series)
    explicit = anomaly.detect(series.to_numpy(), index.asi8 // 1_000_000_000)
    np.testing.assert_array_equal(with_index, explicit)


def test_nan_is_a_gap_and_empty_is_empty():
    values = noise(1500)
    values[700:710] = np.nan
    scores = anomaly.detect(values)
    assert (scores[700:710] == 0).all()
    assert np.isfinite(scores).all()
    assert anomaly.detect(np.array([], dtype=float)).shape == (0,)


def test_streaming_equals_batch_and_continues_state():
    values = noise(3000, seed=3)
    values[2500] = 80.0
    stamps = 1_700_000_000 + 300 * np.arange(3000)
    batch = anomaly.detect(values, stamps)
    d = anomaly.Detector()
    streamed = np.array([d.score(int(t), float(v)) for t, v in zip(stamps, values)])
    np.testing.assert_array_equal(batch, streamed)
    d2 = anomaly.Detector("default")
    first = d2.score_batch(values[:2000], stamps[:2000])
    rest = d2.score_batch(values[2000:], stamps[2000:])
    np.testing.assert_array_equal(np.concatenate([first, rest]), batch)
    assert 0 < d2.memory_bytes < 8192


def test_bank_keeps_series_apart_and_bounded():
    bank = anomaly.DetectorBank(max_series=10)
    stamps = 1_700_000_000 + 300 * np.arange(1000)
    bank.score_series({"pod": "a"}, noise(1000) * 0 + 10.0 + np.arange(1000) % 3, stamps)
    bank.score_series({"pod": "b"}, noise(1000) * 0 + 1000.0 + np.arange(1000) % 5, stamps)
    assert len(bank) == 2
    for i in range(50):
        bank.score({"pod": f"x{i}"}, 0, 1.0)
    assert len(bank) <= 10


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: anomaly.detect(np.ones(10), np.arange(9)), kubesage.InvalidInputError),
        (lambda: anomaly.detect(["a", "b"]), kubesage.InvalidInputError),
        (lambda: anomaly.detect(np.ones((3, 3))), kubesage.InvalidInputError),
        (lambda: anomaly.detect(np.ones(10), detector="prophet"), kubesage.DetectorError),
        (lambda: anomaly.Detector("prophet"), kubesage.DetectorError),
        (lambda: kubesage.scan(demo=True, selector="app in (a"), kubesage.InvalidInputError),
        (lambda: kubesage.scan(demo=True, analyzers=["podz"]), kubesage.InvalidInputError),
        (lambda: kubesage.scan(snapshot="/nonexistent/snap.json"), kubesage.SnapshotError),
    ],
)
def test_errors_are_typed(call, error):
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, kubesage.KubeSageError)
    assert str(info.value)


def test_malformed_snapshot(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"apiVersion": "v1", "kind": "List", "items": [{"kind": "Pod"')
    with pytest.raises(kubesage.SnapshotError, match="truncated"):
        kubesage.scan(snapshot=bad)


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_cluster_and_prometheus(tmp_path):
    port = closed_port()
    kc = tmp_path / "kubeconfig"
    kc.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:%d\n"
        "contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n"
        "users:\n- name: u\n  user:\n    token: t\n" % port
    )
    with pytest.raises(kubesage.ClusterError, match="cannot reach"):
        kubesage.scan(kubeconfig=kc)
    with pytest.raises(kubesage.PrometheusError):
        anomaly.prometheus_range(f"http://127.0.0.1:{port}", "up", 0, 600, 60, timeout=5)


# --- threads -----------------------------------------------------------------------------


def test_threads_in_parallel_match_sequential_results():
    series = [noise(20_000, seed=s) for s in range(8)]
    expected = [anomaly.detect(v) for v in series]
    demo_ids = [f.id for f in kubesage.scan(demo=True).findings]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        scores = list(pool.map(anomaly.detect, series))
        scans = list(pool.map(lambda _: [f.id for f in kubesage.scan(demo=True).findings], range(8)))
    for got, want in zip(scores, expected):
        np.testing.assert_array_equal(got, want)
    assert all(ids == demo_ids for ids in scans)


@pytest.mark.skipif(not NAB.exists(), reason="needs ../shared/data/nab beside the repository")
def test_nab_series_with_a_datetime_index():
    csv = NAB / "data" / "realAWSCloudwatch" / "ec2_cpu_utilization_825cc2.csv"
    series = pd.read_csv(csv, index_col="timestamp", parse_dates=True)["value"]
    scores = anomaly.detect(series)
    assert scores.shape == (len(series),)
    assert (scores >= 0.5).sum() >= 1


def test_streaming_apis_accept_array_likes():
    d = anomaly.Detector()
    assert d.score_batch([1, 2, 3]).dtype == np.float64
    assert d.score_batch(np.arange(5, dtype=np.int32), list(range(5))).shape == (5,)
    bank = anomaly.DetectorBank()
    assert bank.score_series({"pod": "a"}, [1.0, 2.0], [0, 60]).shape == (2,)
    with pytest.raises(kubesage.InvalidInputError, match="values must be a 1-D numeric array"):
        d.score_batch(["not", "numbers"])
