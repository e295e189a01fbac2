"""`purser session …`, `purser ledger verify` and `purser report` against the release binary ($PURSER_BIN)."""

import json
import os
import pathlib
import shutil
import sqlite3
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[3]
BIN = os.environ.get("PURSER_BIN") or str(ROOT / ".build" / "release" / "purser")


def purser(home, *args, policies=None):
    policies = policies or ROOT / "policies"
    env = {k: v for k, v in os.environ.items() if k != "PURSER_HOME"}
    return subprocess.run([BIN, *args, "--home", str(home), *(["--policies", str(policies)] if args[0] == "session" and args[1] == "grant" else [])],
                          capture_output=True, text=True, timeout=30, env=env)


def test_grant_list_revoke_verify_report(tmp_path):
    home = tmp_path / "home"
    granted = purser(home, "session", "grant", "--agent", "agent-1", "--budget", "2.50", "--ttl", "90m", "--per-call", "0.10")
    assert granted.returncode == 0, granted.stderr
    assert "2.50 USDC" in granted.stdout and "0.10 USDC per call" in granted.stdout
    assert oct(os.stat(home).st_mode & 0o777) == "0o700"
    assert oct(os.stat(home / "ledger.sqlite").st_mode & 0o777) == "0o600"

    listed = json.loads(purser(home, "session", "list", "--json").stdout)
    assert len(listed) == 1
    session = listed[0]
    assert (session["capAtomic"], session["cap"], session["perCallAtomic"], session["status"]) == (2_500_000, "2.50", 100_000, "active")
    assert "2.50 USDC" in purser(home, "session", "list").stdout

    revoked = purser(home, "session", "revoke", session["id"])
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert json.loads(purser(home, "session", "list", "--json").stdout)[0]["status"] == "revoked"
    assert purser(home, "session", "revoke", "ses_missing").returncode == 1

    verified = purser(home, "ledger", "verify")
    assert verified.returncode == 0 and "ok: 2 audit records" in verified.stdout
    report = json.loads(purser(home, "report", "--json").stdout)
    assert report["byAgent"] == [] and report["latency"] is None and report["plans"] == []
    assert "Spend plans (newest first)\n(none)" in purser(home, "report").stdout


def test_bad_amounts_and_limits_change_nothing(tmp_path):
    home = tmp_path / "home"
    too_precise = purser(home, "session", "grant", "--agent", "a", "--budget", "0.1234567")
    assert too_precise.returncode == 64 and "7 fractional digits" in too_precise.stderr
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "limits.json").write_text('{\n  "assets": {},\n  "allow": {"networks": [], "assets": [], "payees": []},\n  "extra": 1\n}\n')
    broken = purser(home, "session", "grant", "--agent", "a", "--budget", "1", policies=policies)
    assert broken.returncode != 0
    assert f"{policies}/limits.json:4:12: unknown key \"extra\"" in broken.stderr
    assert not (home / "ledger.sqlite").exists()


def test_export_then_import_into_an_empty_home_with_lf_or_crlf_endings(tmp_path):
    """`purser ledger export` → `purser ledger import` reproduces the chain; an export saved with CRLF endings is
    the same export (it was read as one line); a damaged line is named FILE:LINE:1."""
    home = tmp_path / "home"
    assert purser(home, "session", "grant", "--agent", "a", "--budget", "1").returncode == 0
    assert purser(home, "session", "grant", "--agent", "b", "--budget", "2").returncode == 0
    exported = tmp_path / "export.jsonl"
    done = purser(home, "ledger", "export", "--output", str(exported))
    assert done.returncode == 0, done.stderr
    head = purser(home, "ledger", "verify").stdout
    crlf = tmp_path / "export-crlf.jsonl"
    crlf.write_bytes(exported.read_bytes().replace(b"\n", b"\r\n"))
    for name, source in (("lf", exported), ("crlf", crlf)):
        copy = tmp_path / f"home-{name}"
        imported = purser(copy, "ledger", "import", str(source))
        assert imported.returncode == 0, (name, imported.stderr)
        assert purser(copy, "ledger", "verify").stdout == head, name
        assert sorted(s["agent"] for s in json.loads(purser(copy, "session", "list", "--json").stdout)) == ["a", "b"]
    lines = exported.read_text().splitlines()
    lines[1] = lines[1].replace('"', "'", 1)
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text("\n".join(lines) + "\n")
    refused = purser(tmp_path / "home-damaged", "ledger", "import", str(damaged))
    assert refused.returncode == 1 and f"{damaged}:2:1:" in refused.stderr, refused.stderr


def test_verify_names_the_first_tampered_record(tmp_path):
    home = tmp_path / "home"
    for agent in ("a", "b", "c"):
        assert purser(home, "session", "grant", "--agent", agent, "--budget", "1").returncode == 0
    copy = tmp_path / "copy"
    shutil.copytree(home, copy)
    with sqlite3.connect(home / "ledger.sqlite") as con:
        con.execute("UPDATE audit SET payload = replace(payload, '1000000', '9000000') WHERE seq = 2")
    failed = purser(home, "ledger", "verify")
    assert failed.returncode == 1
    assert "record 2" in failed.stderr and "edited" in failed.stderr
    with sqlite3.connect(copy / "ledger.sqlite") as con:
        con.execute("DELETE FROM audit WHERE seq = 1")
    removed = purser(copy, "ledger", "verify")
    assert removed.returncode == 1 and "record 1" in removed.stderr


def test_verify_fails_when_a_derived_total_does_not_match_the_reservations(tmp_path):
    home = tmp_path / "home"
    assert purser(home, "session", "grant", "--agent", "a", "--budget", "1").returncode == 0
    session = json.loads(purser(home, "session", "list", "--json").stdout)[0]["id"]
    assert purser(home, "ledger", "verify").returncode == 0
    # A total that no reservation accounts for: the audit chain is intact, the derived totals are not.
    with sqlite3.connect(home / "ledger.sqlite") as con:
        con.execute("INSERT INTO session_totals VALUES (?, 'weather', 1, 1, 0, 5000)", (session,))
    failed = purser(home, "ledger", "verify")
    assert failed.returncode == 1
    assert "derived totals: session_totals" in failed.stderr and session in failed.stderr
