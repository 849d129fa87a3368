"""kubesage.scan: the demo cluster, snapshot files, scoping, and the shape of the results."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, List, Set, Tuple

import pytest

import kubesage

SEVERITIES = ("critical", "warning", "info")
EVIDENCE_TYPES = {"field", "condition", "event", "message"}
# The keys of `kubesage scan --output json` (kubesage-server/src/render.rs and the README).
CLI_DOCUMENT_KEYS = {"source", "findings", "summary", "skipped", "warnings", "observed_at"}
CLI_FINDING_KEYS = {"id", "analyzer", "reason", "severity", "object", "summary", "evidence", "next_steps", "related"}


def by_id(result: kubesage.ScanResult) -> Dict[str, kubesage.Finding]:
    return {f.id: f for f in result.findings}


def name(f: kubesage.Finding) -> str:
    """The object's name (never None, though the stub types every object value as optional)."""
    value = f.object["name"]
    assert value is not None
    return value


def objects(result: kubesage.ScanResult) -> List[Tuple[str, str, str, str]]:
    return sorted((str(f.object["kind"]), f.object["namespace"] or "", name(f), f.reason) for f in result.findings)


def test_the_installed_package_is_imported_not_the_source_tree() -> None:
    source_tree = Path(__file__).resolve().parents[1] / "python"
    package = Path(kubesage.__file__).resolve()
    assert source_tree not in package.parents, f"imported {package} from the source tree"
    assert Path(kubesage._kubesage.__file__).suffix in {".so", ".pyd"}
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", kubesage.__version__)


class TestDemo:
    def test_result_and_findings_are_typed(self, demo: kubesage.ScanResult) -> None:
        assert isinstance(demo, kubesage.ScanResult)
        assert demo.source == "embedded demo cluster"
        findings = demo.findings
        assert len(demo) == len(findings) > 20
        analyzers = set(kubesage.analyzers())
        for f in findings:
            assert isinstance(f, kubesage.Finding)
            assert re.fullmatch(r"[0-9a-f]{16}", f.id), f.id
            assert f.analyzer in analyzers
            assert f.severity in SEVERITIES
            assert isinstance(f.reason, str) and f.reason
            assert set(f.object) == {"kind", "namespace", "name"}
            assert isinstance(f.object["kind"], str) and isinstance(f.object["name"], str)
            assert f.object["namespace"] is None or isinstance(f.object["namespace"], str)
            assert isinstance(f.summary, str) and f.summary
            assert isinstance(f.evidence, list) and f.evidence
            for e in f.evidence:
                assert isinstance(e, dict) and e["type"] in EVIDENCE_TYPES, e
            assert isinstance(f.next_steps, list) and all(isinstance(s, str) for s in f.next_steps)
            assert isinstance(f.related, list) and all(isinstance(r, str) for r in f.related)
            assert isinstance(f.to_dict(), dict)

    def test_findings_are_sorted_most_severe_first(self, demo: kubesage.ScanResult) -> None:
        ranks = [SEVERITIES.index(f.severity) for f in demo.findings]
        assert ranks == sorted(ranks)
        assert demo.findings[0].severity == "critical"

    def test_summary_counts_the_findings(self, demo: kubesage.ScanResult) -> None:
        counts = Counter(f.severity for f in demo.findings)
        summary = demo.summary
        assert {k: summary[k] for k in SEVERITIES} == {k: counts[k] for k in SEVERITIES}
        assert summary["objects"]["Pod"] > 0 and summary["objects"]["Deployment"] > 0
        assert demo.skipped == []
        assert all(isinstance(w, str) for w in demo.warnings)

    def test_the_demo_holds_the_documented_problems(self, demo: kubesage.ScanResult) -> None:
        reasons = {f.reason for f in demo.findings}
        assert {"CrashLoopBackOff", "OOMKilled", "ImagePullBackOff", "NotReady", "NoReadyEndpoints"} <= reasons

    def test_ids_are_stable_and_unique(self, demo: kubesage.ScanResult) -> None:
        again = kubesage.scan(demo=True)
        assert [f.id for f in again.findings] == [f.id for f in demo.findings]
        assert again.to_dict() == demo.to_dict()
        assert len({f.id for f in demo.findings}) == len(demo)

    def test_related_ids_name_findings_of_the_same_scan_both_ways(self, demo: kubesage.ScanResult) -> None:
        index = by_id(demo)
        assert any(f.related for f in demo.findings)
        for f in demo.findings:
            for other in f.related:
                assert other in index, f"{f!r} relates to unknown id {other}"
                assert f.id in index[other].related

    def test_the_checkout_story_is_linked(self, demo: kubesage.ScanResult) -> None:
        index = by_id(demo)
        (deployment,) = [
            f for f in demo.findings if f.object == {"kind": "Deployment", "namespace": "shop", "name": "checkout"}
        ]
        related = [index[i] for i in deployment.related]
        crashing = [f for f in related if f.reason == "CrashLoopBackOff"]
        assert len(crashing) == 3
        assert all(f.object["kind"] == "Pod" and name(f).startswith("checkout-") for f in crashing)
        # Each pod in turn points at the Service with no endpoints, which points at the Ingress.
        service = next(index[i] for i in crashing[0].related if index[i].object["kind"] == "Service")
        assert service.reason == "NoReadyEndpoints"
        assert any(index[i].object["kind"] == "Ingress" for i in service.related)

    def test_to_dict_has_the_shape_of_the_cli_json(self, demo: kubesage.ScanResult) -> None:
        document = demo.to_dict()
        assert set(document) == CLI_DOCUMENT_KEYS
        assert document["source"] == demo.source
        assert document["observed_at"] == "2026-11-20T10:00:00Z"
        assert document["summary"] == demo.summary
        assert document["warnings"] == demo.warnings
        assert document["findings"] == [f.to_dict() for f in demo.findings]
        # Plain JSON types all the way down.
        assert json.loads(json.dumps(document)) == document

    def test_finding_to_dict_matches_its_attributes(self, demo: kubesage.ScanResult) -> None:
        for f in demo.findings:
            d = f.to_dict()
            assert set(d) == CLI_FINDING_KEYS
            assert d == {
                "id": f.id,
                "analyzer": f.analyzer,
                "reason": f.reason,
                "severity": f.severity,
                "object": f.object,
                "summary": f.summary,
                "evidence": f.evidence,
                "next_steps": f.next_steps,
                "related": f.related,
            }

    def test_reprs_are_informative(self, demo: kubesage.ScanResult) -> None:
        assert repr(demo).startswith("<ScanResult of embedded demo cluster: ")
        f = demo.findings[0]
        assert repr(f).startswith(f"<Finding {f.severity} ")
        assert f.reason in repr(f)

    def test_findings_are_read_only(self, demo: kubesage.ScanResult) -> None:
        f = demo.findings[0]
        with pytest.raises(AttributeError):
            f.severity = "info"  # type: ignore[misc]


