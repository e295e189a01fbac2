"""The ledger on PostgreSQL across processes: a race of 4 processes x 250 reservations on one session never
goes over the cap, and an immediate server restart (`pg_ctl restart -m immediate`, a crash of the database)
in the middle of paying workers leaves a ledger that verifies, with nothing spent twice and held amounts
still held.

Needs a server: $PURSER_TEST_POSTGRES (a URL without password; the password in $PGPASSWORD), as
`scripts/throwaway-postgres start` sets it; the restart test also needs $PURSER_TEST_POSTGRES_DIR (that
throwaway server's directory). Without them these tests skip, unless $PURSER_REQUIRE_POSTGRES is set
(scripts/test sets it), when they fail. The database is checked independently with `psql`.
"""

import json
import os
import pathlib
import random
import shutil
import subprocess
import time
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
BIN = os.environ.get("PURSER_INTEROP_BIN") or str(ROOT / ".build" / "release" / "purser-interop")
PURSER = os.environ.get("PURSER_BIN") or str(ROOT / ".build" / "release" / "purser")
URL = os.environ.get("PURSER_TEST_POSTGRES", "")
SERVER_DIR = os.environ.get("PURSER_TEST_POSTGRES_DIR", "")


def psql_binary():
    found = shutil.which("psql")
    if found:
        return found
    for candidate in sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin/psql")):
        return str(candidate)
    return None


@pytest.fixture(scope="module", autouse=True)
def server_present():
    if not URL:
        if os.environ.get("PURSER_REQUIRE_POSTGRES"):
            pytest.fail("PURSER_REQUIRE_POSTGRES is set but PURSER_TEST_POSTGRES is not")
        pytest.skip("PURSER_TEST_POSTGRES is not set: no PostgreSQL server for the ledger tests")
    if not os.access(BIN, os.X_OK):
        pytest.fail(f"{BIN} is missing: build it with `swift build -c release --product purser-interop`")
    assert psql_binary(), "psql is needed to check the database independently"


