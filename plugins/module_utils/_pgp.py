# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PGP for the ceremony: reading a public key as Vault wants it (base64 of the binary key),
its fingerprint, whether it can encrypt at all, and decrypting a PGP-encoded token with
python-gnupg (optional; only a run with gnupg_home needs it).

Messages name a key by its fingerprint, never by its material.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ansible_collections.vaultops.dr.plugins.module_utils._otp import TokenGenerationError, b64decode_padded

try:
    import gnupg
    HAS_GNUPG = True
    GNUPG_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised only where python-gnupg is missing
    gnupg = None
    HAS_GNUPG = False
    GNUPG_IMPORT_ERROR = exc

_ARMOR_BEGIN = re.compile(r"-----BEGIN PGP ([A-Z ]+)-----")

# OpenPGP packet tags and public-key algorithms (RFC 9580).
TAG_SIGNATURE, TAG_SECRET_KEY, TAG_PUBLIC_KEY, TAG_SECRET_SUBKEY, TAG_PUBLIC_SUBKEY = 2, 5, 6, 7, 14
# RSA, RSA encrypt-only, Elgamal, Elgamal (old sign+encrypt), ECDH, X25519, X448.
ENCRYPTING_ALGORITHMS = frozenset((1, 2, 16, 20, 18, 25, 26))
KEY_FLAGS_ENCRYPT = 0x04 | 0x08  # encrypt communications / encrypt storage
SUBPACKET_KEY_EXPIRY, SUBPACKET_KEY_FLAGS = 9, 27
SELF_CERTIFICATIONS = frozenset((0x10, 0x11, 0x12, 0x13, 0x1F))
SUBKEY_BINDING, KEY_REVOCATION, SUBKEY_REVOCATION = 0x18, 0x20, 0x28


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _dummy in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def _armor_kind(match: "re.Match[str]") -> str:
    kind = match.group(1).strip()
    if kind != "PUBLIC KEY BLOCK":
        raise TokenGenerationError(
            "pgp_key is an ASCII-armoured %s; it must be a PUBLIC KEY BLOCK" % kind.lower()
            + (" (never hand a private key to a module: export the public key with gpg --armor --export)"
               if "PRIVATE" in kind else ""))
    return kind


def _dearmor(text: str) -> bytes:
    match = _ARMOR_BEGIN.search(text)
    if match is None:  # the caller found the BEGIN line; kept for direct callers
        raise TokenGenerationError("pgp_key has no -----BEGIN PGP ...----- line")
    _armor_kind(match)
    body: List[str] = []
    checksum = None
    in_headers = True
    for line in text[match.end():].splitlines():
        line = line.strip()
        if line.startswith("-----END PGP"):
            break
        if in_headers:
            if not line or ":" in line:
                continue
            in_headers = False
        if not line:
            continue
        if line.startswith("=") and len(line) == 5:
            checksum = line[1:]
            continue
        body.append(line)
    else:
        raise TokenGenerationError("pgp_key's ASCII armour has no END line")
    try:
        raw = base64.b64decode("".join(body), validate=True)
    except (binascii.Error, ValueError):
        raise TokenGenerationError("pgp_key's ASCII armour does not hold valid base64") from None
    if checksum is not None:
        try:
            expected = int.from_bytes(base64.b64decode(checksum, validate=True), "big")
        except (binascii.Error, ValueError):
            raise TokenGenerationError("pgp_key's ASCII armour has a malformed checksum line") from None
        if _crc24(raw) != expected:
            raise TokenGenerationError("pgp_key's ASCII armour checksum does not match: the key was damaged in transit")
    return raw


def _packet_at(raw: bytes, pos: int) -> Tuple[int, bytes, int]:
    """(tag, body, next position) of the OpenPGP packet at `pos`."""
    head = raw[pos]
    if not head & 0x80:
        raise TokenGenerationError("pgp_key is not an OpenPGP key (no packet header)")
    try:
        if head & 0x40:  # new format
            tag = head & 0x3F
            first = raw[pos + 1]
            if first < 192:
                length, start = first, pos + 2
            elif first < 224:
                length, start = ((first - 192) << 8) + raw[pos + 2] + 192, pos + 3
            elif first == 255:
                length, start = int.from_bytes(raw[pos + 2:pos + 6], "big"), pos + 6
            else:
                raise TokenGenerationError("pgp_key holds a partial-length packet, which a key never has")
        else:
            tag = (head >> 2) & 0x0F
            ltype = head & 0x03
            if ltype == 3:
                raise TokenGenerationError("pgp_key holds an indeterminate-length packet, which a key never has")
            size = (1, 2, 4)[ltype]
            if pos + 1 + size > len(raw):
                raise IndexError
            length, start = int.from_bytes(raw[pos + 1:pos + 1 + size], "big"), pos + 1 + size
    except IndexError:
        raise TokenGenerationError("pgp_key is truncated") from None
    body = raw[start:start + length]
    if len(body) != length:
        raise TokenGenerationError("pgp_key is truncated")
    return tag, body, start + length


