"""The secret canary shared by conftest.py and the suites' helpers (one module, so one value per run)."""
import secrets

# A value that appears nowhere else: configured as the tools' secret, searched for in every output.
CANARY = "pursercanary" + secrets.token_hex(12)
# Outputs collected during the run (bytes or str), searched at the end by conftest.py.
CAPTURED: list = []
