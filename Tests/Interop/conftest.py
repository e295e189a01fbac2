"""Shared fixtures for the interop suites: where the built binaries are, and the repository root."""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _binary(env_name: str, product: str) -> str:
    path = os.environ.get(env_name) or str(ROOT / ".build" / "release" / product)
    if not os.path.exists(path):
        pytest.fail(f"{product} is not built at {path}; run scripts/test (it builds it) or set {env_name}")
    return path


@pytest.fixture(scope="session")
def purser_bin() -> str:
    return _binary("PURSER_BIN", "purser")


@pytest.fixture(scope="session")
def interop_bin() -> str:
    return _binary("PURSER_INTEROP_BIN", "purser-interop")


@pytest.fixture(scope="session")
def repo_root() -> pathlib.Path:
    return ROOT