def _packets(raw: bytes) -> Iterator[Tuple[int, bytes]]:
    pos = 0
    while pos < len(raw):
        tag, body, pos = _packet_at(raw, pos)
        yield tag, body


def _first_packet(raw: bytes) -> Tuple[int, bytes]:
    if not raw:
        raise TokenGenerationError("pgp_key is not an OpenPGP key (no packet header)")
    tag, body, _end = _packet_at(raw, 0)
    return tag, body


def pgp_fingerprint(raw: bytes) -> str:
    """The primary key's fingerprint as Vault reports it (lower-case hex), from the binary key."""
    tag, body = _first_packet(raw)
    if tag in (TAG_SECRET_KEY, TAG_SECRET_SUBKEY):
        raise TokenGenerationError(
            "pgp_key is a private key; give the public key (gpg --export KEY | base64, or gpg --armor --export KEY). "
            "Never hand a private key to a module")
    if tag != TAG_PUBLIC_KEY:
        raise TokenGenerationError("pgp_key does not start with a public-key packet (OpenPGP tag %d)" % tag)
    version = body[0] if body else 0
    if version == 4:
        return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest()  # noqa: S324 - OpenPGP v4 fingerprints are SHA-1
    if version == 5:
        return hashlib.sha256(b"\x9a" + len(body).to_bytes(4, "big") + body).hexdigest()
    if version == 6:
        return hashlib.sha256(b"\x9b" + len(body).to_bytes(4, "big") + body).hexdigest()
    raise TokenGenerationError("pgp_key is an OpenPGP version %d key; versions 4 to 6 are understood" % version)


def _subpackets(area: bytes) -> Iterator[Tuple[int, bytes]]:
    pos = 0
    while pos < len(area):
        first = area[pos]
        if first < 192:
            length, pos = first, pos + 1
        elif first < 255:
            if pos + 1 >= len(area):
                return
            length, pos = ((first - 192) << 8) + area[pos + 1] + 192, pos + 2
        else:
            length, pos = int.from_bytes(area[pos + 1:pos + 5], "big"), pos + 5
        if length < 1 or pos + length > len(area):
            return  # damaged: treat the rest as absent
        yield area[pos] & 0x7F, area[pos + 1:pos + length]
        pos += length


def _signature_facts(body: bytes) -> Tuple[int, Optional[int], Optional[int]]:
    """(signature type, key flags or None, key expiry seconds or None) of a signature packet."""
    if len(body) < 6 or body[0] not in (4, 5, 6):
        return (body[1] if len(body) > 1 else 0), None, None  # v3: no subpackets
    size = 2 if body[0] == 4 else 4
    hashed_len = int.from_bytes(body[4:4 + size], "big")
    flags = expiry = None
    for kind, data in _subpackets(body[4 + size:4 + size + hashed_len]):
        if kind == SUBPACKET_KEY_FLAGS and data:
            flags = data[0]
        elif kind == SUBPACKET_KEY_EXPIRY and len(data) == 4:
            expiry = int.from_bytes(data, "big")
    return body[1], flags, expiry


def encryption_capable(raw: bytes, now: Optional[float] = None) -> bool:
    """Whether the key holds a usable key that can encrypt, the way OpenPGP libraries (Vault's
    included) pick one: algorithm able to encrypt, key flags (when given) allowing encryption,
    not revoked, not expired; and the primary key itself not revoked or expired."""
    now = time.time() if now is None else now
    keys: List[Dict[str, Any]] = []
    for tag, body in _packets(raw):
        if tag in (TAG_SECRET_KEY, TAG_SECRET_SUBKEY):
            raise TokenGenerationError(
                "pgp_key holds private key material; give only the public key (gpg --armor --export KEY). "
                "Never hand a private key to a module")
        if tag == TAG_PUBLIC_KEY and keys:
            break  # a second key: Vault reads only the first
        if tag in (TAG_PUBLIC_KEY, TAG_PUBLIC_SUBKEY):
            created = int.from_bytes(body[1:5], "big") if len(body) >= 6 else 0
            keys.append({"algo": body[5] if len(body) >= 6 else 0, "created": created, "flags": None,
                         "expiry": None, "revoked": False})
        elif tag == TAG_SIGNATURE and keys:
            sigtype, flags, expiry = _signature_facts(body)
            key = keys[-1]
            primary_sig = len(keys) == 1 and sigtype in SELF_CERTIFICATIONS
            if primary_sig or (len(keys) > 1 and sigtype == SUBKEY_BINDING):
                key["flags"] = flags if flags is not None else key["flags"]
                key["expiry"] = expiry if expiry is not None else key["expiry"]
            elif sigtype in (KEY_REVOCATION, SUBKEY_REVOCATION):
                key["revoked"] = True

    def usable(key: Dict[str, Any]) -> bool:
        expired = bool(key["expiry"]) and key["created"] + key["expiry"] <= now
        return not key["revoked"] and not expired

    if not keys or not usable(keys[0]):
        return False
    return any(usable(k) and k["algo"] in ENCRYPTING_ALGORITHMS
               and (k["flags"] is None or k["flags"] & KEY_FLAGS_ENCRYPT) for k in keys)


