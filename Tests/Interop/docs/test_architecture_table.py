"""The module graph cannot drift from what the docs and the sources say: docs/architecture.md's table of
every target's direct dependencies equals Package.swift's (as `swift package dump-package` reads it), and
every package module a target's sources import is one of its declared dependencies (SwiftPM on Linux builds
an undeclared import as long as the module happens to be built first, so nothing else catches it).
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ROW = re.compile(r"^\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*$")
IMPORT = re.compile(r"^\s*(?:@testable\s+|@_implementationOnly\s+)?(?:public\s+|package\s+|internal\s+)?import\s+(\w+)",
                    re.MULTILINE)


@pytest.fixture(scope="module")
def package() -> dict[str, dict]:
    done = subprocess.run(["swift", "package", "dump-package"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return {target["name"]: target for target in json.loads(done.stdout)["targets"]}


def declared(target: dict) -> set[str]:
    names = set()
    for dependency in target["dependencies"]:
        for kind in ("byName", "target", "product"):
            if kind in dependency:
                names.add(dependency[kind][0])
    return names


def documented() -> dict[str, set[str]]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    start = text.index("| target | depends on |")
    table: dict[str, set[str]] = {}
    for line in text[start:].splitlines()[2:]:
        match = ROW.match(line)
        if not match:
            break
        targets, dependencies = match.groups()
        needs = set() if dependencies == "nothing" else {name.strip() for name in dependencies.split(",")}
        for name in targets.split(","):
            # "PurserCLI (`purser`)": the target, not its product name.
            table[name.split("(")[0].strip()] = needs
    return table


def test_the_architecture_table_is_package_swift(package):
    table = documented()
    built = {name: declared(target) for name, target in package.items()
             if target["type"] in ("regular", "executable")}
    assert set(table) == set(built), (
        f"targets only in docs: {sorted(set(table) - set(built))}; only in Package.swift: "
        f"{sorted(set(built) - set(table))}")
    wrong = {name: {"docs": sorted(table[name]), "Package.swift": sorted(built[name])}
             for name in built if table[name] != built[name]}
    assert not wrong, wrong


def test_every_imported_package_module_is_a_declared_dependency(package):
    modules = set(package)
    undeclared = {}
    for name, target in package.items():
        if target["type"] == "system":
            continue
        folder = ROOT / target["path"] if target.get("path") else (
            ROOT / ("Tests" if target["type"] == "test" else "Sources") / name)
        imported = set()
        for source in folder.rglob("*.swift"):
            imported |= set(IMPORT.findall(source.read_text()))
        missing = (imported & modules) - declared(target) - {name}
        if missing:
            undeclared[name] = sorted(missing)
    assert not undeclared, f"imports without a declared dependency: {undeclared}"
