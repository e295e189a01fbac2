"""`purser-bench ledger`'s worker processes when their parent has gone: writing the results to a pipe nobody
reads must end the worker with its own status (74, EX_IOERR), quietly, not a crash.

`purser-bench` is not part of the product, so this uses the debug build that `swift test` leaves
($PURSER_BENCH_BIN, else .build/debug/purser-bench); the session comes from `purser-interop ledger init`.
"""

import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
BENCH = os.environ.get("PURSER_BENCH_BIN") or str(ROOT / ".build" / "debug" / "purser-bench")
INTEROP = os.environ.get("PURSER_INTEROP_BIN") or str(ROOT / ".build" / "release" / "purser-interop")


@pytest.fixture(scope="module", autouse=True)
def binaries_present():
    for path, build in ((BENCH, "swift build --product purser-bench"),
                        (INTEROP, "swift build -c release --product purser-interop")):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is missing: build it with `{build}`")


def test_a_worker_whose_parent_is_gone_exits_with_its_status_instead_of_crashing(tmp_path):
    db = str(tmp_path / "ledger.sqlite")
    init = subprocess.run([INTEROP, "ledger", "init", "--db", db, "--agent", "bench", "--cap", "1000000"],
                          capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stderr
    session = json.loads(init.stdout.splitlines()[0])["session"]

    # The worker's stdout is a pipe whose reading end is already closed: the parent has exited.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([BENCH, "ledger", "--worker", db, session, "2", "lock"],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert done.returncode == 74, (done.returncode, done.stderr[-2000:])
    assert done.stderr == ""

    # With a reader the same worker reports its two reserve+commit pairs.
    done = subprocess.run([BENCH, "ledger", "--worker", db, session, "2", "lock"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["latencies"]) == 2
