"""The cedar-for-agents shape against the official generator (`cedar-policy-mcp-schema-generator` 0.7.0) and
cedarpy 4.12.2.

- The schema `purser policy schema --shape agents --json` prints is equivalent to the generator's (with
  `numbersAsDecimal` and `objectsAsRecords`) for the sample tools, the `purser init` starter tools and generated
  tool schemas, string `enum`s included (enumerated entity types `Purser::<tool>::Input::<path>`, compared with
  their values); Purser's one addition, the `pay` action, is compared separately.
- Policies written against that schema decide the same calls the same way in Purser (`purser policy eval
  --tool`, the mapping `serve` uses) and in cedarpy (request from the generator's `generate_request`).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import cedar_mcp_schema_generator as generator
import cedarpy

CONFIG = {"numbersAsDecimal": True, "objectsAsRecords": True}
BUILTINS = {"Long": "Long", "String": "String", "Bool": "Bool", "Boolean": "Bool",
            "decimal": "decimal", "ipaddr": "ipaddr", "datetime": "datetime", "duration": "duration"}

ENTITIES = [
    {"uid": {"type": "Purser::Agent", "id": "alice"}, "attrs": {"tier": "pro"},
     "parents": [{"type": "Purser::Group", "id": "Research"}]},
    {"uid": {"type": "Purser::Agent", "id": "bob"}, "attrs": {"tier": "free"}, "parents": []},
    {"uid": {"type": "Purser::Group", "id": "Research"}, "attrs": {}, "parents": []},
]
# The generator's stub: the same entity types Purser derives from ENTITIES, annotated for the generator.
STUB = """namespace Purser {
  entity Group;
  @mcp_principal("Agent") entity Agent in [Group] { tier?: String };
  @mcp_resource("McpServer") entity McpServer;
}"""


def normalise(schema: dict) -> dict:
    """The `Purser` namespace's entity types and actions, with common types (of any namespace) inlined and
    every type spelt one way, and the enumerated entity types of every namespace with their values."""
    common = {}
    enums = {}
    for namespace, body in schema.items():
        for name, t in body.get("commonTypes", {}).items():
            common[f"{namespace}::{name}" if namespace else name] = (namespace, t)
        for name, e in body.get("entityTypes", {}).items():
            if "enum" in e:
                enums[f"{namespace}::{name}"] = sorted(set(e["enum"]))
            elif namespace != "Purser":
                enums[f"{namespace}::{name}"] = "an entity type that is not an enum"
    body = schema["Purser"]

    def norm(t: dict, namespace: str = "Purser"):
        kind = t["type"]
        if kind in BUILTINS:
            return BUILTINS[kind]
        if kind == "Extension":
            return t["name"]
        if kind == "Set":
            return ["Set", norm(t["element"], namespace)]
        if kind == "Record":
            return {"Record": {k: [norm(v, namespace), v.get("required", True)] for k, v in t["attributes"].items()}}
        name = t["name"] if kind in ("Entity", "EntityOrCommon") else kind
        name = name.removeprefix("__cedar::")
        for candidate in (f"{namespace}::{name}", name):
            if kind != "Entity" and candidate in common:
                inner_namespace, inner = common[candidate]
                return norm(inner, inner_namespace)
        if name in BUILTINS:
            return BUILTINS[name]
        return ["Entity", name.removeprefix("Purser::")]

    entities = {
        name: {"memberOf": sorted(m.removeprefix("Purser::") for m in e.get("memberOfTypes", [])),
               "shape": norm(e["shape"]) if "shape" in e else {"Record": {}}}
        for name, e in body["entityTypes"].items()
    }
    actions = {
        name: {"principals": sorted(a["appliesTo"]["principalTypes"]),
               "resources": sorted(a["appliesTo"]["resourceTypes"]),
               "context": norm(a["appliesTo"]["context"]) if "context" in a["appliesTo"] else {"Record": {}}}
        for name, a in body["actions"].items()
    }
    return {"entityTypes": entities, "actions": actions, "enums": enums}


def tool_list(tools_dir: Path) -> list[dict]:
    tools = []
    for path in sorted(tools_dir.glob("*.json")):
        manifest = json.loads(path.read_text())
        tools.append({"name": manifest["name"], "description": manifest.get("description", ""),
                      "inputSchema": manifest["inputSchema"]})
    return tools


def make_home(tmp_path: Path, tools: list[dict]) -> Path:
    (tmp_path / "tools").mkdir(parents=True)
    (tmp_path / "policies").mkdir()
    for tool in tools:
        manifest = dict(tool, upstream={"method": "GET", "url": "http://127.0.0.1:9/x"})
        (tmp_path / "tools" / f"{tool['name']}.json").write_text(json.dumps(manifest))
    (tmp_path / "policies" / "entities.json").write_text(json.dumps(ENTITIES))
    (tmp_path / "policies" / "policy.json").write_text(json.dumps({"shape": "agents", "server": "default"}))
    (tmp_path / "policies" / "p.cedar").write_text("permit (principal, action, resource) when { false };\n")
    return tmp_path


def purser_schema(purser_bin: str, home: Path) -> dict:
    run = subprocess.run(
        [purser_bin, "policy", "schema", "--json", "--tools", "tools", "--policies", "policies", "--home", ".p"],
        cwd=home, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def assert_equivalent(purser_bin: str, home: Path, tools: list[dict]) -> dict:
    ours = normalise(purser_schema(purser_bin, home))
    result = generator.generate_schema(STUB, tools, config=CONFIG)
    assert result["isOk"], result["error"]
    theirs = normalise(json.loads(result["schemaJson"]))
    pay = ours["actions"].pop("pay")
    assert pay["resources"] == ["McpServer"] and "amount" in pay["context"]["Record"]
    assert ours == theirs
    return result


def test_sample_and_starter_tools_give_the_generators_schema(tmp_path: Path, purser_bin: str, repo_root: Path) -> None:
    samples = tool_list(repo_root / "tools")
    assert_equivalent(purser_bin, make_home(tmp_path / "samples", samples), samples)
    subprocess.run([purser_bin, "init", str(tmp_path / "starter"), "--agent", "alice", "--home",
                    str(tmp_path / "starter" / ".p")], capture_output=True, check=True, timeout=60)
    starter = tool_list(tmp_path / "starter" / "tools")
    assert starter
    assert_equivalent(purser_bin, make_home(tmp_path / "starter2", starter), starter)


PROPERTY_TYPES = [
    {"type": "integer"}, {"type": "number"}, {"type": "string"}, {"type": "boolean"},
    {"type": "array", "items": {"type": "string"}}, {"type": "array", "items": {"type": "number"}},
    {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "number"}}, "required": ["x"]},
    {"type": "object", "properties": {"inner": {"type": "object", "properties": {"z": {"type": "boolean"}}}}},
    # String enums: enumerated entity types named by the property's path (array items by their property).
    {"type": "string", "enum": ["red", "green", "a b", "", "é"]},
    {"type": "string", "enum": ["only", "only"]},
    {"type": "array", "items": {"type": "string", "enum": ["x", "y"]}},
    {"type": "array", "items": {"type": "array", "items": {"type": "string", "enum": ["deep"]}}},
    {"type": "object", "properties": {"mode": {"type": "string", "enum": ["fast", "slow"]},
                                      "inner": {"type": "object", "properties": {
                                          "level": {"type": "string", "enum": ["1", "2"]}}}},
     "required": ["mode"]},
    {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string", "enum": ["u", "v"]}}}},
    # Not string enums: the generator keeps the base type.
    {"type": "integer", "enum": [1, 2]}, {"type": "string", "const": "c"},
]


def test_generated_tool_schemas_give_the_generators_schema(tmp_path: Path, purser_bin: str) -> None:
    rng = random.Random(14)
    for number in range(25):
        tools = []
        for index in range(rng.randint(1, 4)):
            names = rng.sample(["a", "b", "count", "ratio", "q", "flags", "opts", "deep"], rng.randint(0, 5))
            properties = {name: rng.choice(PROPERTY_TYPES) for name in names}
            tools.append({"name": f"tool_{number}_{index}", "description": "generated",
                          "inputSchema": {"type": "object", "properties": properties,
                                          "required": [n for n in names if rng.random() < 0.5]}})
        assert_equivalent(purser_bin, make_home(tmp_path / f"case{number}", tools), tools)


POLICIES = """\
@id("search-small")
permit (principal, action == Purser::Action::"search_papers", resource)
when { context.input has max_results && context.input.max_results <= 50 };
@id("research-everything")
permit (principal in Purser::Group::"Research", action, resource == Purser::McpServer::"default");
@id("premium-needs-pro")
forbid (principal, action == Purser::Action::"premium_report", resource)
unless { principal has tier && principal.tier == "pro" };
@id("cheap-ratio")
permit (principal, action == Purser::Action::"scored", resource)
when { context.input.ratio.lessThan(decimal("0.5")) && context.input.opts.x > 1 };
@id("no-berlin")
forbid (principal, action == Purser::Action::"weather", resource) when { context.input.city == "Berlin" };
@id("fast-is-free")
permit (principal, action == Purser::Action::"scored", resource)
when { context.input has mode && context.input.mode == Purser::scored::Input::mode::"fast" };
@id("no-risks-for-bob")
forbid (principal == Purser::Agent::"bob", action == Purser::Action::"premium_report", resource)
when { context.input has sections &&
       context.input.sections.contains(Purser::premium_report::Input::sections::"risks") };
