# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The key-share ceremony: generating a DR operation token or a recovery token from unseal
key shares held by several people, plus the pieces it needs (OTPs, decoding both OTP
generations, PGP public keys, python-gnupg decryption).

One engine serves both token kinds; they differ only in the endpoint family.

Rules the engine keeps:
- a key share is sent at most once per run (duplicates, also in other encodings, are
  dropped before anything is sent), and a share submission is never replayed: when its
  answer is lost the attempt is read back to learn whether it was counted;
- an attempt is never canceled unless the caller asked for exactly that;
- shares are only added to a running attempt when the caller names it by `nonce` (or by
  the PGP key it was started with), so nobody feeds an attempt whose token goes elsewhere;
- check mode never starts an attempt and never submits a share;
- key shares, OTPs and tokens never appear in messages.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
import string
import uuid

from ansible_collections.vaultops.dr.plugins.module_utils._client import VaultAnswerLost, VaultError
from ansible_collections.vaultops.dr.plugins.module_utils._module import ModuleFailure, explain

try:
    import gnupg
    HAS_GNUPG = True
    GNUPG_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised only where python-gnupg is missing
    gnupg = None
    HAS_GNUPG = False
    GNUPG_IMPORT_ERROR = exc

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
LEGACY_OTP_BYTES = 16


class TokenGenerationError(ValueError):
    """Bad input to the OTP / PGP helpers; the message never holds a secret."""


# ---------------------------------------------------------------------------------------
# OTPs and decoding
# ---------------------------------------------------------------------------------------

def generate_otp(otp_length):
    """An OTP for a server whose attempt endpoint reports `otp_length`.

    A positive length: a base62 string of that length (Vault 1.0+). 0 or None: base64 of
    16 random bytes (the pre-1.0 scheme).
    """
    if otp_length:
        return "".join(secrets.choice(BASE62) for _dummy in range(int(otp_length)))
    return base64.b64encode(secrets.token_bytes(LEGACY_OTP_BYTES)).decode("ascii")


def _b64decode_padded(text):
    text = text.strip()
    text += "=" * (-len(text) % 4)
    return base64.b64decode(text, validate=True)


