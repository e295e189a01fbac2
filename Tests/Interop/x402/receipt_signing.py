"""Seller-signed receipts (x402 `offer-receipt` extension, specs/extensions/extension-offer-and-receipt.md §5),
made with independent peers: eth-account for EIP-712 and `cryptography` for JWS (ES256K, EdDSA).

Used by the interop seller (`receipt_seller.py`) and, run as a script, prints the vectors checked in as
Tests/X402Tests/SellerReceiptVectors.swift:

    /work/venv/bin/python Tests/Interop/x402/receipt_signing.py
"""
import base64
import json

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from eth_account import Account

# The spec's canonical schema (§5.3) and domain (§3.2): name "x402 receipt", version "1", chainId 1.
RECEIPT_TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
    ],
    "Receipt": [
        {"name": "version", "type": "uint256"},
        {"name": "network", "type": "string"},
        {"name": "resourceUrl", "type": "string"},
        {"name": "payer", "type": "string"},
        {"name": "issuedAt", "type": "uint256"},
        {"name": "transaction", "type": "string"},
    ],
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jcs(payload: dict) -> bytes:
    """RFC 8785 for the flat payloads used here (strings and small integers)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def eip712_receipt(private_key_hex: str, payload: dict) -> dict:
    message = dict(payload)
    message.setdefault("transaction", "")
    signed = Account.sign_typed_data(
        private_key_hex,
        full_message={
            "types": RECEIPT_TYPES,
            "primaryType": "Receipt",
            "domain": {"name": "x402 receipt", "version": "1", "chainId": 1},
            "message": message,
        },
    )
    signature = "0x" + bytes(signed.signature).hex()
    return {"format": "eip712", "payload": payload, "signature": signature}


def jws_es256k(private_key_hex: str, payload: dict, kid: str) -> dict:
    key = ec.derive_private_key(int(private_key_hex, 16), ec.SECP256K1())
    header = b64url(json.dumps({"alg": "ES256K", "kid": kid}, separators=(",", ":")).encode())
    body = b64url(jcs(payload))
    r, s = decode_dss_signature(key.sign(f"{header}.{body}".encode(), ec.ECDSA(hashes.SHA256())))
    signature = b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    return {"format": "jws", "signature": f"{header}.{body}.{signature}"}


def base58(data: bytes) -> str:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    number, text = int.from_bytes(data, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        text = alphabet[digit] + text
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + text


def jws_eddsa(seed: bytes, payload: dict, method: str = "jwk") -> dict:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if method == "jwk":
        kid = "did:jwk:" + b64url(json.dumps({"kty": "OKP", "crv": "Ed25519", "x": b64url(public)}).encode())
    else:  # did:key, multicodec ed25519-pub (0xed 0x01), multibase base58btc ("z")
        kid = "did:key:z" + base58(b"\xed\x01" + public)
    header = b64url(json.dumps({"alg": "EdDSA", "kid": kid}, separators=(",", ":")).encode())
    body = b64url(jcs(payload))
    signature = b64url(key.sign(f"{header}.{body}".encode()))
    return {"format": "jws", "signature": f"{header}.{body}.{signature}"}


# The vectors: a well-known throwaway key (never funded) as payTo's key.
SELLER_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
OTHER_KEY = "0x" + "11" * 32
PAYER = "0x857b06519E91e3A54538791bDbb0E22373e36b66"
TRANSACTION = "0x" + "ab" * 32
PAYLOAD = {
    "version": 1,
    "network": "eip155:84532",
    "resourceUrl": "https://api.example.com/premium-data",
    "payer": PAYER,
    "issuedAt": 1_900_000_100,
    "transaction": TRANSACTION,
}


def main() -> None:
    seller = Account.from_key(SELLER_KEY).address
    vectors = {
        "payTo": seller,
        "other": Account.from_key(OTHER_KEY).address,
        "eip712": eip712_receipt(SELLER_KEY, PAYLOAD),
        "eip712Minimal": eip712_receipt(SELLER_KEY, {k: v for k, v in PAYLOAD.items() if k != "transaction"}),
        "eip712Other": eip712_receipt(OTHER_KEY, PAYLOAD),
        "jwsES256K": jws_es256k(SELLER_KEY, PAYLOAD, f"did:pkh:eip155:84532:{seller}#key-1"),
        "jwsES256KOther": jws_es256k(OTHER_KEY, PAYLOAD, f"did:pkh:eip155:84532:{seller}"),
        "jwsEdDSA": jws_eddsa(bytes(range(32)), PAYLOAD),
        "jwsEdDSAKey": jws_eddsa(bytes(range(32)), PAYLOAD, method="key"),
    }
    print(json.dumps(vectors, indent=2))


if __name__ == "__main__":
    main()