@id("reports-with-summary")
permit (principal, action == Purser::Action::"premium_report", resource)
when { context.input has sections &&
       context.input.sections.containsAny([Purser::premium_report::Input::sections::"summary"]) };
"""

SCORED = {"name": "scored", "description": "a tool with numbers",
          "inputSchema": {"type": "object", "required": ["ratio", "opts"], "properties": {
              "ratio": {"type": "number"},
              "mode": {"type": "string", "enum": ["fast", "slow"]},
              "opts": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}}}

CALLS = [
    ("alice", "search_papers", {"query": "q", "max_results": 20}),
    ("bob", "search_papers", {"query": "q", "max_results": 20}),
    ("bob", "search_papers", {"query": "q", "max_results": 80}),
    ("bob", "search_papers", {"query": "q"}),
    ("alice", "premium_report", {"company": "ACME"}),
    ("bob", "premium_report", {"company": "ACME"}),
    ("alice", "weather", {"city": "Berlin"}),
    ("alice", "weather", {"city": "Paris"}),
    ("bob", "weather", {"city": "Paris"}),
    ("bob", "scored", {"ratio": 0.25, "opts": {"x": 2}}),
    ("bob", "scored", {"ratio": 0, "opts": {"x": 2}}),
    ("bob", "scored", {"ratio": 1, "opts": {"x": 2}}),
    ("bob", "scored", {"ratio": 0.25, "opts": {"x": 1}}),
    ("carol", "scored", {"ratio": 0.1, "opts": {"x": 5}}),
    ("bob", "scored", {"ratio": 0.9, "opts": {"x": 0}, "mode": "fast"}),
    ("bob", "scored", {"ratio": 0.9, "opts": {"x": 0}, "mode": "slow"}),
    ("bob", "premium_report", {"company": "ACME", "sections": ["summary"]}),
    ("bob", "premium_report", {"company": "ACME", "sections": ["summary", "risks"]}),
    ("carol", "premium_report", {"company": "ACME", "sections": ["summary", "risks"]}),
    ("carol", "premium_report", {"company": "ACME", "sections": ["financials"]}),
]


def cedar_context(value, schema, enum_type):
    """Tool arguments as Cedar context JSON, as the generator's schema types them: `number` properties as decimal
    escapes, string `enum` values as entities of the property's enumerated type (`enum_type`)."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind == "number":
        text = repr(value) if isinstance(value, float) else f"{value}.0"
        return {"__extn": {"fn": "decimal", "arg": text}}
    if kind == "string" and "enum" in schema:
        return {"__entity": {"type": enum_type, "id": value}}
    if isinstance(value, dict):
        props = schema.get("properties", {}) if isinstance(schema, dict) else {}
        return {k: cedar_context(v, props.get(k, {}), f"{enum_type}::{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [cedar_context(v, schema.get("items", {}), enum_type) for v in value]
    return value


def test_policies_in_the_agents_shape_decide_like_cedarpy(tmp_path: Path, purser_bin: str, repo_root: Path) -> None:
    tools = tool_list(repo_root / "tools") + [SCORED]
    home = make_home(tmp_path, tools)
    (home / "policies" / "p.cedar").write_text(POLICIES)
    generated = assert_equivalent(purser_bin, home, tools)
    schema = generated["schema"]
    assert cedarpy.validate_policies(POLICIES, schema).validation_passed
    check = subprocess.run([purser_bin, "check", "--tools", "tools", "--policies", "policies", "--home", ".p"],
                           cwd=home, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    by_name = {t["name"]: t for t in tools}
    decisions = {"allow": 0, "deny": 0}
    for agent, tool, args in CALLS:
        request = generator.generate_request(
            STUB, tools, {"params": {"name": tool, "arguments": args}}, principal_type="Agent",
            principal_id=agent, resource_type="McpServer", resource_id="default")
        assert request["isOk"], request["error"]
        expected = cedarpy.is_authorized(
            {"principal": request["principal"], "action": request["action"], "resource": request["resource"],
             "context": {"input": cedar_context(args, by_name[tool]["inputSchema"], f"Purser::{tool}::Input")}},
            POLICIES, json.dumps(ENTITIES), schema=schema)
        assert expected.decision.value in ("Allow", "Deny"), expected.diagnostics.errors
        run = subprocess.run(
            [purser_bin, "policy", "eval", "--tool", tool, "--args", json.dumps(args), "--agent", agent,
             "--tools", "tools", "--policies", "policies", "--home", ".p"],
            cwd=home, capture_output=True, text=True, timeout=60)
        actual = run.stdout.split(":")[0]
        assert actual == expected.decision.value.lower(), (agent, tool, args, run.stdout, run.stderr)
        decisions[actual] += 1
    assert decisions["allow"] and decisions["deny"]


ENUM_TOOL = {"name": "news", "description": "a tool with enums",
             "inputSchema": {"type": "object", "required": ["section"], "properties": {
                 "section": {"type": "string", "enum": ["world", "sports", "a b"]},
                 "tags": {"type": "array", "items": {"type": "string", "enum": ["x", "y"]}},
                 "opts": {"type": "object", "properties": {"color": {"type": "string", "enum": ["red"]}},
                          "required": ["color"]},
                 "title": {"type": "string"}}}}

ENUM_CONDITIONS = [
    'context.input.section == Purser::news::Input::section::"world"',
    'context.input.section == Purser::news::Input::section::"a b"',
    'context.input.section == Purser::news::Input::section::"moon"',
    'context.input.section == Purser::news::Input::section::""',
    'context.input.section == "world"',
    'context.input.section != Purser::news::Input::tags::"x"',
    'context.input.section in Purser::news::Input::section::"sports"',
    'context.input.section is Purser::news::Input::section',
    'context.input.section is Purser::news::Input::sections',
    'context.input.section has name',
    'context.input.section.name == "x"',
    'context.input.section.hasTag("t")',
    'context.input.section.getTag("t") == 1',
    'context.input has tags && context.input.tags.contains(Purser::news::Input::tags::"x")',
    'context.input has tags && context.input.tags.contains(Purser::news::Input::tags::"z")',
    'context.input.tags.contains(Purser::news::Input::tags::"x")',
    'context.input has tags && context.input.tags.contains("x")',
    'context.input has opts && context.input.opts.color == Purser::news::Input::opts::color::"red"',
    'context.input has opts && context.input.opts.color == Purser::news::Input::color::"red"',
    'false && Purser::news::Input::section::"nope" == context.input.section',
    '[Purser::news::Input::section::"world", Purser::news::Input::section::"sports"].contains(context.input.section)',
    '[Purser::news::Input::section::"world", "sports"].contains(context.input.section)',
    'context.input.title like "*x*"',
    'principal in Purser::news::Input::section::"world"',
]


def test_enum_policies_validate_like_cedarpy(tmp_path: Path, purser_bin: str) -> None:
    """`purser check` in the agents' shape rejects exactly the policies cedarpy's validator rejects, against
    Purser's schema and against the generator's (which are the same), for policies using enumerated entity
    types: declared and undeclared ids, strings where an enum is expected, attributes and tags of enum
    entities, `in`/`is`, sets of enums, nested enums."""
    rng = random.Random(1414)
    tools = [ENUM_TOOL]
    policies = []
    for condition in ENUM_CONDITIONS:
        policies.append(f'permit (principal, action == Purser::Action::"news", resource) when {{ {condition} }};')
    for _ in range(40):
        a, b = rng.sample(ENUM_CONDITIONS, 2)
        joiner = rng.choice([" && ", " || "])
        word = rng.choice(["when", "unless"])
        # The action is constrained: the generator's schema has no `pay` action, whose context has no `input`.
        policies.append(
            f'forbid (principal, action == Purser::Action::"news", resource) {word} {{ ({a}){joiner}({b}) }};')
    home = make_home(tmp_path, tools)
    # One policy per line: `purser check`'s file:line:col names the policy.
    (home / "policies" / "p.cedar").write_text("\n".join(policies) + "\n")
    generated = generator.generate_schema(STUB, tools, config=CONFIG)
    assert generated["isOk"], generated["error"]
    ours = subprocess.run(
        [purser_bin, "policy", "schema", "--tools", "tools", "--policies", "policies", "--home", ".p"],
        cwd=home, capture_output=True, text=True, timeout=60)
    assert ours.returncode == 0, ours.stderr
    check = subprocess.run([purser_bin, "check", "--tools", "tools", "--policies", "policies", "--home", ".p"],
                           cwd=home, capture_output=True, text=True, timeout=60)
    rejected = {int(line.split(":")[1]) - 1 for line in check.stdout.splitlines() if ": error: " in line}
    mismatches = []
    for schema_text in (ours.stdout, generated["schema"]):
        expected = {int(e.policy_id.removeprefix("policy"))
                    for e in cedarpy.validate_policies("\n".join(policies), schema_text).errors}
        assert 0 < len(expected) < len(policies)
        for index, policy in enumerate(policies):
            if (index in expected) != (index in rejected):
                mismatches.append(f"cedar {'rejects' if index in expected else 'accepts'}, purser "
                                  f"{'rejects' if index in rejected else 'accepts'}: {policy}")
    assert not mismatches, "\n".join(mismatches)
