"""Differential testing of `purser policy eval --batch` against cedarpy (cedar.md §7).

Library used by the pytest suite and runnable by hand:

    python Tests/Interop/cedar/difftest.py corpus [--subset v1] [--limit N]
    python Tests/Interop/cedar/difftest.py generated [--seed 1] [--cases 2000]
    python Tests/Interop/cedar/difftest.py parse [--seed 1] [--cases 2000]
    python Tests/Interop/cedar/difftest.py extensions [--seed 1] [--cases 2000]
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

V1_FEATURES = set(
    "effect:permit,effect:forbid,cond:when,cond:unless,scope:principal:==,scope:principal:in,"
    "scope:principal:is,scope:principal:is:in,scope:action:==,scope:action:in,scope:resource:==,"
    "scope:resource:in,scope:resource:is,scope:resource:is:in,!,neg,==,!=,<,<=,>,>=,&&,||,+,-,*,in,.,has,"
    "is,like,if-then-else,contains,containsAll,containsAny,isEmpty,getTag,hasTag,Set,Record,lit:bool,"
    "lit:long,lit:string,lit:entity,ext:decimal,ext:lessThan,ext:lessThanOrEqual,ext:greaterThan,"
    "ext:greaterThanOrEqual".split(",")
)

ERR = re.compile(r"error while evaluating policy `([^`]+)`")


def purser_bin() -> str:
    return os.environ.get("PURSER_BIN") or str(REPO_ROOT / ".build" / "release" / "purser")


def corpus_path() -> Path | None:
    """`../shared/cedar-corpus/corpus.jsonl.gz` relative to the repo root (or $PURSER_CEDAR_CORPUS)."""
    explicit = os.environ.get("PURSER_CEDAR_CORPUS")
    candidates = [Path(explicit)] if explicit else []
    # A git worktree may sit one level deeper than the main checkout; look upwards for the shared folder.
    for parent in [REPO_ROOT, *REPO_ROOT.parents]:
        candidates.append(parent.parent / "shared" / "cedar-corpus" / "corpus.jsonl.gz")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def load_corpus(path: Path, subset: set[str] | None = V1_FEATURES) -> list[dict]:
    cases = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            case = json.loads(line)
            if subset is None or all(feature in subset for feature in case.get("features", [])):
                cases.append(case)
    return cases


def cedarpy_expected(cases: list[dict]) -> None:
    """Fills `expected` for every request (and parse-only case) with cedarpy's answers, in place."""
    from cedarpy import Entities, PolicySet, is_authorized_batch

    for case in cases:
        try:
            policies = PolicySet.from_str(case["policies"])
        except ValueError as error:
            case["expected"] = {"parses": False, "error": str(error)}
            continue
        if "requests" not in case:
            case["expected"] = {"parses": True}
            continue
        entities = Entities.from_json_str(json.dumps(case["entities"]))
        requests = [
            {key: request[key] for key in ("principal", "action", "resource", "context") if key in request}
            for request in case["requests"]
        ]
        for request, result in zip(case["requests"], is_authorized_batch(requests, policies, entities)):
            diagnostics = result.diagnostics
            request["expected"] = {
                "decision": result.decision.value.lower(),
                "reasons": sorted(diagnostics.reasons),
                "errors": sorted(set(ERR.findall("\n".join(diagnostics.errors)))),
            }


