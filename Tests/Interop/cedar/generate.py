"""Seeded generators of Cedar difftest cases for MCP tool calls (cedar.md §7.4) and parser near-misses.

Everything is derived from `random.Random(seed)`, so a seed always yields the same cases.
"""

from __future__ import annotations

import random
import re

AGENTS = ["a0", "a1", "a2", "a3", "a4"]
MISSING_AGENT = "a5"
GROUPS = {"Staff": [], "Research": ["Staff"], "Interns": ["Staff"], "Admins": [], "Contractors": ["Interns"]}
TOOLS = ["t0", "t1", "t2", "t3", "t4"]
MISSING_TOOL = "t5"
TOOL_GROUPS = {"all": [], "research": ["all"], "premium": ["all"], "free": ["all"]}
TAGS = ["search", "paid", "premium", "beta", "write"]
PAYEES = ["0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "0xAbC0000000000000000000000000000000000001", "0xdead"]
NETWORKS = ["base", "base-sepolia", "eip155:8453", "polygon"]
TIERS = ["free", "pro", "enterprise"]
ACTIONS = ["call_tool", "list_tools", "pay", "any"]


def uid(kind: str, name: str) -> dict:
    return {"type": kind, "id": name}


def decimal_json(text: str) -> dict:
    return {"__extn": {"fn": "decimal", "arg": text}}


def random_decimal(rng: random.Random) -> str:
    whole = rng.choice([0, 0, 0, 1, 2, 10])
    digits = rng.choice([1, 2, 4])
    fraction = "".join(rng.choice("0123456789") for _ in range(digits))
    return f"{'-' if rng.random() < 0.05 else ''}{whole}.{fraction}"


def build_entities(rng: random.Random) -> list[dict]:
    entities = []
    for name, parents in GROUPS.items():
        entities.append({"uid": uid("Group", name), "attrs": {}, "parents": [uid("Group", p) for p in parents]})
    for name, parents in TOOL_GROUPS.items():
        entities.append(
            {"uid": uid("ToolGroup", name), "attrs": {}, "parents": [uid("ToolGroup", p) for p in parents]}
        )
    entities.append({"uid": uid("Action", "any"), "attrs": {}, "parents": []})
    for action in ("call_tool", "list_tools", "pay"):
        entities.append({"uid": uid("Action", action), "attrs": {}, "parents": [uid("Action", "any")]})
    for agent in AGENTS:
        attrs: dict = {}
        if rng.random() < 0.8:
            attrs["tier"] = rng.choice(TIERS)
        if rng.random() < 0.6:
            attrs["level"] = rng.choice([0, 1, 5, 10, 9223372036854775807, -3])
        if rng.random() < 0.3:
            attrs["manager"] = {"__entity": uid("Agent", rng.choice(AGENTS + [MISSING_AGENT]))}
        if rng.random() < 0.3:
            attrs["profile"] = {"team": rng.choice(["x", "y"]), "since": rng.randint(2019, 2026)}
        tags = {}
        if rng.random() < 0.6:
            tags["scope"] = rng.choice(["papers:read", "refund:write papers:read", "admin", ""])
        if rng.random() < 0.3:
            tags["sub"] = agent
        entity = {
            "uid": uid("Agent", agent),
            "attrs": attrs,
            "parents": [uid("Group", g) for g in rng.sample(list(GROUPS), rng.randint(0, 2))],
        }
        if tags or rng.random() < 0.5:
            entity["tags"] = tags
        entities.append(entity)
    for tool in TOOLS:
        attrs = {
            "tags": rng.sample(TAGS, rng.randint(0, 3)),
            "price": decimal_json(random_decimal(rng)),
            "server": rng.choice(["papers", "weather", "reports"]),
        }
        if rng.random() < 0.5:
            attrs["maxResults"] = rng.choice([10, 50, 100])
        entities.append(
            {
                "uid": uid("Tool", tool),
                "attrs": attrs,
                "parents": [uid("ToolGroup", g) for g in rng.sample(list(TOOL_GROUPS), rng.randint(0, 2))],
            }
        )
    entities.append(
        {
            "uid": uid("Config", "payments"),
            "attrs": {
                "allowedPayTo": rng.sample(PAYEES, rng.randint(1, 2)),
                "maxAmount": decimal_json(rng.choice(["0.10", "0.5", "1.0"])),
                "networks": rng.sample(NETWORKS, 2),
            },
            "parents": [],
        }
    )
    rng.shuffle(entities)
    return entities


def build_request(rng: random.Random) -> dict:
    context: dict = {}
    if rng.random() < 0.85:
        params: dict = {}
        roll = rng.random()
        if roll < 0.6:
            params["max_results"] = rng.choice([1, 10, 20, 50, 51, 500, -1, 9223372036854775807])
        elif roll < 0.7:
            params["max_results"] = rng.choice(["20", "many"])
        if rng.random() < 0.5:
            params["query"] = rng.choice(["cedar", "policy language", "", "é"])
        if rng.random() < 0.2:
            params["filters"] = {"year": rng.choice([2020, 2024]), "open": rng.random() < 0.5}
        if rng.random() < 0.2:
            params["ids"] = rng.sample([1, 2, 3, 4], rng.randint(0, 3))
        context["params"] = params
    if rng.random() < 0.7:
        context["amount"] = (
            decimal_json(random_decimal(rng)) if rng.random() < 0.85 else rng.choice(["0.05", "1"])
        )
    if rng.random() < 0.7:
        context["payTo"] = rng.choice(PAYEES)
    if rng.random() < 0.5:
        context["network"] = rng.choice(NETWORKS)
    principal = rng.choice(AGENTS + [MISSING_AGENT]) if rng.random() < 0.9 else rng.choice(AGENTS)
    return {
        "principal": uid("Agent", principal),
        "action": uid("Action", rng.choice(ACTIONS)),
        "resource": uid("Tool", rng.choice(TOOLS + [MISSING_TOOL])),
        "context": context,
    }


def q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def atom(rng: random.Random) -> str:
    """A Boolean-valued condition, mostly well-typed; some errors (missing attributes, types, overflow)."""
    n = rng.choice([1, 5, 10, 20, 50, 100])
    choices = [
        lambda: f"context.params has max_results && context.params.max_results <= {n}",
        lambda: f"context.params.max_results < {n}",
        lambda: f"context has params && context.params has max_results && context.params.max_results > {n}",
        lambda: f"principal.tier == {q(rng.choice(TIERS))}",
        lambda: f"principal has tier && principal.tier != {q(rng.choice(TIERS))}",
        lambda: f"resource.tags.contains({q(rng.choice(TAGS))})",
        lambda: f"resource.tags.containsAny([{q(rng.choice(TAGS))}, {q(rng.choice(TAGS))}])",
        lambda: f"resource.tags.containsAll([{q(rng.choice(TAGS))}])",
        lambda: f"resource.tags.isEmpty()",
        lambda: f"resource.price.lessThanOrEqual(decimal({q(rng.choice(['0.10', '0.5', '1.0', '0.0']))}))",
        lambda: f"context.amount.greaterThan(decimal({q(rng.choice(['0.05', '0.5']))}))",
        lambda: "context has amount && context.amount.lessThan(Config::\"payments\".maxAmount)",
        lambda: "Config::\"payments\".allowedPayTo.contains(context.payTo)",
        lambda: "context has payTo && Config::\"payments\".allowedPayTo.contains(context.payTo)",
        lambda: f"principal in Group::{q(rng.choice(list(GROUPS)))}",
        lambda: f"resource in ToolGroup::{q(rng.choice(list(TOOL_GROUPS)))}",
        lambda: f"principal.getTag(\"scope\") like {q(rng.choice(['*read*', '*', 'admin', '*:write*']))}",
        lambda: "principal.hasTag(\"scope\")",
        lambda: "principal.hasTag(\"sub\") && principal.getTag(\"sub\") == \"a1\"",
        lambda: "resource is Tool",
        lambda: f"principal is Agent in Group::{q(rng.choice(list(GROUPS)))}",
        lambda: f"principal.level + {rng.choice([1, 9223372036854775807])} > 0",
        lambda: f"principal has level && principal.level * {rng.choice([2, 1000000000000])} >= {n}",
        lambda: "-principal.level < 0",
        lambda: "if principal has tier then principal.tier == \"pro\" else false",
        lambda: f"if context has params then context.params.max_results <= {n} else true",
        lambda: f"context.amount < decimal(\"1.0\")",
        lambda: f"resource has maxResults && resource.maxResults >= context.params.max_results",
        lambda: "{a: 1, b: [1, 2, 2]} == {b: [2, 1], a: 1}",
        lambda: f"context has network && context.network like {q(rng.choice(['base*', '*:*', 'polygon']))}",
        lambda: "action in [Action::\"call_tool\", Action::\"any\"]",
        lambda: "action == Action::\"pay\"",
        lambda: "principal.manager == Agent::\"a1\"",
        lambda: "principal.manager.tier == \"pro\"",
        lambda: "principal has manager && principal.manager has tier",
        lambda: "principal has profile.team && principal.profile.team == \"x\"",
        lambda: "context.params has filters.year",
        lambda: "context.params.ids.contains(2)",
        lambda: f"[1, 2, 3].containsAll(context.params.ids)",
        lambda: "resource.server == \"papers\"",
        lambda: "principal in [Group::\"Research\", Group::\"Admins\"]",
        lambda: "principal in [Group::\"Research\", 1]",
        lambda: "context.params.query like \"*cedar*\"",
        lambda: "context.params == {}",
        lambda: "principal == Agent::\"a5\"",
        lambda: "true",
        lambda: "false",
        lambda: "context.amount == decimal(\"0.0500\")",
        lambda: "decimal(context.payTo).lessThan(decimal(\"1.0\"))",
        lambda: "1 == \"1\"",
        lambda: "principal.level",
    ]
    return rng.choice(choices)()


def condition(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth < 2 and roll < 0.15:
        return f"({condition(rng, depth + 1)}) && ({condition(rng, depth + 1)})"
    if depth < 2 and roll < 0.28:
        return f"({condition(rng, depth + 1)}) || ({condition(rng, depth + 1)})"
    if depth < 2 and roll < 0.35:
        return f"!({condition(rng, depth + 1)})"
    return atom(rng)


def entity_scope(rng: random.Random, variable: str, kind: str, names: list[str], groups: list[str], group_kind: str) -> str:
    roll = rng.random()
    if roll < 0.4:
        return variable
    if roll < 0.6:
        return f"{variable} == {kind}::{q(rng.choice(names))}"
    if roll < 0.75:
        return f"{variable} in {group_kind}::{q(rng.choice(groups))}"
    if roll < 0.85:
        return f"{variable} is {kind}"
    if roll < 0.95:
        return f"{variable} is {kind} in {group_kind}::{q(rng.choice(groups))}"
    return f"{variable} is Other"


def action_scope(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        return "action"
    if roll < 0.7:
        return f"action == Action::{q(rng.choice(ACTIONS))}"
    if roll < 0.85:
        return f"action in Action::{q(rng.choice(ACTIONS))}"
    return f"action in [Action::{q(rng.choice(ACTIONS))}, Action::{q(rng.choice(ACTIONS))}]"


def policy(rng: random.Random, index: int) -> str:
    lines = []
    if rng.random() < 0.5:
        lines.append(f'@id("p{index}-{rng.randint(0, 999)}")')
    effect = "permit" if rng.random() < 0.65 else "forbid"
    principal = entity_scope(rng, "principal", "Agent", AGENTS + [MISSING_AGENT], list(GROUPS), "Group")
    resource = entity_scope(rng, "resource", "Tool", TOOLS + [MISSING_TOOL], list(TOOL_GROUPS), "ToolGroup")
    lines.append(f"{effect} ({principal}, {action_scope(rng)}, {resource})")
    for _ in range(rng.choice([0, 1, 1, 2])):
        keyword = "when" if rng.random() < 0.75 else "unless"
        lines.append(f"{keyword} {{ {condition(rng)} }}")
    return "\n".join(lines) + ";"


def tool_call_cases(seed: int, count: int, requests_per_case: int = 8) -> list[dict]:
    rng = random.Random(seed)
    cases = []
    for number in range(count):
        policies = "\n\n".join(policy(rng, i) for i in range(rng.randint(1, 5)))
        cases.append(
            {
                "name": f"generated/{seed}/{number}",
                "policies": policies,
                "entities": build_entities(rng),
                "requests": [build_request(rng) for _ in range(requests_per_case)],
            }
        )
    return cases


# Near-miss fragments whose acceptance differs by a small detail (checked against cedarpy by the suite).
EDGE_EXPRESSIONS = [
    "-9223372036854775808 == 1", "--9223372036854775808 == 1", "9223372036854775808 == 1",
    "-(9223372036854775808) == 1", "----1 == 1", "-----1 == 1", "!!!!true", "!!!!!true", "!-1 == 1",
    "1 < 2 < 3", "principal in Group::\"a\" == true", "1 / 2 == 0", "1 % 2 == 0", "1 = 1",
    "context[\"a\"] == 1", "context[a] == 1", "context has a.b", "context has a.if", "context has \"a b\"",
    "context has (a)", "context.if == 1", "principal.principal == 1", "{a: 1, a: 2} == {}", "{if: 1} == {}",
    "{\"a\": 1, a: 2} == {}", "foo(1)", "context.foo()", "context.contains(1, 2)", "context.isEmpty(1)",
    "decimal(\"1.0\", \"2\") == 1", "lessThan(decimal(\"1.0\"), decimal(\"2.0\"))", "\"1.0\".decimal()",
    "\"\\q\" == \"\"", "\"\\u{D800}\" == \"\"", "\"\\u{10FFFF}\" == \"\"", "\"\\x7F\" == \"\"", "\"\\x80\" == \"\"",
    "\"a\" like \"\\*\"", "\"a\\*\" == \"\"", "1 + if true then 1 else 2 == 2", "if true then 1 else 2 == 2",
    "principal is User::\"a\"", "principal is \"User\"", "principal is A::B in Group::\"x\"",
    "principal == __cedar::\"a\"", "principal == __cedarx::\"a\"", "[1, 2,] == [1]", "{a: 1,} == {}",
    "principal == ?principal", "true && ", "(context.a)(1)", "context has a::b", "principal[\"a\"](1)",
    "User :: \"a\" == principal", "\"\\u{}\" == \"\"", "\"\\u{0000041}\" == \"\"", "1 <> 2", "1 !== 2",
    "context.a.b.c.d.e == 1", "[] == {}", "1 + + 2", "1 - -2 == 3", "true || false && 1",
]
EDGE_POLICIES = [
    "permit(principal, action == User::\"a\", resource);", "permit(principal, action is Action, resource);",
    "permit(action, principal, resource);", "permit(principal, action);", "permit(principal, action, resource,);",
    "permit(principal, action, resource, context);", "permit(principal in [Group::\"a\"], action, resource);",
    "permit(principal is Agent == Agent::\"a\", action, resource);", "permit(principal == (Agent::\"a\"), action, resource);",
    "permit(principal, action in ([Action::\"a\"]), resource);", "permit(principal, action in [], resource);",
    "permit(principal != Agent::\"a\", action, resource);", "@a(\"x\") @a(\"y\") permit(principal, action, resource);",
    "@if(\"x\") permit(principal, action, resource);", "@id permit(principal, action, resource);",
    "Permit(principal, action, resource);", "permit(principal, action, resource) when { };",
    "permit(principal, action, resource) foo { true };", "permit(principal, action, resource)",
    "permit(principal, action, resource);;", "", "// only a comment",
    "permit(principal:Agent, action, resource);", "permit(principal, action == A::Action::\"a\", resource);",
]

TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|[A-Za-z_][A-Za-z0-9_]*|[0-9]+|::|==|!=|<=|>=|&&|\|\||\S')
INSERTABLE = ["(", ")", "{", "}", "[", "]", ",", ";", ".", "!", "-", "==", "in", "has", "like", "is", "if",
              "&&", "||", "principal", "\"x\"", "1", "::", "@", "when", "then", "else", "*", "+", "<", "?principal"]


def mutate(rng: random.Random, text: str) -> str:
    tokens = TOKEN.findall(text)
    if not tokens:
        return text
    roll = rng.random()
    position = rng.randrange(len(tokens))
    if roll < 0.3:
        del tokens[position]
    elif roll < 0.55:
        tokens.insert(position, rng.choice(INSERTABLE))
    elif roll < 0.7 and len(tokens) > 1:
        other = min(position + 1, len(tokens) - 1)
        tokens[position], tokens[other] = tokens[other], tokens[position]
    elif roll < 0.85:
        tokens[position] = rng.choice(INSERTABLE)
    else:
        tokens = tokens[: rng.randrange(len(tokens))]
    return " ".join(tokens)


def parse_cases(seed: int, count: int) -> list[dict]:
    rng = random.Random(seed)
    cases = []
    for number in range(count):
        roll = rng.random()
        if roll < 0.3:
            text = policy(rng, number)
        elif roll < 0.45:
            text = f"permit(principal, action, resource) when {{ {rng.choice(EDGE_EXPRESSIONS)} }};"
        elif roll < 0.5:
            text = rng.choice(EDGE_POLICIES)
        else:
            text = policy(rng, number)
            for _ in range(rng.choice([1, 1, 2])):
                text = mutate(rng, text)
        cases.append({"name": f"parse/{seed}/{number}", "policies": text})
    return cases


MUTATION_TOKENS = [
    "1", "-", "!", "principal", "resource", "context", '"a"', "[]", "{}", "9223372036854775807", "*", "+", "||",
    "&&", "in", ".tags", ".price", " has x", "==", 'decimal("1.0")', 'Tool::"t1"', 'Agent::"a1"', ' like "*"',
    " is Agent", ".isEmpty()",
]


def mutated_tool_call_cases(seed: int, count: int, accepts) -> list[dict]:
    """Tool-call cases whose policies got one random token edit; only texts `accepts(text)` keeps survive
    (the suite passes cedarpy's parser), so evaluation meets odd but valid expressions."""
    rng = random.Random(seed)
    kept = []
    for case in tool_call_cases(seed, count):
        for _ in range(4):
            tokens = TOKEN.findall(case["policies"])
            position = rng.randrange(len(tokens))
            roll = rng.random()
            if roll < 0.4:
                tokens[position] = rng.choice(MUTATION_TOKENS)
            elif roll < 0.7:
                tokens.insert(position, rng.choice(MUTATION_TOKENS))
            else:
                del tokens[position]
            text = " ".join(tokens)
            if accepts(text):
                case["policies"] = text
                case["name"] = case["name"].replace("generated/", "mutated/")
                kept.append(case)
                break
    return kept
