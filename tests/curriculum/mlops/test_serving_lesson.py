"""``ascent learn serving --quick`` end to end: export, publish, greedy check, load tests
through the gateway, report (about a minute on an idle 2-core machine, more when loaded)."""

from __future__ import annotations

import json

import pytest

from shared.config import get_settings


@pytest.mark.slow
@pytest.mark.llm
def test_quick_lesson_writes_report(tmp_path, monkeypatch, data_home):
    from curriculum.mlops.serving import lesson

    monkeypatch.setenv("ASCENT_DATA_HOME", str(data_home))
    get_settings.cache_clear()
    try:
        report = lesson.run(tmp_path / "out", quick=True)
    finally:
        get_settings.cache_clear()
    results = json.loads((report.parent / "results.json").read_text())
    assert set(results["serving"]) == set(results["exports"]) == set(lesson.QUICK_DTYPES)
    # The f16 export decodes in llama.cpp exactly as the model does in transformers.
    f16 = results["exports"]["f16"]
    assert f16["greedy_agreement"] == [lesson.QUICK.parity_tokens] * 2
    assert results["exports"]["q4_0"]["size_mb"] < f16["size_mb"]
    for data in results["serving"].values():
        assert [r["concurrency"] for r in data["runs"]] == list(lesson.QUICK.concurrencies)
        assert all(r["completion_tokens"] == r["requests"] * lesson.QUICK.max_tokens
                   for r in data["runs"])  # fmt: skip
    text = report.read_text()
    assert "| f16 | 1 |" in text and "serving.png" in text
    assert (report.parent / "serving.png").stat().st_size > 10_000
    assert results["vllm"]  # "available" or the reason it was skipped