def run_batch(cases: list[dict], binary: str | None = None, timeout: float = 600) -> list[dict]:
    """Pipes the cases (without expectations) to `purser policy eval --batch`; one answer per case."""
    payload = []
    for case in cases:
        stripped = {key: value for key, value in case.items() if key not in ("expected", "features")}
        if "requests" in stripped:
            stripped["requests"] = [
                {key: value for key, value in request.items() if key != "expected"} for request in case["requests"]
            ]
        payload.append(json.dumps(stripped))
    process = subprocess.run(
        [binary or purser_bin(), "policy", "eval", "--batch"],
        input="\n".join(payload) + "\n",
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if process.returncode != 0:
        raise RuntimeError(f"purser exited {process.returncode}: {process.stderr[:2000]}")
    lines = process.stdout.splitlines()
    if len(lines) != len(cases):
        raise RuntimeError(f"expected {len(cases)} answer lines, got {len(lines)}")
    answers = [json.loads(line) for line in lines]
    for case, answer in zip(cases, answers):
        if answer.get("name") != case["name"]:
            raise RuntimeError(f"answer for {answer.get('name')!r} where {case['name']!r} was expected")
    return answers


def compare(cases: list[dict], answers: list[dict]) -> dict:
    """The comparator of cedar.md §7.2: counts, unsupported share, per-feature mismatches, first mismatches."""
    report = {
        "cases": len(cases),
        "requests": 0,
        "unsupported_cases": 0,
        "unsupported_requests": 0,
        "unsupported_by_feature": Counter(),
        "compared_requests": 0,
        "parse_cases": 0,
        "mismatches": 0,
        "mismatch_features": Counter(),
        "first_mismatches": [],
    }
    for case, answer in zip(cases, answers):
        requests = case.get("requests")
        report["requests"] += len(requests or [])
        if "unsupported" in answer:
            report["unsupported_cases"] += 1
            report["unsupported_requests"] += len(requests or [])
            report["unsupported_by_feature"][answer["unsupported"]] += 1
            continue
        problems = []
        if requests is None:
            report["parse_cases"] += 1
            if answer.get("parses") != case["expected"]["parses"]:
                problems.append({"expected": case["expected"], "actual": answer})
        elif "results" not in answer:
            problems.append({"expected": "results", "actual": answer})
        else:
            for request, result in zip(requests, answer["results"]):
                report["compared_requests"] += 1
                expected = request["expected"]
                actual = {key: result.get(key) for key in ("decision", "reasons", "errors")}
                if actual != expected:
                    problems.append(
                        {
                            "request": {k: v for k, v in request.items() if k != "expected"},
                            "expected": expected,
                            "actual": actual,
                        }
                    )
        if problems:
            report["mismatches"] += 1
            for feature in case.get("features", []):
                report["mismatch_features"][feature] += 1
            if len(report["first_mismatches"]) < 5:
                report["first_mismatches"].append(
                    {"name": case["name"], "policies": case["policies"], "problems": problems[:3]}
                )
    return report


def format_report(title: str, report: dict) -> str:
    lines = [f"== {title}"]
    lines.append(
        f"cases {report['cases']}, requests {report['requests']}, compared requests "
        f"{report['compared_requests']}, parse-only cases {report['parse_cases']}"
    )
    share = report["unsupported_requests"] / report["requests"] if report["requests"] else 0.0
    lines.append(
        f"unsupported: {report['unsupported_cases']} cases, {report['unsupported_requests']} requests "
        f"({share:.1%} of requests) {dict(report['unsupported_by_feature'].most_common())}"
    )
    lines.append(f"mismatching cases: {report['mismatches']}")
    if report["mismatches"]:
        lines.append(f"mismatches per feature: {dict(report['mismatch_features'].most_common(15))}")
        for mismatch in report["first_mismatches"]:
            lines.append(json.dumps(mismatch, indent=1)[:4000])
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["corpus", "generated", "parse", "extensions"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--all-features", action="store_true")
    parser.add_argument("--write", help="write the cases with expectations as JSONL here")
    options = parser.parse_args(argv)
    if options.mode == "corpus":
        path = corpus_path()
        if path is None:
            print("corpus not found", file=sys.stderr)
            return 2
        cases = load_corpus(path, None if options.all_features else V1_FEATURES)
        if options.limit:
            cases = cases[: options.limit]
        for case in cases:
            for request in case["requests"]:
                request["expected"] = {key: request["expected"][key] for key in ("decision", "reasons", "errors")}
    else:
        import generate
        import generate_extensions

        make = {
            "generated": generate.tool_call_cases,
            "parse": generate.parse_cases,
            "extensions": generate_extensions.extension_cases,
        }[options.mode]
        cases = make(options.seed, options.cases)
        cedarpy_expected(cases)
    if options.write:
        with open(options.write, "w", encoding="utf-8") as handle:
            for case in cases:
                handle.write(json.dumps(case, ensure_ascii=False) + "\n")
    try:
        answers = run_batch(cases)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 2
    report = compare(cases, answers)
    print(format_report(options.mode, report))
    return 0 if report["mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main(sys.argv[1:]))
