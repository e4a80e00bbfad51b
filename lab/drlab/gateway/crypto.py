"""Token sealing and JWTs: activation JWTs signed with the primary's TLS key (ES256), and activation payloads
sealed to a secondary's X25519 public key (X25519 + HKDF-SHA256 + AES-GCM)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .messages import ApiError

ACTIVATION_PK_PREFIX = "drlabpk."
_HKDF_INFO = b"drlab-dr-activation"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_dec(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class JwtSigner:
    """ES256 JWTs with the cluster's TLS key (P-256), like Vault's JWT wrapping tokens."""

    def __init__(self, key_pem_path: str):
        with open(key_pem_path, "rb") as fh:
            key = serialization.load_pem_private_key(fh.read(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"{key_pem_path}: not an EC key")
        self.key = key

    def sign(self, claims: dict[str, Any]) -> str:
        header = b64url(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
        payload = b64url(json.dumps(claims).encode())
        der = self.key.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{header}.{payload}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims if ``token`` is a JWT this key signed, else None."""
        parts = token.split(".")
        if len(parts) != 3 or not token.startswith("eyJ"):
            return None
        try:
            sig = b64url_dec(parts[2])
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            self.key.public_key().verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
            claims = json.loads(b64url_dec(parts[1]))
        except Exception:  # noqa: BLE001 - any failure means "not ours"
            return None
        return claims if isinstance(claims, dict) else None


def jwt_claims_unverified(token: str) -> dict[str, Any]:
    """The payload of a JWT-shaped token without checking its signature ({} if it is not one)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(b64url_dec(parts[1]))
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


def new_x25519_key_pair() -> tuple[str, str]:
    """(private key, public key), raw bytes in standard base64."""
    priv = x25519.X25519PrivateKey.generate()
    priv_raw = priv.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    pub_raw = priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(priv_raw).decode(), base64.b64encode(pub_raw).decode()


def _derive(shared: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, None, _HKDF_INFO).derive(shared)


def seal_to_public_key(pub_b64: str, payload: dict[str, Any]) -> str:
    """``payload`` encrypted to a secondary's X25519 public key, as an ``drlabpk.`` token."""
    try:
        peer = x25519.X25519PublicKey.from_public_bytes(base64.b64decode(pub_b64))
    except Exception as exc:  # noqa: BLE001
        raise ApiError(400, f"invalid secondary_public_key: {exc}") from exc
    eph = x25519.X25519PrivateKey.generate()
    key = _derive(eph.exchange(peer))
    nonce = os.urandom(12)
    ct = AESGCM(key).encrypt(nonce, json.dumps(payload).encode(), None)
    epk = eph.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return ACTIVATION_PK_PREFIX + b64url(json.dumps({"epk": b64url(epk), "n": b64url(nonce), "ct": b64url(ct)}).encode())


def open_sealed_token(priv_b64: str, token: str) -> dict[str, Any]:
    """The payload of a ``drlabpk.`` token, opened with this cluster's private key."""
    if not priv_b64:
        raise ApiError(400, "activation token is encrypted to a public key but no secondary key pair was generated here")
    try:
        blob = json.loads(b64url_dec(token[len(ACTIVATION_PK_PREFIX):]))
        priv = x25519.X25519PrivateKey.from_private_bytes(base64.b64decode(priv_b64))
        shared = priv.exchange(x25519.X25519PublicKey.from_public_bytes(b64url_dec(blob["epk"])))
        payload = json.loads(AESGCM(_derive(shared)).decrypt(b64url_dec(blob["n"]), b64url_dec(blob["ct"]), None))
    except Exception as exc:  # noqa: BLE001
        raise ApiError(400, f"unable to decrypt activation token with this cluster's private key: {exc}") from exc
    return dict(payload)
