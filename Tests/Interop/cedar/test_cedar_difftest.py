"""Differential suite: `purser policy eval --batch` against cedarpy 4.12.2 (the oracle).

Generated tool-call cases and parser near-misses are regenerated from fixed seeds; cedarpy answers them;
our binary must agree exactly on decision, reasons and erroring policies (or on parses / does not parse).
The upstream corpus is read in place from `../shared/cedar-corpus/corpus.jsonl.gz` when present.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import difftest  # noqa: E402
import generate  # noqa: E402
import generate_extensions  # noqa: E402


def check(title: str, cases: list[dict]) -> dict:
    answers = difftest.run_batch(cases)
    report = difftest.compare(cases, answers)
    text = difftest.format_report(title, report)
    print(text)
    assert report["mismatches"] == 0, text
    return report


@pytest.mark.parametrize("seed", [1, 2])
def test_generated_tool_call_cases_match_cedarpy(seed: int) -> None:
    cases = generate.tool_call_cases(seed, 1500)
    difftest.cedarpy_expected(cases)
    report = check(f"generated tool calls, seed {seed}", cases)
    assert report["compared_requests"] == 1500 * 8
    assert report["unsupported_cases"] == 0


@pytest.mark.parametrize("seed", [1, 2])
def test_parser_near_misses_match_cedarpy(seed: int) -> None:
    cases = generate.parse_cases(seed, 2500)
    difftest.cedarpy_expected(cases)
    accepted = sum(1 for case in cases if case["expected"]["parses"])
    # The generator must exercise both outcomes for the comparison to mean anything.
    assert 0.2 * len(cases) < accepted < 0.8 * len(cases)
    check(f"parser near-misses, seed {seed}", cases)


def test_upstream_corpus_matches_with_nothing_unsupported() -> None:
    path = difftest.corpus_path()
    if path is None:
        pytest.skip("../shared/cedar-corpus/corpus.jsonl.gz is not present")
    cases = difftest.load_corpus(path, None)
    assert len(cases) == 7831
    report = check("upstream corpus, every case", cases)
    # Every extension the corpus uses (ipaddr, datetime, duration, offset) is implemented.
    assert report["unsupported_cases"] == 0
    assert report["compared_requests"] == 62546


@pytest.mark.parametrize("seed", [1, 2])
def test_generated_extension_cases_match_cedarpy(seed: int) -> None:
    cases = generate_extensions.extension_cases(seed, 1500)
    difftest.cedarpy_expected(cases)
    outcomes = [request["expected"] for case in cases for request in case["requests"]]
    # Both decisions and erroring policies must occur for the comparison to mean anything.
    assert any(o["decision"] == "allow" for o in outcomes) and any(o["decision"] == "deny" for o in outcomes)
    assert any(o["errors"] for o in outcomes) and any(not o["errors"] for o in outcomes)
    report = check(f"generated ipaddr/datetime/duration cases, seed {seed}", cases)
    assert report["unsupported_cases"] == 0


def test_comparator_flags_a_wrong_implementation() -> None:
    cases = generate.tool_call_cases(3, 200)
    difftest.cedarpy_expected(cases)
    always_deny = [
        {"name": case["name"], "results": [{"decision": "deny", "reasons": [], "errors": []} for _ in case["requests"]]}
        for case in cases
    ]
    assert difftest.compare(cases, always_deny)["mismatches"] > 0


def test_mutated_policies_evaluate_like_cedarpy() -> None:
    from cedarpy import PolicySet

    def accepts(text: str) -> bool:
        try:
            PolicySet.from_str(text)
        except ValueError:
            return False
        return True

    cases = generate.mutated_tool_call_cases(5, 3000, accepts)
    assert len(cases) > 300
    difftest.cedarpy_expected(cases)
    check("mutated tool-call policies, seed 5", cases)
