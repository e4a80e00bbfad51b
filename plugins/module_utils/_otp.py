# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One-time pads for token generation and decoding an OTP-encoded token (both generations).

Standard library only: the decode_token filter imports this file alone, so the controller
never loads AnsibleModule, requests or python-gnupg for it.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string
import uuid
from typing import Optional

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
LEGACY_OTP_BYTES = 16


class TokenGenerationError(ValueError):
    """Bad input to the OTP / share / PGP helpers; the message never holds a secret."""


def generate_otp(otp_length: Optional[int]) -> str:
    """An OTP for a server whose attempt endpoint reports `otp_length`.

    A positive length: a base62 string of that length (Vault 1.0+). 0 or None: base64 of
    16 random bytes (the pre-1.0 scheme).
    """
    if otp_length:
        return "".join(secrets.choice(BASE62) for _dummy in range(int(otp_length)))
    return base64.b64encode(secrets.token_bytes(LEGACY_OTP_BYTES)).decode("ascii")


def b64decode_padded(text: str) -> bytes:
    """Standard base64 with the padding optional (Vault drops it from OTP-encoded tokens)."""
    text = text.strip()
    text += "=" * (-len(text) % 4)
    return base64.b64decode(text, validate=True)


def _legacy_otp_bytes(otp: str) -> Optional[bytes]:
    """The 16 bytes of a legacy OTP, or None when `otp` is not base64 of 16 bytes."""
    try:
        raw = base64.b64decode(otp.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == LEGACY_OTP_BYTES else None


def is_legacy_otp(otp: str) -> bool:
    """True for a pre-1.0 OTP (base64 of 16 bytes). A base62 OTP never decodes to 16
    bytes: its lengths (22+ characters without padding) give other sizes or fail."""
    return _legacy_otp_bytes(otp) is not None


def check_otp_shape(otp: str) -> None:
    """Before any request: the otp option is a base62 string or a legacy base64 OTP at all.

    Its length is checked against the server's otp_length once the attempt is read."""
    if not otp.strip() or otp != otp.strip():
        raise TokenGenerationError(
            "otp is empty or has surrounding whitespace: give the OTP exactly as it was made, or leave otp out "
            "and the module makes one")
    if not all(c in BASE62 for c in otp) and not is_legacy_otp(otp):
        raise TokenGenerationError(
            "otp must be a base62 string (Vault 1.0 and later) or base64 of 16 bytes (servers before 1.0); "
            "the one given is neither: leave otp out and the module makes one")


def validate_otp(otp: str, otp_length: Optional[int]) -> None:
    """Check a user's OTP against the server's `otp_length` before it is sent."""
    if otp_length:
        if len(otp) != int(otp_length) or any(c not in BASE62 for c in otp):
            raise TokenGenerationError(
                "otp must be a base62 string of exactly %d characters, the otp_length this server reports "
                "(the one given has %d); leave otp out and the module makes one" % (int(otp_length), len(otp)))
    elif not is_legacy_otp(otp):
        raise TokenGenerationError(
            "this server uses the pre-1.0 OTP scheme (otp_length 0): otp must be base64 of 16 bytes; "
            "leave otp out and the module makes one")


def decode_token(encoded_token: object, otp: object, legacy: Optional[bool] = None) -> str:
    """Decode an OTP-encoded token.

    base62 OTP (Vault 1.0+): base64 (padding optional) of token XOR OTP → the token string.
    Legacy OTP (base64 of 16 bytes): base64 of 16 bytes XOR OTP → a UUID string.
    `legacy` None detects the generation from the OTP itself (as the server's otp_length 0
    would tell); True/False forces it. Any bad input raises TokenGenerationError, nothing else.
    """
    if not isinstance(encoded_token, str) or not encoded_token.strip():
        raise TokenGenerationError("encoded_token is empty")
    if not isinstance(otp, str) or not otp.strip():
        raise TokenGenerationError("otp is empty")
    otp = otp.strip()
    try:
        encoded = b64decode_padded(encoded_token)
    except (binascii.Error, ValueError):
        raise TokenGenerationError("encoded_token is not base64") from None
    if legacy is None:
        legacy = is_legacy_otp(otp)
    if legacy:
        return _decode_legacy(encoded, otp)
    if not otp.isascii():
        raise TokenGenerationError("otp must be ASCII (base62)")
    otp_bytes = otp.encode("ascii", "strict")
    if len(encoded) != len(otp_bytes):
        raise TokenGenerationError(
            "encoded_token holds %d bytes but the otp has %d characters: they must be equal; "
            "this is not the OTP of this attempt (or the token is PGP-encrypted)" % (len(encoded), len(otp_bytes)))
    decoded = bytes(a ^ b for a, b in zip(encoded, otp_bytes))
    if not all(0x21 <= c <= 0x7e for c in decoded):
        raise TokenGenerationError(
            "decoding gave non-printable bytes: this otp is not the one the attempt was started with")
    return decoded.decode("ascii")


def _decode_legacy(encoded: bytes, otp: str) -> str:
    otp_bytes = _legacy_otp_bytes(otp)
    if otp_bytes is None:
        raise TokenGenerationError("a pre-1.0 OTP must be base64 of 16 bytes")
    if len(encoded) != LEGACY_OTP_BYTES:
        raise TokenGenerationError(
            "encoded_token holds %d bytes, a pre-1.0 (16-byte OTP) token holds 16: "
            "it was not encoded with this kind of OTP" % len(encoded))
    return str(uuid.UUID(bytes=bytes(a ^ b for a, b in zip(encoded, otp_bytes))))
