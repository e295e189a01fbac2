"""Purser's pure-Swift signer against eth-account (pinned 0.14.0): digests, signatures and addresses must be
identical for hundreds of seeded random keys, digests and EIP-3009 typed-data messages.

Purser is driven through `purser-interop sign-vectors` (JSON lines on stdin/stdout), started once per module.
"""

import json
import os
import random
import re
import subprocess
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_utils import is_checksum_address, is_checksum_formatted_address, is_hex_address, to_checksum_address

REPO = Path(__file__).resolve().parents[3]
INTEROP_BIN = os.environ.get("PURSER_INTEROP_BIN", str(REPO / ".build" / "release" / "purser-interop"))
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SEED = 20260521


def run_purser(requests):
    """Sends every request in one batch; returns the replies in order (bounded in time, no leftover process)."""
    payload = "".join(json.dumps(dict(request, id=index)) + "\n" for index, request in enumerate(requests))
    completed = subprocess.run(
        [INTEROP_BIN, "sign-vectors"], input=payload, capture_output=True, text=True, timeout=120, check=True
    )
    replies = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [reply["id"] for reply in replies] == list(range(len(requests)))
    return replies


def random_key(rng):
    while True:
        value = rng.getrandbits(256)
        if 0 < value < N:
            return value.to_bytes(32, "big")


def random_address(rng):
    return to_checksum_address(rng.getrandbits(160).to_bytes(20, "big"))


def random_uint256(rng):
    choice = rng.randrange(6)
    if choice == 0:
        return 0
    if choice == 1:
        return 2**256 - 1
    if choice == 2:
        return rng.getrandbits(64)
    return rng.getrandbits(rng.randrange(1, 257))


def random_text(rng):
    alphabet = "abcXYZ 0123456789-_.()" + "éü€中文🙂"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 24)))


def test_random_digests_match_eth_account():
    rng = random.Random(SEED)
    cases = [(random_key(rng), rng.getrandbits(256).to_bytes(32, "big")) for _ in range(300)]
    replies = run_purser(
        [{"op": "sign", "key": "0x" + key.hex(), "digest": "0x" + digest.hex()} for key, digest in cases]
    )
    for (key, digest), reply in zip(cases, replies):
        account = Account.from_key(key)
        expected = Account.unsafe_sign_hash(digest, key)
        assert reply["address"] == account.address
        assert reply["recovered"] == account.address
        assert reply["signature"] == "0x" + bytes(expected.signature).hex(), f"case {reply['id']}"
        signature = bytes.fromhex(reply["signature"][2:])
        assert int.from_bytes(signature[0:32], "big") == expected.r
        assert int.from_bytes(signature[32:64], "big") == expected.s
        assert signature[64] == expected.v
        assert expected.s <= N // 2


def typed_data(domain, message):
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "TransferWithAuthorization": [
                {"name": "from", "type": "address"},
                {"name": "to", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "validAfter", "type": "uint256"},
                {"name": "validBefore", "type": "uint256"},
                {"name": "nonce", "type": "bytes32"},
            ],
        },
        "primaryType": "TransferWithAuthorization",
        "domain": domain,
        "message": message,
    }


def test_random_transfer_authorizations_match_eth_account():
    rng = random.Random(SEED + 1)
    cases = []
    for _ in range(200):
        key = random_key(rng)
        domain = {
            "name": random_text(rng),
            "version": random_text(rng),
            "chainId": random_uint256(rng),
            "verifyingContract": random_address(rng),
        }
        message = {
            "from": Account.from_key(key).address if rng.random() < 0.5 else random_address(rng),
            "to": random_address(rng),
            "value": random_uint256(rng),
            "validAfter": random_uint256(rng),
            "validBefore": random_uint256(rng),
            "nonce": rng.getrandbits(256).to_bytes(32, "big"),
        }
        cases.append((key, domain, message))
    requests = []
    for key, domain, message in cases:
        requests.append(
            {
                "op": "typed",
                "key": "0x" + key.hex(),
                "domain": dict(domain, chainId=str(domain["chainId"])),
                "message": {
                    "from": message["from"],
                    "to": message["to"].lower(),
                    "value": str(message["value"]),
                    "validAfter": str(message["validAfter"]),
                    "validBefore": str(message["validBefore"]),
                    "nonce": "0x" + message["nonce"].hex(),
                },
            }
        )
    replies = run_purser(requests)
    for (key, domain, message), reply in zip(cases, replies):
        assert "error" not in reply, reply
        signable = encode_typed_data(full_message=typed_data(domain, message))
        digest = _hash_eip191_message(signable)
        signed = Account.sign_message(signable, key)
        assert reply["domainSeparator"] == "0x" + bytes(signable.header).hex()
        assert reply["structHash"] == "0x" + bytes(signable.body).hex()
        assert reply["digest"] == "0x" + bytes(digest).hex()
        assert reply["signature"] == "0x" + bytes(signed.signature).hex(), f"case {reply['id']}"
        assert reply["address"] == Account.from_key(key).address
        assert reply["recovered"] == reply["address"]


