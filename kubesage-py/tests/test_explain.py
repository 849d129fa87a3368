"""The knowledge base and offline explanations from Python."""

import pytest

import kubesage


def test_kb_search_finds_the_builtin_entry_by_its_exact_name(tmp_path):
    hits = kubesage.kb_search("ImagePullBackOff manifest unknown", top=3, index=str(tmp_path / "none.json"))
    assert 1 <= len(hits) <= 3
    assert hits[0]["heading"].endswith("pod/ImagePullBackOff")
    assert set(hits[0]) == {"source", "heading", "score", "text"}
    assert hits[0]["source"] == "builtin:pod.md"
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


def test_kb_search_reads_the_users_runbooks_and_rejects_bad_input(tmp_path):
    with pytest.raises(kubesage.InvalidInputError):
        kubesage.kb_search("   ", index=str(tmp_path / "none.json"))
    corrupt = tmp_path / "index.json"
    corrupt.write_text("{not an index")
    with pytest.raises(kubesage.InvalidInputError, match="index"):
        kubesage.kb_search("CrashLoopBackOff", index=str(corrupt))


def test_a_finding_is_explained_with_its_entry_evidence_and_sources(tmp_path):
    finding = kubesage.scan(demo=True).findings[0]
    explanation = kubesage.explain(finding, index=str(tmp_path / "none.json"))
    assert explanation["finding"] == finding.id
    assert explanation["mode"] == "offline"
    assert finding.summary in explanation["answer"]
    assert "**What it means.**" in explanation["answer"]
    assert explanation["sources"] and explanation["sources"][0]["source"].startswith("builtin:")
