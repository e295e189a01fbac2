"""Tool directories and a raw line-level driver for `purser serve`."""
import json
import os
import pathlib
import queue
import subprocess
import threading
import time

from canary import CAPTURED


def write_tools(directory: pathlib.Path, port: int, fillers: int = 0) -> None:
    """Writes the manifests the MCP suites use, pointing at the loopback upstream on `port`."""
    base = f"http://127.0.0.1:{port}"
    tools = {
        "search_papers": {
            "name": "search_papers",
            "title": "Search papers",
            "description": "Searches papers.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "minLength": 1},
                    "max_results": {"type": "integer", "minimum": 1, "maximum": 50},
                },
                "required": ["query"],
                "additionalProperties": False,
            },
            "outputSchema": {
                "type": "object",
                "properties": {
                    "query": {"type": "string"},
                    "results": {"type": "array", "items": {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}},
                },
                "required": ["query", "results"],
            },
            "annotations": {"readOnlyHint": True, "idempotentHint": True},
            "upstream": {"method": "GET", "url": f"{base}/papers", "query": {"q": "query", "limit": "max_results"}},
        },
        "echo_segment": {
            "name": "echo_segment",
            "description": "Echoes one path segment.",
            "inputSchema": {"type": "object", "properties": {"value": {"type": "string"}}, "required": ["value"]},
            "upstream": {"url": f"{base}/echo/{{value}}"},
        },
        "bad_output": {
            "name": "bad_output",
            "description": "Upstream breaks its output schema.",
            "inputSchema": {"type": "object", "additionalProperties": False},
            "outputSchema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
            "upstream": {"url": f"{base}/bad-output"},
        },
        "redirect_away": {
            "name": "redirect_away",
            "description": "Upstream redirects to another host.",
            "inputSchema": {"type": "object", "additionalProperties": False},
            "upstream": {"url": f"{base}/redirect-away", "secretHeaders": {"Authorization": {"secret": "INTEROP_TOKEN", "prefix": "Bearer "}}},
        },
        "slow": {
            "name": "slow",
            "description": "Takes a while.",
            "inputSchema": {"type": "object", "properties": {"seconds": {"type": "number"}}},
            "upstream": {"url": f"{base}/slow", "query": {"seconds": "seconds"}},
        },
    }
    for index in range(fillers):
        name = f"filler_{index:02d}"
        tools[name] = {
            "name": name,
            "description": "Pads the list for pagination.",
            "inputSchema": {"type": "object", "additionalProperties": False},
            "upstream": {"url": f"{base}/papers"},
        }
    directory.mkdir(parents=True, exist_ok=True)
    for name, manifest in tools.items():
        (directory / f"{name}.json").write_text(json.dumps(manifest, indent=2))
    policies = policies_dir(directory)
    policies.mkdir(exist_ok=True)
    # These suites test the protocol and the upstream steps, so every call is permitted here;
    # the policy step has its own suites (and with no policy at all, Cedar denies everything).
    (policies / "allow-all.cedar").write_text('@id("allow-all")\npermit (principal, action, resource);\n')


def policies_dir(tools_dir: pathlib.Path) -> pathlib.Path:
    """The permissive policy folder written beside a test tools folder."""
    return tools_dir.parent / (tools_dir.name + "-policies")


class RawServer:
    """Drives `purser serve` line by line, checking that every stdout line is a JSON-RPC message."""

    def __init__(self, purser_bin: str, tools_dir: pathlib.Path, *extra: str, env=None):
        self.proc = subprocess.Popen(
            [purser_bin, "serve", "--tools", str(tools_dir), "--policies", str(policies_dir(tools_dir)), *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        self.lines: "queue.Queue[dict | None]" = queue.Queue()
        self.raw: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stderr(self):
        for line in self.proc.stderr:
            CAPTURED.append(line)

    def _read(self):
        for line in self.proc.stdout:
            CAPTURED.append(line)
            self.raw.append(line)
            self.lines.put(json.loads(line))  # a non-JSON line fails here, and the test with it
        self.lines.put(None)

    def send(self, message) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def receive(self, timeout: float = 5.0) -> dict:
        message = self.lines.get(timeout=timeout)
        assert message is not None, "server closed stdout"
        return message

    def close_input_and_wait(self, timeout: float = 5.0) -> int:
        self.proc.stdin.close()
        start = time.monotonic()
        code = self.proc.wait(timeout=timeout)
        self.exit_seconds = time.monotonic() - start
        return code

    def remaining(self) -> list[dict]:
        out = []
        while True:
            message = self.lines.get(timeout=5)
            if message is None:
                return out
            out.append(message)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
