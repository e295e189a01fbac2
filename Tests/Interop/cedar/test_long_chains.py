"""Long operator chains through the real binary (issue 14 item 5, issue 16's first bullet).

A generated allowlist of 7,000 alternatives (and 100,000 `+` operands) used to pass `purser check` and then
kill `purser call`/`serve` with SIGSEGV on the first evaluation; 200,000 alternatives crashed `check` itself.
Here `check` must accept them and `call` must evaluate them: the forbid decides when the query is listed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path


def make_home(tmp_path: Path, repo_root: Path, alternatives: int) -> Path:
    shutil.copytree(repo_root / "tools", tmp_path / "tools")
    shutil.copytree(repo_root / "policies", tmp_path / "policies")
    listed = " || ".join(f'context.params.query == "q{i}"' for i in range(alternatives))
    plus = " + ".join(["1"] * 100_000)
    (tmp_path / "policies" / "zz_long.cedar").write_text(
        '@id("blocked-queries")\n'
        'forbid (principal, action == Action::"call_tool", resource == Tool::"search_papers")\n'
        f"when {{ context.params has query && ({listed}) }};\n"
        '@id("long-sum")\n'
        'forbid (principal, action == Action::"call_tool", resource == Tool::"search_papers")\n'
        f"when {{ {plus} == 7 }};\n",
        encoding="utf-8",
    )
    return tmp_path


def test_check_accepts_and_call_evaluates_a_7000_alternative_allowlist(tmp_path, purser_bin, repo_root) -> None:
    home = make_home(tmp_path, repo_root, 7_000)
    check = subprocess.run(
        [purser_bin, "check", "--tools", "tools", "--policies", "policies"],
        cwd=home, capture_output=True, text=True, timeout=300,
    )
    assert check.returncode == 0, check.stderr[-2000:]
    call = subprocess.run(
        [purser_bin, "call", "search_papers", "--agent", "alice", "--args", '{"query": "q6999"}',
         "--tools", "tools", "--policies", "policies", "--home", str(home / "home")],
        cwd=home, capture_output=True, text=True, timeout=300,
    )
    # A signal shows as a negative return code; a refusal is an ordinary exit with an isError result.
    assert call.returncode >= 0, call.stderr[-2000:]
    result = json.loads(call.stdout)
    assert result["isError"] is True
    assert result["structuredContent"]["error"] == "policy_denied"
    assert "blocked-queries" in json.dumps(result)


def test_check_survives_200000_alternatives(tmp_path, purser_bin, repo_root) -> None:
    home = make_home(tmp_path, repo_root, 200_000)
    check = subprocess.run(
        [purser_bin, "check", "--tools", "tools", "--policies", "policies"],
        cwd=home, capture_output=True, text=True, timeout=600,
    )
    assert check.returncode == 0, check.stderr[-2000:]