def normalize_fingerprint(value: object, option: str = "expected_pgp_fingerprint") -> str:
    """A full OpenPGP fingerprint as Vault reports it (lower-case hex, no spaces) from what a person
    types or `gpg --fingerprint` prints: spaces, colons, case and a 0x prefix are ignored. Only a
    full fingerprint (40 hex digits for a v4 key, 64 for v5/v6) is accepted: a short key ID is easy
    to collide."""
    text = value if isinstance(value, str) else ""
    cleaned = "".join(text.split()).replace(":", "").lower()
    if cleaned.startswith("0x"):
        cleaned = cleaned[2:]
    if len(cleaned) not in (40, 64) or any(c not in "0123456789abcdef" for c in cleaned):
        # The value is not echoed: whatever was pasted here by mistake may be a secret.
        raise TokenGenerationError(
            "%s must be a full PGP fingerprint, 40 hex digits (a v4 key) or 64 (v5/v6), spaces allowed, as "
            "gpg --fingerprint KEY prints it; a short key ID is not enough (%d characters were given)"
            % (option, len(cleaned)))
    return cleaned


def normalize_pgp_key(key: object) -> Tuple[str, str]:
    """(base64 of the binary public key as Vault wants it, its fingerprint).

    Accepts ASCII armour or base64 of the binary key (as `gpg --export KEY | base64`).
    Refuses private keys and keys that cannot encrypt, before anything is sent.
    """
    if not isinstance(key, str) or not key.strip():
        raise TokenGenerationError("pgp_key is empty")
    match = _ARMOR_BEGIN.search(key)
    if match:
        raw = _dearmor(key)
    else:
        if "PRIVATE KEY" in key:
            raise TokenGenerationError(
                "pgp_key looks like a private key; give the public key (gpg --armor --export KEY). "
                "Never hand a private key to a module")
        try:
            raw = base64.b64decode("".join(key.split()), validate=True)
        except (binascii.Error, ValueError):
            raise TokenGenerationError(
                "pgp_key is neither an ASCII-armoured public key nor base64 of a binary one "
                "(gpg --armor --export KEY, or gpg --export KEY | base64)") from None
    fingerprint = pgp_fingerprint(raw)
    if not encryption_capable(raw):
        raise TokenGenerationError(
            "pgp_key (fingerprint %s) has no key that can encrypt: it is sign-only, or its encryption subkeys are "
            "revoked or expired. The server would accept it and fail only at the completing key share, dropping "
            "the attempt's progress. Add an encryption subkey (gpg --quick-add-key %s default encr), export the "
            "public key again, or use another key. Nothing was sent" % (fingerprint, fingerprint.upper()))
    return base64.b64encode(raw).decode("ascii"), fingerprint


# ---------------------------------------------------------------------------------------
# Decrypting a PGP-encoded token with python-gnupg
# ---------------------------------------------------------------------------------------

class GnuPG:
    """A GnuPG home that must hold the private key of the attempt's PGP key."""

    def __init__(self, home: str, passphrase: Optional[str] = None) -> None:
        if not HAS_GNUPG:
            raise TokenGenerationError(
                "gnupg_home needs the python-gnupg library on the host that runs the module "
                "(pip install python-gnupg): %s" % GNUPG_IMPORT_ERROR)
        if not os.path.isdir(home):
            raise TokenGenerationError(
                "gnupg_home %s is not a directory: give the GnuPG home that holds the private key "
                "(for example ~/.gnupg of the coordinator), or leave gnupg_home out to get the encrypted "
                "token back" % home)
        self.home = home
        self.passphrase = passphrase
        try:
            self.gpg = gnupg.GPG(gnupghome=home)
        except (OSError, ValueError) as exc:
            raise TokenGenerationError("cannot run gpg for gnupg_home %s: %s; install gnupg (gpg) on the host "
                                       "that runs the module" % (home, exc)) from None

    def has_secret_key(self, fingerprint: str) -> bool:
        fingerprint = fingerprint.lower()
        for key in self.gpg.list_keys(secret=True):
            fprs = [key.get("fingerprint") or ""]
            fprs.extend((sub[2] if len(sub) > 2 else "") or "" for sub in key.get("subkeys") or [])
            if any(f.lower() == fingerprint for f in fprs if f):
                return True
        return False

    def decrypt(self, encoded_token: str) -> str:
        try:
            ciphertext = b64decode_padded(encoded_token)
        except (binascii.Error, ValueError):
            raise TokenGenerationError("encoded_token is not base64") from None
        result = self.gpg.decrypt(ciphertext, passphrase=self.passphrase)
        if not result.ok:
            raise TokenGenerationError(
                "gpg could not decrypt the encoded token with gnupg_home %s (%s); check pgp_passphrase "
                "and that the private key is there" % (self.home, result.status or "no status"))
        try:
            return str(result.data.decode("ascii").strip())
        except UnicodeDecodeError:
            raise TokenGenerationError("the decrypted token is not ASCII") from None
