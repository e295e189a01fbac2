"""`purser check` and `purser call` from the command line."""
import json
import subprocess

from helpers import policies_dir, write_tools
from upstream import Upstream


def position_of(text: str, needle: str, occurrence: int = 1) -> str:
    """line:col (1-based) of the n-th occurrence of needle, computed from the text itself."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{line}:{column}"


def test_check_reports_every_problem_with_file_line_col(purser_bin, tmp_path):
    broken = tmp_path / "tools"
    broken.mkdir()
    text = (
        '{\n'
        '  "name": "bad tool",\n'
        '  "description": "x",\n'
        '  "inputSchema": {"type": "object", "properties": {"q": {"type": "strin"}, "r": {"oneOf": []}}},\n'
        '  "upstream": {"url": "http://{host}/x", "headers": {"Authorization": "Bearer abc"}},\n'
        '  "price": {"amount": "1e3", "asset": "USDC"},\n'
        '  "colour": "red"\n'
        '}\n'
    )
    (broken / "bad.json").write_text(text)
    (broken / "syntax.json").write_text('{"name": "x",\n  "description": }')
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "ok.cedar").write_text("permit (principal, action, resource);\n")
    result = subprocess.run([purser_bin, "check", "--tools", str(broken), "--policies", str(policies)],
                            capture_output=True, text=True)
    assert result.returncode != 0
    lines = result.stdout.strip().splitlines()
    bad = str(broken / "bad.json")
    def at(needle):
        return bad + ":" + position_of(text, needle)

    expected = {
        at('"bad tool"'): "tool name",
        at('"strin"'): '"type" must be one of',
        at("[]"): 'unsupported JSON Schema keyword "oneOf"',
        at('"http://{host}/x"'): "never in the host",
        at('"Bearer abc"'): "secretHeaders",
        at('"1e3"'): "decimal string",
        at('"red"'): 'unknown key "colour"',
        str(broken / "syntax.json") + ":2:18": "expected a value",
    }
    for prefix, fragment in expected.items():
        matching = [line for line in lines if line.startswith(prefix + ":")]
        assert len(matching) == 1, (prefix, lines)
        assert fragment in matching[0], (matching[0], fragment)
    assert len(lines) == len(expected), lines


def test_check_passes_on_the_shipped_tools(purser_bin, repo_root):
    result = subprocess.run([purser_bin, "check"], cwd=repo_root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_call_runs_the_pipeline_without_a_client(purser_bin, tmp_path):
    with Upstream() as upstream:
        write_tools(tmp_path / "tools", upstream.port)
        base = [purser_bin, "call", "--tools", str(tmp_path / "tools"), "--policies", str(policies_dir(tmp_path / "tools"))]
        ok = subprocess.run(base + ["search_papers", "--args", '{"query": "ok", "max_results": 1}'],
                            capture_output=True, text=True)
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout)["structuredContent"] == {"query": "ok", "results": [{"title": "ok #0"}]}
        refused = subprocess.run(base + ["search_papers", "--args", '{"max_results": 1}'], capture_output=True, text=True)
        assert refused.returncode == 1
        assert json.loads(refused.stdout)["isError"] is True
        assert len(upstream.seen) == 1
