"""The docs cannot drift from the command line: every `purser …` command line in README.md and docs/*.md
(fenced code blocks and inline code) must name a real command, a real action of it, and only options its
`purser COMMAND --help` usage lists.

Documented placeholders are fine (`purser session …`, `purser approve apr_…`, `[--ttl 24h]`); what fails is a
command, an action or a `--flag` that the binary does not have.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FLAG = re.compile(r"--[a-z][a-z0-9-]*")
ACTION = re.compile(r"^[a-z][a-z-]*$")
# A command starts at a word `purser`, bare or as a path (`$bin/purser`, `.build/release/purser`), followed by
# a command word (not `purser-bench`, not the user `purser-vault`, not `--bin /usr/local/bin/purser` alone).
COMMAND = re.compile(r"(?<![\w.$/~-])(?:[\w.$/~-]*/)?purser[ \t]+([a-z][a-z-]*)")
# Where a documented command line ends: a shell comment, a redirect, a diagram arrow, the end of a code span.
END = re.compile(r"\s#|\s<\s|──|▶|`|\s&&\s|;")


@dataclass
class Usage:
    """What `purser COMMAND --help` documents: actions (first bare word of each form) and their options."""

    actions: dict[str, set[str]] = field(default_factory=dict)  # action → options; "" when there is none
    general: set[str] = field(default_factory=set)  # options named in notes that apply to every form

    def options(self, action: str | None) -> set[str]:
        if action is None:
            return set().union(*self.actions.values()) | self.general
        return self.actions.get(action, set()) | self.general

    @property
    def has_actions(self) -> bool:
        return "" not in self.actions


def run(purser: str, *arguments: str) -> str:
    completed = subprocess.run([purser, *arguments], capture_output=True, text=True, timeout=30)
    assert completed.returncode == 0, f"purser {' '.join(arguments)}: {completed.returncode} {completed.stderr}"
    assert completed.stdout.strip(), f"purser {' '.join(arguments)} printed nothing on stdout"
    return completed.stdout


def usages(purser: str) -> dict[str, Usage]:
    listing = run(purser, "help")
    names = [line.split()[0] for line in listing.splitlines() if line.startswith("  ") and line.strip()]
    assert "serve" in names and "owner" in names, listing
    result: dict[str, Usage] = {}
    for name in names:
        text = run(purser, name, "--help")
        assert text.startswith("usage: "), text
        usage = Usage()
        for line in text.removeprefix("usage: ").splitlines():
            line = line.strip()
            forms = [f"purser {form}" for form in re.split(r"(?:^|\s\|\s)purser ", line) if form]
            if not line.startswith("purser "):
                usage.general |= set(FLAG.findall(line))
                continue
            for form in forms:
                words = form.split()
                assert words[:2] == ["purser", name], (name, form)
                action = words[2] if len(words) > 2 and ACTION.match(words[2]) else ""
                usage.actions.setdefault(action, set()).update(FLAG.findall(form))
        result[name] = usage
    return result


def commands_in(span: str) -> list[str]:
    """The `purser …` command lines in one line of code, each cut where it ends."""
    starts = [match.start() for match in COMMAND.finditer(span)]
    found = []
    for index, start in enumerate(starts):
        text = span[start : starts[index + 1] if index + 1 < len(starts) else len(span)]
        cut = END.search(text)
        found.append(text[: cut.start()] if cut else text)
    return found


def documented_commands() -> list[tuple[str, int, str]]:
    """(file, line, command text) for each `purser …` in a fenced code block or an inline code span (which
    may wrap onto the next line of its paragraph)."""
    found: list[tuple[str, int, str]] = []
    for document in DOCUMENTS:
        name = f"{document.relative_to(ROOT)}"
        lines = document.read_text().splitlines()
        fenced = False
        paragraph: list[tuple[int, str]] = []  # (line number, text) of the prose paragraph being read

        def prose() -> None:
            # Line breaks inside a paragraph are spaces, so a code span may wrap; each keeps its first line.
            text, starts = "", []
            for number, line in paragraph:
                starts.append((len(text), number))
                text += line + " "
            for match in re.finditer(r"`([^`]*)`", text):
                number = max(n for offset, n in starts if offset <= match.start())
                found.extend((name, number, command) for command in commands_in(match.group(1)))
            paragraph.clear()

        number = 0
        while number < len(lines):
            line = lines[number]
            number += 1
            if line.lstrip().startswith("```"):
                prose()
                fenced = not fenced
                continue
            if not fenced:
                if line.strip():
                    paragraph.append((number, line))
                else:
                    prose()
                continue
            first = number
            while line.endswith("\\") and number < len(lines):  # a shell continuation
                line = line[:-1] + " " + lines[number]
                number += 1
            found.extend((name, first, command) for command in commands_in(line))
        prose()
    return found


def problems_in(command: str, usage_of: dict[str, Usage]) -> list[str]:
    words = command.replace("\\|", "|").split()
    words[0] = "purser"  # `$bin/purser` and the like
    name = words[1]
    if name not in usage_of:
        return [f"no command '{name}'"]
    usage = usage_of[name]
    action: str | None = None
    problems: list[str] = []
    if usage.has_actions:
        candidate = words[2] if len(words) > 2 else ""
        if candidate in ("…", "...", "") or not re.match(r"^[a-z][a-z/-]*$", candidate):
            action = None  # a placeholder: options are checked against every form
        else:
            for alternative in candidate.split("/"):
                if alternative not in usage.actions:
                    problems.append(f"'{name}' has no action '{alternative}' (it has {sorted(usage.actions)})")
            action = candidate if "/" not in candidate and not problems else None
    allowed = usage.options(action) | {"--help"}
    for flag in FLAG.findall(" ".join(words[2:])):
        if flag not in allowed:
            where = f"purser {name}" + (f" {action}" if action else "")
            problems.append(f"{where} has no option {flag} (its usage lists {sorted(usage.options(action))})")
    return problems


def test_every_documented_command_line_exists(purser_bin: str) -> None:
    usage_of = usages(purser_bin)
    commands = documented_commands()
    assert len(commands) > 50, "the extractor found too few command lines; is the pattern broken?"
    failures = [
        f"{file}:{line}: `{command.strip()}`: {problem}"
        for file, line, command in commands
        for problem in problems_in(command, usage_of)
    ]
    assert not failures, "documented command lines the CLI does not have:\n" + "\n".join(failures)


def test_the_checker_catches_drift(purser_bin: str) -> None:
    """The check itself can fail: a wrong flag, action or command is reported, the real ones are not."""
    usage_of = usages(purser_bin)
    assert problems_in("purser owner resolve ID --settled 0xab --note x", usage_of) == []
    assert problems_in("purser owner resolve ID --outcome settled --evidence x", usage_of) != []
    assert problems_in("purser owner settle ID", usage_of) != []
    assert problems_in("purser teleport --now", usage_of) != []
    assert problems_in("purser serve --vault /run/purser/vault.sock --agent bob", usage_of) == []