class TestScoping:
    def test_namespace(self, demo: kubesage.ScanResult) -> None:
        shop = kubesage.scan(demo=True, namespace="shop")
        assert len(shop) > 0
        assert {f.object["namespace"] for f in shop.findings} == {"shop"}
        expected = {f.id for f in demo.findings if f.object["namespace"] == "shop"}
        assert {f.id for f in shop.findings} == expected

    def test_a_namespace_with_nothing_wrong_gives_an_empty_result(self) -> None:
        result = kubesage.scan(demo=True, namespace="no-such-namespace")
        assert len(result) == 0 and result.findings == []
        assert result.summary["critical"] == result.summary["warning"] == result.summary["info"] == 0

    @pytest.mark.parametrize(
        "selector, names",
        [
            ("app.kubernetes.io/name=checkout", {"checkout"}),
            ("app.kubernetes.io/name in (checkout,cart)", {"checkout", "cart"}),
            ("app.kubernetes.io/part-of=shop,app.kubernetes.io/name=checkout", {"checkout"}),
        ],
    )
    def test_selector(self, demo: kubesage.ScanResult, selector: str, names: Set[str]) -> None:
        result = kubesage.scan(demo=True, selector=selector)
        assert len(result) > 0
        for f in result.findings:
            assert any(name(f) == n or name(f).startswith(n + "-") for n in names), f
        assert {f.id for f in result.findings} <= {f.id for f in demo.findings}
        # Related ids are trimmed to the findings that were kept.
        ids = {f.id for f in result.findings}
        assert all(r in ids for f in result.findings for r in f.related)

    def test_selector_for_checkout_gives_its_whole_story(self) -> None:
        result = kubesage.scan(demo=True, selector="app.kubernetes.io/name=checkout")
        kinds = Counter(f.object["kind"] for f in result.findings)
        assert kinds == {"Pod": 3, "Deployment": 1, "Service": 1, "HorizontalPodAutoscaler": 1}

    def test_negated_selector_excludes(self, demo: kubesage.ScanResult) -> None:
        result = kubesage.scan(demo=True, selector="app.kubernetes.io/name!=checkout")
        assert not any(name(f).startswith("checkout") for f in result.findings)
        assert 0 < len(result) < len(demo)

    def test_analyzers(self) -> None:
        pods = kubesage.scan(demo=True, analyzers=["pod"])
        assert len(pods) > 0 and {f.analyzer for f in pods.findings} == {"pod"}
        assert {f.object["kind"] for f in pods.findings} == {"Pod"}
        two = kubesage.scan(demo=True, analyzers=("service", "ingress"))
        assert {f.analyzer for f in two.findings} == {"service", "ingress"}
        # Any iterable of names will do.
        assert kubesage.scan(demo=True, analyzers=iter(["pod"])).to_dict() == pods.to_dict()

    def test_analyzer_names(self) -> None:
        names = kubesage.analyzers()
        assert "pod" in names and "deployment" in names and len(names) == len(set(names))

    def test_scopes_combine(self) -> None:
        result = kubesage.scan(demo=True, namespace="shop", selector="app.kubernetes.io/name=checkout", analyzers=["pod"])
        assert objects(result) == sorted(
            ("Pod", "shop", pod, "CrashLoopBackOff")
            for pod in ("checkout-7b9d6c5f48-676td", "checkout-7b9d6c5f48-dfgvw", "checkout-7b9d6c5f48-jxfkt")
        )


