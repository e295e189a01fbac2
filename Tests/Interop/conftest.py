"""Shared fixtures for the interop suites: where the built binaries are, and the repository root.

Also the secret canary (issue 16): a unique value is configured as the tools' secret (INTEROP_TOKEN) for the
whole run, and at the end every output the suites produced is searched for it: the stdout and stderr of
every `subprocess.run`, every line `helpers.RawServer` read from `purser serve` (stdout and stderr), what
the tests printed or logged, and every file under pytest's temporary directory (homes, ledgers, reports,
stderr logs). One occurrence fails the run.
"""
import os
import pathlib
import subprocess

import pytest

from canary import CANARY, CAPTURED

ROOT = pathlib.Path(__file__).resolve().parents[2]

os.environ["INTEROP_TOKEN"] = CANARY

_real_run = subprocess.run


def _recording_run(*args, **kwargs):
    result = _real_run(*args, **kwargs)
    CAPTURED.append(result.stdout)
    CAPTURED.append(result.stderr)
    return result


subprocess.run = _recording_run


def _contains_canary(chunk) -> bool:
    if chunk is None:
        return False
    if isinstance(chunk, str):
        return CANARY in chunk
    return CANARY.encode() in bytes(chunk)


def pytest_runtest_logreport(report):
    for _, content in report.sections:
        CAPTURED.append(content)
    if report.longrepr is not None:
        CAPTURED.append(str(report.longrepr))


def pytest_sessionfinish(session, exitstatus):
    places = [f"captured output #{index}" for index, chunk in enumerate(CAPTURED) if _contains_canary(chunk)]
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        try:
            base = factory.getbasetemp()
        except Exception:  # no test asked for a temporary directory
            base = None
        if base is not None:
            for path in pathlib.Path(base).rglob("*"):
                try:
                    if path.is_file() and not path.is_symlink() and CANARY.encode() in path.read_bytes():
                        places.append(str(path))
                except OSError:
                    continue
    if places:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "secret canary leaked into: " + ", ".join(places[:20])
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
