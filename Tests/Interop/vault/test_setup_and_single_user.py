"""`scripts/vault-setup` (root) and the single-user warning of `serve` and `check` (anyone)."""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

WARNING = "WARNING: single-user mode"


def test_serve_and_check_warn_once_that_a_shell_reaches_the_wallet(purser_bin, tmp_path):
    (tmp_path / "tools").mkdir()
    (tmp_path / "policies").mkdir()
    common = ["--tools", str(tmp_path / "tools"), "--policies", str(tmp_path / "policies")]
    check = subprocess.run([purser_bin, "check", *common], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    serve = subprocess.run(
        [purser_bin, "serve", *common, "--home", str(tmp_path / "home")], input="", capture_output=True, text=True,
        timeout=60, cwd=tmp_path,
    )
    for completed in (check, serve):
        assert completed.stderr.count(WARNING) == 1, completed.stderr
        assert "agent with a shell" in completed.stderr and "--vault" in completed.stderr
        assert WARNING not in completed.stdout  # stdout stays the protocol's
    assert serve.stdout == ""


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("useradd") is None, reason="vault-setup needs root and useradd (CI runs as root)")
def test_vault_setup_installs_a_closed_home_a_group_socket_directory_and_a_unit(purser_bin, repo_root):
    tag = secrets.token_hex(3)
    user, group = f"pv{tag}v", f"pv{tag}g"
    base = Path(tempfile.mkdtemp(prefix="purser-setup-"))
    os.chmod(base, 0o755)
    binary = base / "purser"
    shutil.copy(purser_bin, binary)
    os.chmod(binary, 0o755)
    paths = {
        "--home": base / "home", "--socket-dir": base / "run", "--config": base / "etc",
        "--unit": base / "purser-vault.service", "--tmpfiles": base / "tmpfiles.conf",
    }
    options = ["--bin", str(binary), "--user", user, "--group", group]
    for option, path in paths.items():
        options += [option, str(path)]
    script = str(repo_root / "scripts" / "vault-setup")
    vault = None
    try:
        installed = subprocess.run([script, "install", *options], capture_output=True, text=True, timeout=60)
        assert installed.returncode == 0, installed.stderr
        home, run_dir = paths["--home"].stat(), paths["--socket-dir"].stat()
        assert stat.S_IMODE(home.st_mode) == 0o700 and home.st_uid == pwd.getpwnam(user).pw_uid
        assert stat.S_IMODE(run_dir.st_mode) == 0o2750 and run_dir.st_gid == grp.getgrnam(group).gr_gid
        unit = paths["--unit"].read_text()
        assert f"User={user}" in unit and "NoNewPrivileges=yes" in unit
        exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart=")).removeprefix("ExecStart=")
        # The unit's command, run as the unit would run it, listens on the socket, which is the group's.
        vault = subprocess.Popen(
            ["runuser", "-u", user, "-g", group, "--", *exec_start.split()], stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )
        sock = paths["--socket-dir"] / "vault.sock"
        deadline = time.time() + 30
        while not sock.exists():
            assert vault.poll() is None, vault.stderr.read().decode()
            assert time.time() < deadline
            time.sleep(0.05)
        info = sock.stat()
        assert stat.S_IMODE(info.st_mode) == 0o660 and info.st_gid == grp.getgrnam(group).gr_gid
        vault.terminate()
        vault.wait(timeout=10)
        vault = None
        removed = subprocess.run([script, "uninstall", *options], capture_output=True, text=True, timeout=60)
        assert removed.returncode == 0, removed.stderr
        assert not paths["--unit"].exists() and not paths["--socket-dir"].exists()
        assert paths["--home"].exists()  # the wallet and the ledger are kept
    finally:
        if vault is not None:
            vault.kill()
        subprocess.run(["userdel", user], capture_output=True)
        subprocess.run(["groupdel", group], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
