"""`purser check`'s validation against Cedar's own validator (cedarpy 4.12.2 `validate_policies`).

For generated tool manifests, entities and policies (typos such as `context.params.max_reslts` and
`principal.teir`, unguarded optional attributes, comparisons of incompatible types, decimals compared with `<`,
unknown entity types and actions, scopes no action applies to, empty sets, bad extension literals, ...):
- the schema `purser policy schema` prints (human and JSON forms) is accepted by cedarpy;
- the set of policies `purser check` rejects equals the set cedarpy's validator rejects against that schema.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
from pathlib import Path

import cedarpy

CASES = 60
SEED = 14

ERROR_LINE = re.compile(r"^(?P<file>[^:]+\.cedar):(?P<line>\d+):(?P<col>\d+): error: ")

PROPERTY_TYPES = [
    {"type": "integer"},
    {"type": "number"},
    {"type": "string"},
    {"type": "boolean"},
    {"type": "array", "items": {"type": "string"}},
    {"type": "array", "items": {"type": "integer"}},
    {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "string"}}, "required": ["x"]},
]
NAMES = ["query", "max_results", "city", "limit", "ratio", "verbose", "tags", "ids", "filter"]


def make_tool(rng: random.Random, name: str) -> dict:
    properties = {}
    for prop in rng.sample(NAMES, rng.randint(1, 4)):
        properties[prop] = rng.choice(PROPERTY_TYPES)
    required = [p for p in properties if rng.random() < 0.4]
    return {
        "name": name,
        "description": f"generated tool {name}",
        "inputSchema": {"type": "object", "properties": properties, "required": required},
        "upstream": {"method": "GET", "url": "http://127.0.0.1:9/x"},
    }


ENTITIES = [
    {"uid": {"type": "Agent", "id": "alice"}, "attrs": {"tier": "pro", "quota": 5},
     "parents": [{"type": "Group", "id": "Research"}]},
    {"uid": {"type": "Group", "id": "Research"}, "attrs": {}, "parents": [{"type": "Group", "id": "Staff"}]},
    {"uid": {"type": "Group", "id": "Staff"}, "attrs": {}, "parents": []},
    {"uid": {"type": "ToolGroup", "id": "data"}, "attrs": {}, "parents": []},
    {"uid": {"type": "Config", "id": "payments"}, "attrs": {"allowedPayTo": ["0xabc"]}, "parents": []},
]

SCOPES = [
    "principal, action, resource",
    'principal, action == Action::"call_tool", resource',
    'principal, action == Action::"pay", resource',
    'principal in Group::"Research", action == Action::"call_tool", resource',
    'principal, action in [Action::"call_tool", Action::"pay"], resource in ToolGroup::"data"',
    'principal is Agent, action, resource is Tool',
    'principal == Agent::"alice", action, resource == Tool::"t0"',
    # Never applicable, or unknown names.
    "principal is Tool, action, resource",
    'principal, action, resource in Group::"Research"',
    'principal == User::"x", action, resource',
    'principal, action == Action::"nope", resource',
]

CONDITIONS = [
    "true",
    'context.tool == "t0"',
    "context.params has query && context.params.query like \"*x*\"",
    "context.params.query == \"x\"",
    "context.params has max_results && context.params.max_results <= 50",
    "context.params has max_reslts && context.params.max_reslts <= 50",
    "context.params.max_reslts <= 50",
    "!(context.params has max_results) || context.params.max_results <= 50",
    "context.params has limit && context.params.limit == \"10\"",
    "context.params has ratio && context.params.ratio.lessThan(decimal(\"0.5\"))",
    "context.params has ratio && context.params.ratio < 1",
    "context.params has ids && context.params.ids.contains(3)",
    "context.params has ids && context.params.ids.contains(\"3\")",
    "context.params has filter && context.params.filter.x > 2",
    "context.params has filter && context.params.filter has y && context.params.filter.y == \"a\"",
    "context.params has filter && context.params.filter.y == \"a\"",
    'principal.tier == "pro"',
    'principal has tier && principal.tier == "pro"',
    'principal has teir && principal.teir == "pro"',
    'principal.teir == "pro"',
    "principal has quota && principal.quota + 1 > 3",
    "principal has quota && principal.quota == true",
    'resource.tags.contains("premium")',
    "resource.tags.contains(1)",
    'resource.price.lessThanOrEqual(decimal("0.10"))',
    'resource has price && resource.price.lessThanOrEqual(decimal("0.10"))',
    'resource has price && resource.price <= decimal("0.10")',
    'resource has price && resource.price == decimal("1.00000")',
    "resource has price && resource.price == decimal(context.tool)",
    'resource.name == "t0" || resource.name == "t1"',
    'resource.nme == "t0"',
    'principal in Group::"Staff"',
    'principal in Team::"x"',
    'resource in ToolGroup::"data"',
    "principal == resource",
    "[principal, resource].isEmpty()",
    "[].isEmpty()",
    '[1, "a"].contains(1)',
    'if principal has tier then principal.tier == "pro" else false',
    'if true then 1 else "a"',
    'context has amount && context.amount.greaterThan(decimal("0.5"))',
    "context.amount.greaterThan(decimal(\"0.5\"))",
    'context has payTo && Config::"payments" has allowedPayTo && Config::"payments".allowedPayTo.contains(context.payTo)',
    'Config::"payments".allowedPayTo.contains("0xabc")',
    "context has session && context.session.windowPayments < 3",
    "context.session.toolCalls < 3",
    'context has session && context.session.spent.lessThan(decimal("1.0"))',
    "context has session && context.session has remaining && context.session.remaining.greaterThan(decimal(\"0.0\"))",
    "context has session && context.session.remaining.greaterThan(decimal(\"0.0\"))",
    'ip("10.0.0.1").isLoopback()',
    'ip("10.0.0.300").isLoopback()',
    'datetime("2024-01-01") < datetime("2025-01-01")',
    'duration("1h").toMinutes() == 60',
    "principal.hasTag(\"scope\")",
    "false && context.params.nothing == 1",
    "true || context.params.nothing == 1",
    "context.client.name == \"x\"",
    "action == Action::\"pay\" && context has amount",
    "1 == \"1\"",
    "principal is Agent",
    "principal is Robot",
]


def make_policy(rng: random.Random) -> str:
    effect = rng.choice(["permit", "forbid"])
    scope = rng.choice(SCOPES)
    conditions = []
    for _ in range(rng.randint(0, 2)):
        word = rng.choice(["when", "unless"])
        parts = rng.sample(CONDITIONS, rng.randint(1, 2))
        joiner = rng.choice([" && ", " || "])
        conditions.append(f"{word} {{ {joiner.join(f'({p})' for p in parts)} }}")
    return f"{effect} ({scope}) {' '.join(conditions)};"


def make_case(rng: random.Random, directory: Path) -> list[str]:
    (directory / "tools").mkdir(parents=True)
    (directory / "policies").mkdir()
    for index in range(rng.randint(1, 3)):
        tool = make_tool(rng, f"t{index}")
        (directory / "tools" / f"t{index}.json").write_text(json.dumps(tool), encoding="utf-8")
    (directory / "policies" / "entities.json").write_text(json.dumps(ENTITIES), encoding="utf-8")
    policies = [make_policy(rng) for _ in range(rng.randint(3, 6))]
    # One policy per line: `purser check`'s file:line:col names the policy.
    (directory / "policies" / "p.cedar").write_text("\n".join(policies) + "\n", encoding="utf-8")
    return policies


def purser_rejected(purser_bin: str, directory: Path) -> set[int]:
    check = subprocess.run(
        [purser_bin, "check", "--tools", "tools", "--policies", "policies", "--home", ".purser"],
        cwd=directory, capture_output=True, text=True, timeout=60,
    )
    rejected = set()
    for line in check.stdout.splitlines():
        match = ERROR_LINE.match(line)
        if match:
            rejected.add(int(match["line"]) - 1)
    assert (check.returncode != 0) == bool(rejected), check.stdout + check.stderr
    return rejected


def schema_of(purser_bin: str, directory: Path, *extra: str) -> str:
    run = subprocess.run(
        [purser_bin, "policy", "schema", "--tools", "tools", "--policies", "policies", "--home", ".purser", *extra],
        cwd=directory, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def cedar_rejected(policies: list[str], schema) -> set[int]:
    result = cedarpy.validate_policies("\n".join(policies), schema)
    return {int(error.policy_id.removeprefix("policy")) for error in result.errors}


def test_check_rejects_exactly_what_cedars_validator_rejects(tmp_path: Path, purser_bin: str) -> None:
    rng = random.Random(SEED)
    mismatches = []
    rejected_total = 0
    policies_total = 0
    for number in range(CASES):
        directory = tmp_path / f"case{number}"
        policies = make_case(rng, directory)
        human = schema_of(purser_bin, directory)
        as_json = json.loads(schema_of(purser_bin, directory, "--json"))
        expected = cedar_rejected(policies, human)
        assert cedar_rejected(policies, as_json) == expected, "the JSON schema form differs from the human form"
        actual = purser_rejected(purser_bin, directory)
        policies_total += len(policies)
        rejected_total += len(expected)
        for index, policy in enumerate(policies):
            if (index in expected) != (index in actual):
                detail = cedarpy.validate_policies(policy, human).errors
                mismatches.append(
                    f"case{number} policy {index}: cedar {'rejects' if index in expected else 'accepts'}, "
                    f"purser {'rejects' if index in actual else 'accepts'}: {policy}\n"
                    f"  cedar says: {[e.error for e in detail]}"
                )
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches[:20])
    # The generator must exercise both verdicts.
    assert 0 < rejected_total < policies_total


def test_the_named_typos_are_errors_with_their_place(tmp_path: Path, purser_bin: str, repo_root: Path) -> None:
    import shutil

    shutil.copytree(repo_root / "tools", tmp_path / "tools")
    shutil.copytree(repo_root / "policies", tmp_path / "policies")
    (tmp_path / "policies" / "zz_typos.cedar").write_text(
        'permit (principal, action == Action::"call_tool", resource == Tool::"search_papers")\n'
        "when { context.params has max_reslts && context.params.max_reslts <= 50 };\n"
        'permit (principal, action == Action::"call_tool", resource == Tool::"search_papers")\n'
        "when { context.params.max_reslts <= 50 };\n"
        'permit (principal, action, resource)\n'
        'when { principal.teir == "pro" };\n',
        encoding="utf-8",
    )
    check = subprocess.run(
        [purser_bin, "check", "--tools", "tools", "--policies", "policies", "--home", ".purser"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert check.returncode == 1
    errors = [line for line in check.stdout.splitlines() if ": error: " in line]
    lines = (tmp_path / "policies" / "zz_typos.cedar").read_text().splitlines()

    def place(line: int, word: str) -> str:
        """Where `word` is in that line: each error points at the attribute name at fault."""
        return f"policies/zz_typos.cedar:{line}:{lines[line - 1].index(word) + 1}: error:"

    assert any(line.startswith(place(4, "max_reslts")) and "max_reslts" in line
               and "did you mean `max_results`" in line for line in errors), errors
    assert any(line.startswith(place(6, "teir")) and "`teir`" in line
               and "did you mean `tier`" in line for line in errors), errors
    # `has` on an undeclared attribute is not an error for Cedar (it is false): the same here.
    assert not any(":2:" in line for line in errors), errors
    schema = schema_of(purser_bin, tmp_path)
    text = (tmp_path / "policies" / "zz_typos.cedar").read_text()
    assert sorted(e.policy_id for e in cedarpy.validate_policies(text, schema).errors) == ["policy1", "policy2"]