def psql(url, sql):
    done = subprocess.run([psql_binary(), "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [line.split("\t") for line in done.stdout.splitlines() if line]


@pytest.fixture
def db():
    """A fresh schema: the ledger URL with that schema first in its search_path."""
    schema = "it_" + uuid.uuid4().hex
    psql(URL, f"CREATE SCHEMA {schema}")
    yield URL + ("&" if "?" in URL else "?") + f"options=-csearch_path%3D{schema}"
    psql(URL, f"DROP SCHEMA {schema} CASCADE")


def ledger(*args, timeout=60):
    done = subprocess.run([BIN, "ledger", *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def replay_exposure(db):
    """Replays the audit trail in order and returns the highest held+settled total ever reached."""
    held = {}
    settled = 0
    highest = 0
    for kind, payload in psql(db, "SELECT kind, payload FROM audit ORDER BY seq"):
        record = json.loads(payload)
        if kind == "reserve" and record["outcome"] == "reserved":
            held[record["reservation"]] = record["amount"]
        elif kind == "commit":
            held.pop(record["reservation"], None)
            settled += record["settled"]
        elif kind == "release":
            held.pop(record["reservation"], None)
        highest = max(highest, settled + sum(held.values()))
    return highest


def test_commands_that_only_read_say_there_is_no_ledger_and_create_nothing(db, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PURSER_HOME", "PURSER_LEDGER")}
    def purser(*args):
        return subprocess.run([PURSER, *args, "--home", str(tmp_path / "home"), "--ledger", db],
                              capture_output=True, text=True, timeout=60, env=env)
    tables = "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()"
    for args in (["ledger", "verify"], ["report"], ["session", "revoke", "ses_missing"]):
        done = purser(*args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert "no ledger there yet" in done.stderr and "from --ledger" in done.stderr, (args, done.stderr)
        assert done.stdout == ""
    listed = purser("session", "list")
    assert listed.returncode == 0 and listed.stdout.startswith("no sessions: "), listed.stdout
    assert psql(db, tables) == [["0"]]
    # A command that creates does, and then the reading ones read it.
    assert purser("session", "grant", "--agent", "a", "--budget", "1", "--policies", str(ROOT / "policies")).returncode == 0
    assert int(psql(db, tables)[0][0]) > 0
    verified = purser("ledger", "verify")
    assert verified.returncode == 0 and "ok: 1 audit records" in verified.stdout, verified.stderr


def test_init_on_a_shared_ledger_grants_once_and_the_second_machine_joins(db, tmp_path):
    """`purser init --ledger URL` on two machines (two directories here): the first grants the agent's session in
    the database, the second joins it rather than granting a second cap; no SQLite ledger is made; every other
    command finds the database through the home's config.json. A URL with a password writes nothing."""
    env = {k: v for k, v in os.environ.items() if k not in ("PURSER_HOME", "PURSER_LEDGER")}

    def purser(*args, home=None):
        extra = {"PURSER_HOME": str(home)} if home else {}
        return subprocess.run([PURSER, *args], capture_output=True, text=True, timeout=60, env={**env, **extra},
                              cwd=tmp_path)

    first = purser("init", str(tmp_path / "m1"), "--agent", "claude", "--ledger", db)
    assert first.returncode == 0, first.stderr
    second = purser("init", str(tmp_path / "m2"), "--agent", "claude", "--ledger", db)
    assert second.returncode == 0, second.stderr
    assert "joined, not granted again" in second.stdout and "joined" not in first.stdout
    assert psql(db, "SELECT agent, cap FROM sessions WHERE status = 'active'") == [["claude", "5000000"]]
    for machine in ("m1", "m2"):
        home = tmp_path / machine / ".purser"
        assert not (home / "ledger.sqlite").exists()
        assert json.loads((home / "config.json").read_text())["ledger"] == db
        listed = purser("session", "list", "--json", home=home)
        assert listed.returncode == 0, listed.stderr
        assert [s["agent"] for s in json.loads(listed.stdout)] == ["claude"]

    secret = "hunter2-" + uuid.uuid4().hex[:8]
    refused = purser("init", str(tmp_path / "m3"), "--agent", "claude",
                     "--ledger", f"postgresql://purser:{secret}@127.0.0.1:1/purser")
    assert refused.returncode != 0 and "password" in refused.stderr, refused.stderr
    assert secret not in refused.stderr + refused.stdout
    assert not (tmp_path / "m3").exists()


def test_four_processes_x_250_reservations_on_one_session_never_exceed_the_cap(db):
    cap = 2000
    session = ledger("init", "--db", db, "--agent", "agent-race", "--cap", cap)[0]["session"]
    workers = [
        subprocess.Popen(
            [BIN, "ledger", "race", "--db", db, "--session", session, "--agent", "agent-race",
             "--count", "250", "--seed", str(seed), "--max-amount", "9"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for seed in (11, 22, 33, 44)
    ]
    settled_by_test = 0
    refused = 0
    try:
        for worker in workers:
            out, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err
            lines = [json.loads(line) for line in out.splitlines()]
            settled_by_test += sum(line["amount"] for line in lines if line["op"] == "commit")
            refused += lines[-1]["refused"]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()

    [[committed, held, count]] = psql(
        db, "SELECT COALESCE(SUM(CASE WHEN state = 'committed' THEN settled_amount END), 0),"
            " COUNT(CASE WHEN state IN ('reserved', 'in_doubt') THEN 1 END), COUNT(*) FROM reservations")
    # Demand (about 4 x 250 x 5) is far above the cap, so the cap was contended.
    assert refused > 0
    assert int(count) > 0
    assert int(committed) == settled_by_test
    assert int(committed) <= cap
    assert int(held) == 0
    # Not one atomic unit over the cap at any point of the history.
    assert replay_exposure(db) <= cap
    check = ledger("check", "--db", db)[0]
    assert check["verified"], check["problem"]


def test_an_immediate_server_restart_mid_run_loses_nothing_and_spends_nothing_twice(db):
    if not SERVER_DIR:
        pytest.skip("PURSER_TEST_POSTGRES_DIR is not set: the server is not a throwaway one this test may restart")
    cap = 1500
    payments = 200
    session = ledger("init", "--db", db, "--agent", "agent-restart", "--cap", cap)[0]["session"]
    rng = random.Random(20261206)
    signed, committed_seen, in_doubt_seen = set(), set(), set()
    restarts = 0
    finished = False
    for _ in range(40):
        worker = subprocess.Popen(
            [BIN, "ledger", "pay", "--db", db, "--session", session, "--agent", "agent-restart",
             "--payments", str(payments), "--seed", "9", "--max-amount", "10", "--sign-us", "2000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if restarts < 3:
            time.sleep(rng.uniform(0.2, 0.6))
            if worker.poll() is None:
                subprocess.run([str(ROOT / "scripts" / "throwaway-postgres"), "restart", SERVER_DIR], check=True,
                               timeout=120)
                restarts += 1
        out, err = worker.communicate(timeout=300)
        for line in out.splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event["op"] == "signed":
                signed.add(event["reservation"])
            elif event["op"] == "committed":
                committed_seen.add(event["reservation"])
            elif event["op"] == "in_doubt":
                in_doubt_seen.add(event["reservation"])
            elif event["op"] == "done":
                finished = True
        if worker.returncode != 0:
            # The restart cut the worker's connection inside a transaction: it stops, as after a crash.
            assert "ledger" in err.lower() or "postgres" in err.lower(), err
        check = ledger("check", "--db", db)[0]
        assert check["verified"], check["problem"]
        assert check["states"]["reserved"] == 0
        if finished:
            break
    assert finished
    assert restarts == 3

    rows = psql(db, "SELECT id, args_digest, state, COALESCE(release_reason, ''), amount,"
                    " COALESCE(settled_amount, 0) FROM reservations")
    states = {row[0]: row[2] for row in rows}
    by_key = {}
    for reservation, key, state, reason, _, _ in rows:
        if state != "released":
            by_key.setdefault(key, []).append(reservation)
        if reservation in signed:
            assert reason != "not_signed_owner_gone"
    # No payment (idempotency key) holds or spent money twice.
    assert all(len(ids) == 1 for ids in by_key.values()), {k: v for k, v in by_key.items() if len(v) > 1}
    # Everything reported committed before a restart is still committed: commits were durable.
    assert all(states[reservation] == "committed" for reservation in committed_seen)
    # Held stays held: every payment left in doubt is still in doubt.
    assert in_doubt_seen and all(states[reservation] == "in_doubt" for reservation in in_doubt_seen)
    spent_or_held = sum(int(settled) if state == "committed" else int(amount)
                        for _, _, state, _, amount, settled in rows if state != "released")
    assert spent_or_held <= cap
    assert replay_exposure(db) <= cap


def _ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture
def machines():
    """Two network namespaces, each with its own loopback and one veth link to this host: two "machines"
    that reach the database only over TCP, at 10.77.<n>.1. Root only; skipped where namespaces cannot be
    made. The throwaway server is told to listen on the host ends and to accept the two subnets."""
    if os.geteuid() != 0 or not shutil.which("ip") or not SERVER_DIR:
        pytest.skip("network namespaces need root, `ip` and the throwaway server (PURSER_TEST_POSTGRES_DIR)")
    tag = uuid.uuid4().hex[:6]
    made = []
    try:
        for n in (1, 2):
            ns, host, peer = f"purser-m{n}-{tag}", f"pm{n}h{tag}", f"pm{n}n{tag}"
            _ip("netns", "add", ns)
            made.append((ns, host))
            _ip("link", "add", host, "type", "veth", "peer", "name", peer)
            _ip("link", "set", peer, "netns", ns)
            _ip("addr", "add", f"10.77.{n}.1/24", "dev", host)
            _ip("link", "set", host, "up")
            _ip("-n", ns, "addr", "add", f"10.77.{n}.2/24", "dev", peer)
            _ip("-n", ns, "link", "set", peer, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
    except subprocess.CalledProcessError as error:
        for ns, host in made:
            subprocess.run(["ip", "link", "del", host], capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        pytest.skip(f"cannot make network namespaces here: {error.stderr.strip()}")
    hba = pathlib.Path(SERVER_DIR) / "data" / "pg_hba.conf"
    original_hba = hba.read_text()
    hba.write_text(original_hba + "host all all 10.77.0.0/16 scram-sha-256\n")
    psql(URL, "ALTER SYSTEM SET listen_addresses = '127.0.0.1,10.77.1.1,10.77.2.1'")
    subprocess.run([str(ROOT / "scripts" / "throwaway-postgres"), "restart", SERVER_DIR], check=True, timeout=120)
    try:
        yield [ns for ns, _ in made]
    finally:
        psql(URL, "ALTER SYSTEM RESET listen_addresses")
        hba.write_text(original_hba)
        for ns, host in made:
            subprocess.run(["ip", "link", "del", host], capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run([str(ROOT / "scripts" / "throwaway-postgres"), "restart", SERVER_DIR], check=True,
                       timeout=120)


def test_two_machines_in_separate_network_namespaces_share_one_budget_and_recover_each_other(db, machines):
    # The same database, reached from each "machine" over its own link: only the host part differs.
    port = URL.split("@127.0.0.1:")[1].split("/")[0]
    def url_on(n):
        return db.replace(f"@127.0.0.1:{port}", f"@10.77.{n}.1:{port}")
    def on(n, *args):
        return ["ip", "netns", "exec", machines[n - 1], BIN, "ledger", *map(str, args)]

    cap = 1500
    session = ledger("init", "--db", url_on(1).replace(f"10.77.1.1", "127.0.0.1"), "--agent", "agent-net",
                     "--cap", cap)[0]["session"]
    workers = [
        subprocess.Popen(on(n, "race", "--db", url_on(n), "--session", session, "--agent", "agent-net",
                            "--count", "150", "--seed", str(seed), "--max-amount", "9"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n, seed in ((1, 5), (1, 6), (2, 7), (2, 8))
    ]
    settled = 0
    try:
        for worker in workers:
            out, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err
            settled += sum(json.loads(line).get("amount", 0) for line in out.splitlines()
                           if json.loads(line)["op"] == "commit")
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    [[committed]] = psql(db, "SELECT COALESCE(SUM(settled_amount), 0) FROM reservations WHERE state = 'committed'")
    assert int(committed) == settled <= cap
    assert replay_exposure(db) <= cap

    # Machine 1 dies in the middle of paying; machine 2's recovery releases what it reserved and never
    # signed (its owner lock went with its connection), and nothing it signed.
    pay_session = ledger("init", "--db", db, "--agent", "agent-crash", "--cap", 100000)[0]["session"]
    released = 0
    signed = set()
    rng = random.Random(77)
    for _ in range(15):
        worker = subprocess.Popen(
            on(1, "pay", "--db", url_on(1), "--session", pay_session, "--agent", "agent-crash", "--payments", 400,
               "--seed", 3, "--max-amount", 10, "--sign-us", 3000),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.3, 0.8))
        worker.kill()
        out, _ = worker.communicate()
        for line in out.splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event["op"] == "signed":
                signed.add(event["reservation"])
        check = json.loads(subprocess.run(on(2, "check", "--db", url_on(2)), capture_output=True, text=True,
                                          timeout=60, check=True).stdout.splitlines()[0])
        assert check["verified"], check["problem"]
        assert check["states"]["reserved"] == 0
        released += check["releasedUnsigned"]
        if released > 0 and len(signed) > 0:
            break
    assert released > 0
    reasons = dict(psql(db, "SELECT id, COALESCE(release_reason, '') FROM reservations"))
    assert all(reasons[reservation] != "not_signed_owner_gone" for reservation in signed)
