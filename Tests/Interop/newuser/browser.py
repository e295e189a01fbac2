"""Headless Chromium (the Debian `chromium` package) for the HTML report: a screenshot and the parsed DOM.

The PNG is decoded here with zlib only (no imaging package), enough to tell a blank page from a drawn one.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("headless Chromium is not installed: scripts/test installs it (apt-get install -y chromium)")


def _run(args: list[str], timeout: int = 90) -> subprocess.CompletedProcess[str]:
    # --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=timeout)


def screenshot(page: Path, out: Path, width: int = 1000, height: int = 1600) -> Path:
    completed = _run([f"--screenshot={out}", f"--window-size={width},{height}", page.as_uri()])
    assert out.exists() and out.stat().st_size > 0, completed.stderr[-2000:]
    return out


def dom(page: Path) -> str:
    completed = _run(["--dump-dom", page.as_uri()])
    assert completed.returncode == 0 and "<svg" in completed.stdout, completed.stderr[-2000:]
    return completed.stdout


def png_pixels(path: Path) -> tuple[int, int, list[tuple[int, ...]]]:
    """Width, height and a sample of RGB pixels (every 4th pixel of every 4th row) of an 8-bit RGB(A) PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, idat, width, height, channels = 8, b"", 0, 0, 0
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunk = data[offset + 8 : offset + 8 + length]
        offset += 12 + length
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and color in (2, 6), f"unsupported PNG (depth {depth}, color type {color})"
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    sample: list[tuple[int, ...]] = []
    position = 0
    for row in range(height):
        kind = raw[position]
        line = bytearray(raw[position + 1 : position + 1 + stride])
        position += 1 + stride
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            for i in range(stride):
                line[i] = (line[i] + previous[i]) & 0xFF
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + predictor) & 0xFF
        if row % 4 == 0:
            for x in range(0, width, 4):
                sample.append(tuple(line[x * channels : x * channels + 3]))
        previous = line
    return width, height, sample


class ChartReader(HTMLParser):
    """Collects every element with `data-*` attributes inside an SVG chart, keyed by the chart's id."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, list[dict[str, str]]] = {}
        self.stack: list[str | None] = []
        self.cards: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        chart = attributes.get("data-chart")
        if tag == "svg" and chart:
            self.charts.setdefault(chart, [])
            self.stack.append(chart)
        elif tag == "svg":
            self.stack.append(None)
        elif self.stack and self.stack[-1]:
            data = {k[5:]: v for k, v in attributes.items() if k.startswith("data-")}
            if data:
                data["aria-label"] = attributes.get("aria-label", "")
                self.charts[self.stack[-1]].append(data)
        if tag == "p" and chart:
            self.charts.setdefault(chart, [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg" and self.stack:
            self.stack.pop()


def charts(html: str) -> dict[str, list[dict[str, Any]]]:
    reader = ChartReader()
    reader.feed(html)
    return reader.charts