def test_recovers_eth_account_signatures_including_high_s():
    rng = random.Random(SEED + 2)
    requests, expected = [], []
    for _ in range(100):
        key = random_key(rng)
        digest = rng.getrandbits(256).to_bytes(32, "big")
        signed = Account.unsafe_sign_hash(digest, key)
        address = Account.from_key(key).address
        signature_hex = "0x" + bytes(signed.signature).hex()
        requests.append({"op": "recover", "digest": "0x" + digest.hex(), "signature": signature_hex})
        expected.append(address)
        # The same signature with s' = n − s and the other y parity is also valid for ecrecover.
        high = signed.r.to_bytes(32, "big") + (N - signed.s).to_bytes(32, "big") + bytes([55 - signed.v])
        assert Account._recover_hash(digest, signature=high) == address
        requests.append({"op": "recover", "digest": "0x" + digest.hex(), "signature": "0x" + high.hex()})
        expected.append(address)
        # A different digest recovers someone else.
        other = rng.getrandbits(256).to_bytes(32, "big")
        requests.append({"op": "recover", "digest": "0x" + other.hex(), "signature": signature_hex})
        expected.append(Account._recover_hash(other, signature=bytes(signed.signature)))
    replies = run_purser(requests)
    for want, reply in zip(expected, replies):
        assert reply["address"] == want


def test_address_parsing_agrees_with_eth_utils():
    rng = random.Random(SEED + 3)
    texts = []
    for _ in range(100):
        checksummed = random_address(rng)
        texts += [checksummed, checksummed.lower(), "0x" + checksummed[2:].upper()]
        # Flip the case of one letter: a mixed-case address with a broken checksum.
        letters = [i for i, c in enumerate(checksummed) if i >= 2 and c.isalpha()]
        if letters and any(c.islower() for c in checksummed[2:]) and any(c.isupper() for c in checksummed[2:]):
            i = rng.choice(letters)
            texts.append(checksummed[:i] + checksummed[i].swapcase() + checksummed[i + 1 :])
    texts += ["0x", "0x123", "0x" + "g" * 40, "0x" + "0" * 41, "0x" + "0" * 40]
    replies = run_purser([{"op": "address", "text": text} for text in texts])
    for text, reply in zip(texts, replies):
        # eth-utils' is_address no longer checks checksums; EIP-55 says mixed case must be the checksum.
        well_formed = bool(re.fullmatch(r"0x[0-9a-fA-F]{40}", text)) and is_hex_address(text)
        accepted = well_formed and (not is_checksum_formatted_address(text) or is_checksum_address(text))
        assert (reply["checksummed"] is not None) == accepted, text
        if accepted:
            assert reply["checksummed"] == to_checksum_address(text)


def test_uint256_parsing_is_strict():
    rng = random.Random(SEED + 4)
    texts = [str(random_uint256(rng)) for _ in range(100)]
    texts += ["", "0", "00", "01", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x10", str(2**256 - 1), str(2**256), "٣"]
    replies = run_purser([{"op": "uint256", "text": text} for text in texts])
    for text, reply in zip(texts, replies):
        canonical = re.fullmatch(r"0|[1-9][0-9]*", text, flags=re.ASCII) and int(text) < 2**256
        assert reply["decimal"] == (text if canonical else None), text


def test_refusals_are_values_not_crashes():
    requests = [
        {"op": "sign", "key": "0x" + "00" * 32, "digest": "0x" + "11" * 32},
        {"op": "sign", "key": "0x" + format(N, "064x"), "digest": "0x" + "11" * 32},
        {"op": "sign", "key": "0x" + "01" * 32, "digest": "0x" + "11" * 31},
        {"op": "recover", "digest": "0x" + "11" * 32, "signature": "0x" + "11" * 64 + "1d"},
    ]
    replies = run_purser(requests)
    assert [reply.get("error") for reply in replies] == [
        "invalid_private_key",
        "invalid_private_key",
        "invalid_digest",
        "invalid_signature",
    ]