def _legacy_otp_bytes(otp):
    """The 16 bytes of a legacy OTP, or None when `otp` is not base64 of 16 bytes."""
    try:
        raw = base64.b64decode(otp.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == LEGACY_OTP_BYTES else None


def is_legacy_otp(otp):
    """True for a pre-1.0 OTP (base64 of 16 bytes). A base62 OTP never decodes to 16
    bytes: its lengths (22+ characters without padding) give other sizes or fail."""
    return _legacy_otp_bytes(otp) is not None


def validate_otp(otp, otp_length):
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


def decode_token(encoded_token, otp, legacy=None):
    """Decode an OTP-encoded token.

    base62 OTP (Vault 1.0+): base64 (padding optional) of token XOR OTP → the token string.
    Legacy OTP (base64 of 16 bytes): base64 of 16 bytes XOR OTP → a UUID string.
    `legacy` None detects the generation from the OTP itself (as the server's otp_length 0
    would tell); True/False forces it.
    """
    if not isinstance(encoded_token, str) or not encoded_token.strip():
        raise TokenGenerationError("encoded_token is empty")
    if not isinstance(otp, str) or not otp.strip():
        raise TokenGenerationError("otp is empty")
    otp = otp.strip()
    try:
        encoded = _b64decode_padded(encoded_token)
    except (binascii.Error, ValueError):
        raise TokenGenerationError("encoded_token is not base64") from None
    if legacy is None:
        legacy = is_legacy_otp(otp)
    if legacy:
        otp_bytes = _legacy_otp_bytes(otp)
        if otp_bytes is None:
            raise TokenGenerationError("a pre-1.0 OTP must be base64 of 16 bytes")
        if len(encoded) != LEGACY_OTP_BYTES:
            raise TokenGenerationError(
                "encoded_token holds %d bytes, a pre-1.0 (16-byte OTP) token holds 16: "
                "it was not encoded with this kind of OTP" % len(encoded))
        return str(uuid.UUID(bytes=bytes(a ^ b for a, b in zip(encoded, otp_bytes))))
    otp_bytes = otp.encode("ascii", "strict") if otp.isascii() else None
    if otp_bytes is None:
        raise TokenGenerationError("otp must be ASCII (base62)")
    if len(encoded) != len(otp_bytes):
        raise TokenGenerationError(
            "encoded_token holds %d bytes but the otp has %d characters: they must be equal; "
            "this is not the OTP of this attempt (or the token is PGP-encrypted)" % (len(encoded), len(otp_bytes)))
    decoded = bytes(a ^ b for a, b in zip(encoded, otp_bytes))
    if not all(0x21 <= c <= 0x7e for c in decoded):
        raise TokenGenerationError(
            "decoding gave non-printable bytes: this otp is not the one the attempt was started with")
    return decoded.decode("ascii")


# ---------------------------------------------------------------------------------------
# Key shares
# ---------------------------------------------------------------------------------------

def share_bytes(share):
    """The raw bytes of an unseal key share as Vault reads it: hex first, then base64."""
    text = (share or "").strip()
    if not text:
        return None
    if re.fullmatch(r"(?:[0-9a-fA-F]{2})+", text):
        return bytes.fromhex(text)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def dedupe_shares(shares):
    """Validate and de-duplicate key shares (the same share in hex and base64 counts once).

    Returns (unique shares as given, number of duplicates dropped). Raises
    TokenGenerationError naming the position (never the value) of a share that is neither
    hex nor base64, before anything is sent.
    """
    seen = set()
    unique = []
    dropped = 0
    for index, share in enumerate(shares or [], start=1):
        raw = share_bytes(share if isinstance(share, str) else str(share))
        if not raw:
            raise TokenGenerationError(
                "key_shares item %d is neither hex nor base64 (Vault accepts unseal key shares in either "
                "form, e.g. unseal_keys_hex or unseal_keys_b64)" % index)
        if raw in seen:
            dropped += 1
            continue
        seen.add(raw)
        unique.append(share.strip())
    return unique, dropped


# ---------------------------------------------------------------------------------------
# PGP public keys
# ---------------------------------------------------------------------------------------

_ARMOR_BEGIN = re.compile(r"-----BEGIN PGP ([A-Z ]+)-----")


def _crc24(data):
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _dummy in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def _dearmor(text):
    match = _ARMOR_BEGIN.search(text)
    kind = match.group(1).strip()
    if kind != "PUBLIC KEY BLOCK":
        raise TokenGenerationError(
            "pgp_key is an ASCII-armoured %s; it must be a PUBLIC KEY BLOCK" % kind.lower()
            + (" (never hand a private key to a module)" if "PRIVATE" in kind else ""))
    lines = text[match.end():].splitlines()
    body = []
    checksum = None
    in_headers = True
    for line in lines:
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


def _first_packet(raw):
    """(tag, body) of the first OpenPGP packet in `raw`."""
    if not raw or not raw[0] & 0x80:
        raise TokenGenerationError("pgp_key is not an OpenPGP key (no packet header)")
    head = raw[0]
    if head & 0x40:  # new format
        tag = head & 0x3F
        first = raw[1]
        if first < 192:
            length, start = first, 2
        elif first < 224:
            length, start = ((first - 192) << 8) + raw[2] + 192, 3
        elif first == 255:
            length, start = int.from_bytes(raw[2:6], "big"), 6
        else:
            raise TokenGenerationError("pgp_key starts with a partial-length packet, which a key never has")
    else:
        tag = (head >> 2) & 0x0F
        ltype = head & 0x03
        if ltype == 3:
            raise TokenGenerationError("pgp_key starts with an indeterminate-length packet, which a key never has")
        size = (1, 2, 4)[ltype]
        length, start = int.from_bytes(raw[1:1 + size], "big"), 1 + size
    body = raw[start:start + length]
    if len(body) != length:
        raise TokenGenerationError("pgp_key is truncated")
    return tag, body


def pgp_fingerprint(raw):
    """The primary key's fingerprint as Vault reports it (lower-case hex), from the binary key."""
    tag, body = _first_packet(raw)
    if tag in (5, 7):
        raise TokenGenerationError("pgp_key is a private key; give the public key (never hand a private key to a module)")
    if tag != 6:
        raise TokenGenerationError("pgp_key does not start with a public-key packet (OpenPGP tag %d)" % tag)
    version = body[0] if body else 0
    if version == 4:
        return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest()  # noqa: S324 - OpenPGP v4 fingerprints are SHA-1
    if version == 5:
        return hashlib.sha256(b"\x9a" + len(body).to_bytes(4, "big") + body).hexdigest()
    if version == 6:
        return hashlib.sha256(b"\x9b" + len(body).to_bytes(4, "big") + body).hexdigest()
    raise TokenGenerationError("pgp_key is an OpenPGP version %d key; versions 4 to 6 are understood" % version)


def normalize_pgp_key(key):
    """(base64 of the binary public key as Vault wants it, its fingerprint).

    Accepts ASCII armour or base64 of the binary key (as `gpg --export KEY | base64`).
    """
    if not isinstance(key, str) or not key.strip():
        raise TokenGenerationError("pgp_key is empty")
    if _ARMOR_BEGIN.search(key):
        raw = _dearmor(key)
    else:
        try:
            raw = base64.b64decode("".join(key.split()), validate=True)
        except (binascii.Error, ValueError):
            raise TokenGenerationError(
                "pgp_key is neither an ASCII-armoured public key nor base64 of a binary one") from None
    fingerprint = pgp_fingerprint(raw)
    return base64.b64encode(raw).decode("ascii"), fingerprint


# ---------------------------------------------------------------------------------------
# Decrypting a PGP-encoded token with python-gnupg
# ---------------------------------------------------------------------------------------

class GnuPG:
    """A GnuPG home that must hold the private key of the attempt's PGP key."""

    def __init__(self, home, passphrase=None):
        if not HAS_GNUPG:
            raise TokenGenerationError(
                "gnupg_home needs the python-gnupg library on the host that runs the module "
                "(pip install python-gnupg): %s" % GNUPG_IMPORT_ERROR)
        if not os.path.isdir(home):
            raise TokenGenerationError("gnupg_home %s is not a directory" % home)
        self.home = home
        self.passphrase = passphrase
        try:
            self.gpg = gnupg.GPG(gnupghome=home)
        except (OSError, ValueError) as exc:
            raise TokenGenerationError("cannot run gpg for gnupg_home %s: %s" % (home, exc)) from None

    def has_secret_key(self, fingerprint):
        fingerprint = fingerprint.lower()
        for key in self.gpg.list_keys(secret=True):
            fprs = [key.get("fingerprint") or ""]
            fprs.extend((sub[2] if len(sub) > 2 else "") or "" for sub in key.get("subkeys") or [])
            if any(f.lower() == fingerprint for f in fprs if f):
                return True
        return False

    def decrypt(self, encoded_token):
        try:
            ciphertext = _b64decode_padded(encoded_token)
        except (binascii.Error, ValueError):
            raise TokenGenerationError("encoded_token is not base64") from None
        result = self.gpg.decrypt(ciphertext, passphrase=self.passphrase)
        if not result.ok:
            raise TokenGenerationError(
                "gpg could not decrypt the encoded token with gnupg_home %s (%s); check pgp_passphrase "
                "and that the private key is there" % (self.home, result.status or "no status"))
        try:
            return result.data.decode("ascii").strip()
        except UnicodeDecodeError:
            raise TokenGenerationError("the decrypted token is not ASCII") from None


# ---------------------------------------------------------------------------------------
# The ceremony
# ---------------------------------------------------------------------------------------

# Options both ceremony modules take (beside state and the connection/auth options).
CEREMONY_ARGSPEC = dict(
    key_shares=dict(type="list", elements="str", no_log=True),
    otp=dict(type="str", no_log=True),
    pgp_key=dict(type="str", no_log=False),  # a public key
    nonce=dict(type="str"),
    gnupg_home=dict(type="path"),
    pgp_passphrase=dict(type="str", no_log=True),
)
CEREMONY_REQUIRED_BY = {"pgp_passphrase": "gnupg_home"}


class Family:
    """One kind of token generation: its endpoints and how they authenticate."""

    def __init__(self, kind, base, auth):
        self.kind = kind
        self.attempt_path = base + "/attempt"
        self.update_path = base + "/update"
        self.auth = auth


# Vault 2.0 / 1.19.17 want a Vault token on these; send one when there is one.
DR_OPERATION_TOKEN = Family("DR operation token", "sys/replication/dr/secondary/generate-operation-token", "optional")
# Served only in recovery mode, where no token exists yet.
RECOVERY_TOKEN = Family("recovery token", "sys/generate-recovery-token", "none")

ATTEMPT_KEYS = ("started", "nonce", "progress", "required", "complete", "otp_length", "pgp_fingerprint", "encoded_token")

# Vault's token-generation error texts (shared with root generation) and what to do about them.
GENERATION_ERRORS = (
    ("otp string is wrong length",
     "The OTP does not have the length this server wants: leave otp out and the module makes one of the "
     "server's otp_length."),
    ("otp or pgp_key parameter must be provided",
     "The server needs an OTP or a PGP key to start an attempt."),
    ("root generation already in progress",
     "Another token generation already holds the server's single in-progress slot (root, DR operation and "
     "recovery token generation share it). Finish it, or cancel it with state=canceled if it is abandoned."),
    ("no root generation in progress",
     "No attempt is running any more: it completed or was canceled meanwhile. Run again without nonce to "
     "start a new attempt."),
    ("incorrect nonce supplied",
     "The nonce is not the running attempt's. Pass the running attempt's nonce, or cancel that attempt "
     "with state=canceled if it is abandoned."),
    ("already been provided",
     "This key share was already counted in this attempt."),
    ("incorrect strategy supplied",
     "A token generation of another kind (root, DR operation or recovery token; they share one slot) is "
     "in progress. Finish or cancel that one first."),
    ("must be a valid hex or base64 string",
     "Give each key share as Vault printed it, hex or base64."),
    ("server is not yet initialized",
     "Initialise the server first; there are no key shares yet."),
    ("already unsealed",
     "This server is already unsealed: a recovery token is only generated while the server runs sealed "
     "in recovery mode (and only once per recovery run). Restart it with -recovery to make another."),
    ("generation aborted",
     "The threshold was reached but the key shares did not reconstruct the key: at least one share is "
     "wrong (for a DR secondary use the primary's shares). The server reset the attempt's progress to 0 and "
     "forgot which shares it had; submit correct shares again to the same nonce, or cancel the attempt with "
     "state=canceled."),
)


def generation_advice(err):
    for text, advice in GENERATION_ERRORS:
        if err.has_error(text):
            return advice
    return None


def failure_from(err, doing, result=None, family=None):
    """A ModuleFailure for a VaultError raised while `doing` something in the ceremony."""
    advice = generation_advice(err)
    if advice is None and family is RECOVERY_TOKEN and err.status in (403, 404):
        # Served unauthenticated, and only in recovery mode. Elsewhere the path does not exist:
        # OpenBao answers 404 to a request with a token, 403 to one without.
        msg = "%s: %s" % (doing, err)
        advice = ("The server does not serve sys/generate-recovery-token: it is not running in recovery mode "
                  "(start it with -recovery while sealed).")
    else:
        msg = "%s: %s" % (doing, explain(err))
    if advice is None and family is DR_OPERATION_TOKEN and err.status in (401, 403):
        advice = ("Vault 2.0 and 1.19.17 or later require a Vault token on the generate-operation-token "
                  "endpoints: set token (on a DR secondary the primary's root token is accepted).")
    if advice:
        msg += ". " + advice
    extra = dict(result or {})
    extra.update(http_status=err.status, vault_errors=err.errors)
    return ModuleFailure(msg, **extra)


def normalize_attempt(data):
    """The attempt fields, typed, from an attempt/update answer (flat or in `data`)."""
    data = data or {}
    otp_length = data.get("otp_length")
    return {
        "started": bool(data.get("started")),
        "nonce": data.get("nonce") or "",
        "progress": int(data.get("progress") or 0),
        "required": int(data.get("required") or 0),
        "complete": bool(data.get("complete")),
        "otp_length": int(otp_length) if otp_length is not None else 0,
        "pgp_fingerprint": (data.get("pgp_fingerprint") or "").lower(),
        "encoded_token": data.get("encoded_token") or "",
    }


def _diff_view(attempt):
    return {k: attempt[k] for k in ("started", "nonce", "progress", "required", "complete", "pgp_fingerprint")}


class Ceremony:
    """The key-share ceremony on one endpoint family."""

    def __init__(self, client, family, check_mode=False, warn=None):
        self.client = client
        self.family = family
        self.check_mode = check_mode
        self.warn = warn or (lambda msg: None)

    # -- raw endpoint calls -------------------------------------------------------------
    def read(self):
        try:
            resp = self.client.read(self.family.attempt_path, auth=self.family.auth)
        except VaultError as err:
            raise failure_from(err, "Reading the %s generation attempt" % self.family.kind, family=self.family) from None
        return normalize_attempt(resp.data)

    def _start(self, body):
        try:
            resp = self.client.write(self.family.attempt_path, data=body, auth=self.family.auth, method="PUT")
        except VaultAnswerLost as err:
            after = self.read()
            raise ModuleFailure(
                "Starting a %s generation attempt: %s. Read back: %s. Nothing was submitted; if an attempt is "
                "now running and it is not yours, cancel it with state=canceled, then run again."
                % (self.family.kind, err, self._describe(after)), **self._result(after)) from None
        except VaultError as err:
            raise failure_from(err, "Starting a %s generation attempt" % self.family.kind, family=self.family) from None
        return normalize_attempt(resp.data)

    # -- descriptions ---------------------------------------------------------------
    @staticmethod
    def _describe(attempt):
        if not attempt["started"]:
            return "no attempt is running"
        text = "attempt nonce %s is running with %d of %d key shares" % (
            attempt["nonce"], attempt["progress"], attempt["required"])
        if attempt["pgp_fingerprint"]:
            text += ", encrypting to PGP key %s" % attempt["pgp_fingerprint"]
        return text

    @staticmethod
    def _result(attempt, **extra):
        result = {k: attempt[k] for k in ATTEMPT_KEYS}
        result.update(extra)
        return result

    # -- nothing to read -------------------------------------------------------------
    def idle(self):
        """The result for a cluster where no attempt of this family can be running."""
        nothing = normalize_attempt({})
        return self._finish(False, nothing, nothing)

    # -- state=canceled -------------------------------------------------------------
    def cancel(self, nonce=None):
        before = self.read()
        if not before["started"]:
            return self._finish(False, before, before)
        if nonce and nonce != before["nonce"]:
            raise ModuleFailure(
                "Asked to cancel %s generation attempt nonce %s, but %s. Nothing was canceled; pass that nonce "
                "to cancel it." % (self.family.kind, nonce, self._describe(before)), **self._result(before))
        if self.check_mode:
            return self._finish(True, before, normalize_attempt({}))
        try:
            self.client.delete(self.family.attempt_path, auth=self.family.auth)
        except VaultAnswerLost as err:
            after = self.read()
            if after["started"] and after["nonce"] == before["nonce"]:
                raise ModuleFailure("Canceling the %s generation attempt: %s. Read back: %s."
                                    % (self.family.kind, err, self._describe(after)), **self._result(after)) from None
            return self._finish(True, before, after)
        except VaultError as err:
            raise failure_from(err, "Canceling the %s generation attempt" % self.family.kind,
                               self._result(before), family=self.family) from None
        return self._finish(True, before, self.read())

    def _finish(self, changed, before, after, **extra):
        result = self._result(after, changed=changed, **extra)
        result["diff"] = {"before": _diff_view(before), "after": _diff_view(after)}
        return result

    # -- state=present ----------------------------------------------------------------
    def present(self, key_shares=None, otp=None, pgp_key=None, nonce=None, gnupg_home=None, pgp_passphrase=None):
        """Start or join an attempt, feed key shares, decode the token when complete.

        Empty strings count as not given (an AWX survey's unanswered question)."""
        if otp and pgp_key:
            raise ModuleFailure("otp and pgp_key are mutually exclusive: the token is encoded with one or the other")
        try:
            shares, duplicates = dedupe_shares(key_shares)
            pgp_b64, pgp_fpr = normalize_pgp_key(pgp_key) if pgp_key else (None, None)
            gpg = GnuPG(gnupg_home, pgp_passphrase) if gnupg_home else None
        except TokenGenerationError as exc:
            raise ModuleFailure(str(exc)) from None
        if duplicates:
            self.warn("%d key share(s) given more than once (possibly in hex and base64); each is sent once" % duplicates)

        before = self.read()
        attempt = before
        made_otp = None
        changed = False
        if otp and not before["pgp_fingerprint"]:
            try:  # before any share is sent: a wrong OTP would only show once the token exists
                validate_otp(otp, before["otp_length"])
            except TokenGenerationError as exc:
                raise ModuleFailure(str(exc), **self._result(before)) from None

        if before["started"]:
            joined = bool(nonce) and nonce == before["nonce"]
            if nonce and not joined:
                raise ModuleFailure(
                    "nonce %s is not the running %s generation attempt: %s. Pass nonce=%s to add key shares to it, "
                    "or cancel it with state=canceled (nonce=%s) if it is abandoned."
                    % (nonce, self.family.kind, self._describe(before), before["nonce"], before["nonce"]),
                    **self._result(before))
            if pgp_fpr and pgp_fpr != before["pgp_fingerprint"]:
                raise ModuleFailure(
                    "pgp_key (fingerprint %s) is not the key of the running %s generation attempt: %s. The token "
                    "would not be encrypted to your key; cancel that attempt first if it is abandoned."
                    % (pgp_fpr, self.family.kind, self._describe(before)), **self._result(before))
            if pgp_fpr:
                joined = True  # started with this very public key: the token goes to its holder
            if otp and before["pgp_fingerprint"]:
                raise ModuleFailure(
                    "otp was given but the running %s generation attempt encrypts to PGP key %s, not an OTP"
                    % (self.family.kind, before["pgp_fingerprint"]), **self._result(before))
            if shares and not joined:
                raise ModuleFailure(
                    "A %s generation attempt is already running (%s); key shares are only added to an attempt named "
                    "by nonce. Pass nonce=%s to add them to it, or cancel it with state=canceled if it is abandoned."
                    % (self.family.kind, self._describe(before), before["nonce"]), **self._result(before))
            if otp and not shares and not nonce:
                raise ModuleFailure(
                    "A %s generation attempt is already running (%s), and whether it uses this otp cannot be read "
                    "back. Pass nonce=%s to add key shares to it, or cancel it with state=canceled."
                    % (self.family.kind, self._describe(before), before["nonce"]), **self._result(before))
        else:
            if nonce:
                raise ModuleFailure(
                    "%s generation attempt nonce %s is not running: no attempt is (it completed or was canceled). "
                    "A completed attempt's token cannot be produced again. "
                    "Leave nonce out to start a new attempt." % (self.family.kind.capitalize(), nonce),
                    **self._result(before))
            if not shares and not otp and not pgp_key:
                # Nothing to do: present with no attempt and nothing to start it with.
                return self._finish(False, before, before)
            if self.check_mode:
                predicted = dict(before, started=True, progress=0, pgp_fingerprint=pgp_fpr or "")
                return self._predict(before, predicted, shares)
            if pgp_b64:
                body = {"pgp_key": pgp_b64}
            else:
                if not otp:
                    otp = made_otp = generate_otp(before["otp_length"])
                body = {"otp": otp}
            attempt = self._start(body)
            changed = True
            attempt["otp_length"] = attempt["otp_length"] or before["otp_length"]
            if pgp_fpr and attempt["pgp_fingerprint"] and attempt["pgp_fingerprint"] != pgp_fpr:
                self.warn("the server reports PGP fingerprint %s, this module computed %s for pgp_key"
                          % (attempt["pgp_fingerprint"], pgp_fpr))

        if gpg is not None and (pgp_fpr or attempt["pgp_fingerprint"]):
            fpr = attempt["pgp_fingerprint"] or pgp_fpr
            if not gpg.has_secret_key(fpr):
                raise ModuleFailure(
                    "gnupg_home %s holds no private key for PGP key %s, which the attempt encrypts to; no key share "
                    "was submitted." % (gnupg_home, fpr), **self._result(attempt, changed=changed))

        if self.check_mode:
            return self._predict(before, attempt, shares)

        try:
            attempt, counts = self._submit(attempt, shares, changed)
        except ModuleFailure as exc:
            if made_otp and exc.result.get("started") and not exc.result.get("complete"):
                # The attempt this run started is still running: its OTP is needed to finish it.
                exc.result["otp"] = made_otp
            raise
        changed = changed or counts["shares_submitted"] > 0
        extra = dict(counts, shares_duplicated=duplicates)
        if attempt["complete"]:
            extra.update(self._decode(attempt, otp, gpg, changed, counts))
        elif made_otp:
            extra["otp"] = made_otp
        return self._finish(changed, before, attempt, **extra)

    def _predict(self, before, attempt, shares):
        after = dict(attempt)
        if shares:
            after["progress"] = min(after["progress"] + len(shares), after["required"] or after["progress"] + len(shares))
        changed = bool(shares) or not before["started"]
        return self._finish(changed, before, after, shares_submitted=0, shares_already_provided=0, shares_unused=0)

    def _submit(self, attempt, shares, changed):
        """Send each share once; never replay one; stop when the attempt completes."""
        counts = {"shares_submitted": 0, "shares_already_provided": 0, "shares_unused": 0}
        nonce = attempt["nonce"]
        for index, share in enumerate(shares, start=1):
            if attempt["complete"]:
                counts["shares_unused"] = len(shares) - index + 1
                self.warn("%d key share(s) were not needed: the attempt completed before them" % counts["shares_unused"])
                break
            doing = "Submitting key share %d of %d to %s generation attempt nonce %s" % (
                index, len(shares), self.family.kind, nonce)
            try:
                resp = self._send_once(self.family.update_path, {"key": share, "nonce": nonce})
            except VaultAnswerLost as err:
                attempt = self._after_lost_answer(err, doing, attempt, counts, changed)
                continue
            except VaultError as err:
                if err.has_error("already been provided"):
                    counts["shares_already_provided"] += 1
                    self.warn("key share %d of %d was already counted in attempt %s (an earlier run, or another "
                              "holder with the same share); not counted again" % (index, len(shares), nonce))
                    continue
                current = attempt
                try:  # what the attempt looks like now (after an abort: same nonce, progress 0)
                    current = self.read()
                except ModuleFailure:
                    pass
                raise failure_from(err, doing, self._result(current, changed=changed or counts["shares_submitted"] > 0, **counts),
                                   family=self.family) from None
            counts["shares_submitted"] += 1
            answered = resp.data
            fresh = normalize_attempt(answered)
            # Update answers may leave fields out (otp_length always): keep what the attempt said.
            attempt = dict(attempt, **{k: fresh[k] for k in ATTEMPT_KEYS if k in answered and k != "otp_length"})
            attempt["started"] = True
            attempt["nonce"] = attempt["nonce"] or nonce
        return attempt, counts

    def _send_once(self, path, body):
        """PUT without the client's retries: even a 412/429/503 is not sent again, since a proxy
        may answer so after the server has counted the share."""
        return self.client.write(path, data=body, auth=self.family.auth, method="PUT", retries=0)

    def _after_lost_answer(self, err, doing, attempt, counts, changed):
        """A share's answer was lost. Never send it again: read the attempt and decide."""
        after = self.read()
        if after["started"] and after["nonce"] == attempt["nonce"] and after["progress"] == attempt["progress"] + 1:
            counts["shares_submitted"] += 1  # counted: carry on with the next share
            self.warn("%s: the answer was lost, but the attempt's progress shows it was counted" % doing)
            return after
        if after["started"] and after["nonce"] == attempt["nonce"]:
            what = ("it was not counted (progress is still %d of %d). It is not sent again automatically: run "
                    "again with nonce=%s and the remaining shares" % (after["progress"], after["required"], after["nonce"]))
        elif after["started"]:
            what = "another attempt is now running (%s)" % self._describe(after)
        else:
            what = ("no attempt is running any more: either this share completed it and the answer holding the "
                    "encoded token was lost (the token exists but cannot be read again; it stays valid until "
                    "deleted or the cluster is replaced), or the attempt was canceled. Start a new attempt")
        raise ModuleFailure("%s: %s. Read back: %s." % (doing, err, what),
                            **self._result(after, changed=True, **counts))

    def _decode(self, attempt, otp, gpg, changed, counts):
        encoded = attempt["encoded_token"]
        out = {}
        if not encoded:
            return out
        if attempt["pgp_fingerprint"]:
            if gpg is None:
                return out
            decrypt = gpg.decrypt
        elif otp:
            legacy = attempt["otp_length"] == 0 and is_legacy_otp(otp)

            def decrypt(value):
                return decode_token(value, otp, legacy=legacy)
        else:
            self.warn("the attempt is complete but its OTP is not known to this run: decode encoded_token with "
                      "the vaultops.dr.decode_token filter and the attempt's OTP")
            return out
        try:
            out["token"] = decrypt(encoded)
        except TokenGenerationError as exc:
            raise ModuleFailure(
                "The %s generation completed, but decoding the token failed: %s. encoded_token is returned: "
                "decode it yourself; it is the only copy." % (self.family.kind, exc),
                **self._result(attempt, changed=changed, **counts)) from None
        return out


# ---------------------------------------------------------------------------------------
# DR operation token: where the ceremony runs, and disposing of the token
# ---------------------------------------------------------------------------------------

def dispose_operation_token(client, op_token, status, check_mode=False):
    """state=absent for a DR operation token: (changed, how).

    On a DR secondary: operation-token/delete (authenticated by the token itself). On a
    cluster that is no longer a DR secondary (promoted, or disabled) the token is an
    ordinary token there: look it up with itself and revoke it with revoke-self.
    """
    if status["mode"] == "secondary":
        if check_mode:
            # A DR secondary has no side-effect-free way to test an op token.
            return True, "would delete it with operation-token/delete (its validity cannot be read back on a DR secondary)"
        try:
            client.write("sys/replication/dr/secondary/operation-token/delete",
                         data={"dr_operation_token": op_token}, auth="none")
        except VaultAnswerLost as err:
            raise ModuleFailure(
                "Deleting the DR operation token: %s. Whether it was deleted cannot be read back on a DR secondary: "
                "run again; an already-deleted token then reports no change." % err) from None
        except VaultError as err:
            # The endpoint authenticates by the token it deletes: an invalid one is refused
            # with 403 (permission denied), or 400 naming the token as invalid.
            refused_token = err.has_error("invalid") or err.has_error("not valid") or err.has_error("permission denied")
            if err.status == 403 or (err.status == 400 and refused_token):
                return False, "the DR operation token is not valid (already deleted or never issued here)"
            raise failure_from(err, "Deleting the DR operation token") from None
        return True, "deleted with operation-token/delete"
    try:
        lookup = client.request("GET", "auth/token/lookup-self", auth="none", token=op_token)
    except VaultError as err:
        if err.status == 403:
            return False, "the token is not valid on this %s cluster (already revoked or deleted)" % status["mode"]
        raise failure_from(err, "Looking up the DR operation token on this %s cluster" % status["mode"]) from None
    if lookup.data.get("type") == "batch":
        raise ModuleFailure(
            "The DR operation token is a batch token: batch tokens cannot be revoked; it stays valid until its TTL "
            "ends (%s s left)." % lookup.data.get("ttl"))
    if check_mode:
        return True, "would revoke it with auth/token/revoke-self"
    try:
        client.write("auth/token/revoke-self", auth="none", token=op_token)
    except VaultAnswerLost as err:
        raise ModuleFailure("Revoking the DR operation token: %s. Run again: a revoked token then reports no change." % err) from None
    except VaultError as err:
        raise failure_from(err, "Revoking the DR operation token with auth/token/revoke-self") from None
    return True, "revoked with auth/token/revoke-self (the cluster is no longer a DR secondary)"