class TestSnapshot:
    EXPECTED = [
        ("Node", "", "node-1", "Cordoned"),
        ("Pod", "data", "db-1", "CrashLoopBackOff"),
        ("Pod", "shop", "web-1", "CrashLoopBackOff"),
    ]

    def test_a_json_list_as_str(self, snapshot_file: Path) -> None:
        result = kubesage.scan(snapshot=str(snapshot_file))
        assert objects(result) == self.EXPECTED
        assert result.source == f"snapshot {snapshot_file}"
        assert result.to_dict()["source"] == result.source
        # The hand-written snapshot has no timestamps, and the result says so.
        assert any("timestamp" in w for w in result.warnings)
        pod = next(f for f in result.findings if name(f) == "web-1")
        assert pod.analyzer == "pod" and pod.severity == "critical"
        assert "restarted 5 times" in pod.summary

    def test_a_pathlib_path(self, snapshot_file: Path) -> None:
        assert kubesage.scan(snapshot=snapshot_file).to_dict() == kubesage.scan(snapshot=str(snapshot_file)).to_dict()

    def test_a_list_of_paths_is_merged(
        self, snapshot_file: Path, write_snapshot: Callable[..., Path], crashing_pod: Callable[..., Dict[str, Any]]
    ) -> None:
        second = write_snapshot([crashing_pod("api-1", "payments", {"app": "api"})], name="more.json")
        result = kubesage.scan(snapshot=[snapshot_file, str(second)])
        assert objects(result) == sorted(self.EXPECTED + [("Pod", "payments", "api-1", "CrashLoopBackOff")])
        assert str(snapshot_file) in result.source and str(second) in result.source
        assert kubesage.scan(snapshot=(snapshot_file, second)).to_dict() == result.to_dict()

    def test_a_folder_is_searched(
        self, tmp_path: Path, write_snapshot: Callable[..., Path], crashing_pod: Callable[..., Dict[str, Any]]
    ) -> None:
        folder = tmp_path / "dump"
        write_snapshot([crashing_pod("a-1", "x", {"app": "a"})], name="shop/pods.json", folder=folder)
        (folder / "nodes.yaml").write_text(
            "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-9\nspec:\n  unschedulable: true\n"
        )
        (folder / "README.md").write_text("# not a snapshot\n")
        result = kubesage.scan(snapshot=folder)
        assert objects(result) == [("Node", "", "node-9", "Cordoned"), ("Pod", "x", "a-1", "CrashLoopBackOff")]

    def test_ids_are_stable_across_sources(self, snapshot_file: Path, tmp_path: Path) -> None:
        copy = tmp_path / "elsewhere" / "copy.json"
        copy.parent.mkdir()
        copy.write_bytes(snapshot_file.read_bytes())
        first = [f.id for f in kubesage.scan(snapshot=snapshot_file).findings]
        assert [f.id for f in kubesage.scan(snapshot=copy).findings] == first

    def test_scoping_applies_to_snapshots(self, snapshot_file: Path) -> None:
        shop = kubesage.scan(snapshot=snapshot_file, namespace="shop")
        assert objects(shop) == [("Pod", "shop", "web-1", "CrashLoopBackOff")]
        db = kubesage.scan(snapshot=snapshot_file, selector="app=db")
        assert objects(db) == [("Pod", "data", "db-1", "CrashLoopBackOff")]
        nodes = kubesage.scan(snapshot=snapshot_file, analyzers=["node"])
        assert objects(nodes) == [("Node", "", "node-1", "Cordoned")]
