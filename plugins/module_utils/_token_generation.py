# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Token generation as the two ceremony modules use it: their shared options, disposing of a
DR operation token, and (re-exported, for callers of this file's older, larger form) the
pieces it is built from:

- `_otp`: OTPs and decoding both OTP generations (standard library only; the filter's import);
- `_key_shares`: parsing and de-duplicating key shares (standard library only);
- `_pgp`: PGP public keys, whether they can encrypt, python-gnupg decryption;
- `_ceremony`: the key-share ceremony state machine;
- `_vault_errors`: the table of Vault's error texts matched, with where each was seen.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from ansible_collections.vaultops.dr.plugins.module_utils._ceremony import (  # noqa: F401 - re-exported
    ATTEMPT_KEYS,
    DR_OPERATION_TOKEN,
    GENERATION_ERRORS,
    RECOVERY_TOKEN,
    Attempt,
    Ceremony,
    Family,
    failure_from,
    generation_advice,
    normalize_attempt,
)
from ansible_collections.vaultops.dr.plugins.module_utils._client import VaultAnswerLost, VaultError  # noqa: F401
from ansible_collections.vaultops.dr.plugins.module_utils._errors import ModuleFailure
from ansible_collections.vaultops.dr.plugins.module_utils._key_shares import dedupe_shares, share_bytes  # noqa: F401
from ansible_collections.vaultops.dr.plugins.module_utils._otp import (  # noqa: F401 - re-exported
    BASE62,
    LEGACY_OTP_BYTES,
    TokenGenerationError,
    decode_token,
    generate_otp,
    is_legacy_otp,
    validate_otp,
)
from ansible_collections.vaultops.dr.plugins.module_utils._pgp import (  # noqa: F401 - re-exported
    HAS_GNUPG,
    GnuPG,
    encryption_capable,
    normalize_pgp_key,
    pgp_fingerprint,
)

# Re-exported for callers of this file's older form (pylint counts names in __all__ as used).
__all__ = [
    "ATTEMPT_KEYS", "BASE62", "CEREMONY_ARGSPEC", "CEREMONY_REQUIRED_BY", "DR_OPERATION_TOKEN", "GENERATION_ERRORS",
    "HAS_GNUPG", "LEGACY_OTP_BYTES", "RECOVERY_TOKEN", "Attempt", "Ceremony", "Family", "GnuPG", "ModuleFailure",
    "TokenGenerationError", "VaultAnswerLost", "VaultError", "decode_token", "dedupe_shares", "dispose_operation_token",
    "encryption_capable", "failure_from", "generate_otp", "generation_advice", "is_legacy_otp", "normalize_attempt",
    "normalize_pgp_key", "pgp_fingerprint", "share_bytes", "validate_otp",
]

# Options both ceremony modules take (beside state and the connection/auth options).
CEREMONY_ARGSPEC = dict(
    key_shares=dict(type="list", elements="str", no_log=True),
    otp=dict(type="str", no_log=True),
    # A public key is no secret, but a private key pasted here by mistake must never be echoed
    # (module invocation at -vvv, error results): hide whatever is given.
    pgp_key=dict(type="str", no_log=True),
    # Not a secret: the coordinator's fingerprint, shown in messages.
    expected_pgp_fingerprint=dict(type="str"),
    nonce=dict(type="str"),
    gnupg_home=dict(type="path"),
    pgp_passphrase=dict(type="str", no_log=True),
)
CEREMONY_REQUIRED_BY = {"pgp_passphrase": "gnupg_home"}

_DELETE_PATH = "sys/replication/dr/secondary/operation-token/delete"


def _not_an_operation_token(data: Dict[str, Any]) -> Optional[str]:
    """Why a looked-up token is not what a DR operation token is after promotion (a root token
    without TTL, made by the key-share ceremony), or None when it is. Unknown fields: not one."""
    policies = data.get("policies")
    if not isinstance(policies, list):
        return "the lookup shows no policies, so what it is cannot be told"
    if sorted(set(policies)) != ["root"]:
        return "its policies are %s, a DR operation token has only root" % ", ".join(sorted(map(str, policies)))
    ttl, max_ttl = data.get("ttl"), data.get("explicit_max_ttl")
    if not isinstance(ttl, int) or ttl != 0 or data.get("expire_time") or (max_ttl not in (None, 0)):
        return "it has a TTL (ttl %s), a DR operation token has none" % ttl
    if data.get("path") not in (None, "auth/token/root"):
        return "it was made by %s, a DR operation token by the key-share ceremony (auth/token/root)" % data.get("path")
    return None


def dispose_operation_token(client: Any, op_token: str, status: Dict[str, Any], check_mode: bool = False,
                            own_token: Optional[str] = None) -> Tuple[bool, str]:
    """state=absent for a DR operation token: (changed, how).

    Never the token this module authenticates with (`own_token`). On a DR secondary:
    operation-token/delete (authenticated by the token itself; a secondary answers no token
    lookups, so it cannot be checked further). On a cluster that is no longer a DR secondary
    (promoted, or disabled) the token is an ordinary token there: look it up with itself, and
    revoke it with revoke-self only when it looks like a DR operation token (root policy only,
    no TTL); anything else is left alone.
    """
    if own_token and op_token == own_token:
        raise ModuleFailure(
            "dr_operation_token is the token this module authenticates with (token, VAULT_TOKEN or the login's "
            "token), not a DR operation token: it was left alone. Pass the DR operation token a ceremony "
            "returned (the token of vaultops.dr.dr_operation_token), never the admin token.")
    if status["mode"] == "secondary":
        return _delete_on_secondary(client, op_token, check_mode)
    mode = status["mode"]
    try:
        lookup = client.request("GET", "auth/token/lookup-self", auth="none", token=op_token)
    except VaultError as err:
        if err.status == 403:
            return False, "the token is not valid on this %s cluster (already revoked or deleted)" % mode
        raise failure_from(err, "Looking up the DR operation token on this %s cluster (nothing was revoked)"
                           % mode) from None
    data = lookup.data
    if data.get("type") == "batch":
        raise ModuleFailure(
            "The DR operation token is a batch token: batch tokens cannot be revoked; it stays valid until its TTL "
            "ends (%s s left)." % data.get("ttl"))
    why = _not_an_operation_token(data)
    if why:
        raise ModuleFailure(
            "dr_operation_token does not look like a DR operation token on this %s cluster: %s. It was left "
            "alone (not revoked). Pass the token a ceremony returned; revoke any other token yourself "
            "(auth/token/revoke) if that is what you meant." % (mode, why))
    if check_mode:
        return True, "would revoke it with auth/token/revoke-self"
    try:
        client.write("auth/token/revoke-self", auth="none", token=op_token)
    except VaultAnswerLost as err:
        raise ModuleFailure("Revoking the DR operation token: %s. Run again: a revoked token then reports no change."
                            % err) from None
    except VaultError as err:
        raise failure_from(err, "Revoking the DR operation token with auth/token/revoke-self") from None
    return True, "revoked with auth/token/revoke-self (the cluster is no longer a DR secondary)"


def _delete_on_secondary(client: Any, op_token: str, check_mode: bool) -> Tuple[bool, str]:
    if check_mode:
        # A DR secondary has no side-effect-free way to test an op token.
        return True, "would delete it with operation-token/delete (its validity cannot be read back on a DR secondary)"
    try:
        client.write(_DELETE_PATH, data={"dr_operation_token": op_token}, auth="none")
    except VaultAnswerLost as err:
        raise ModuleFailure(
            "Deleting the DR operation token: %s. Whether it was deleted cannot be read back on a DR secondary: "
            "run again; an already-deleted token then reports no change." % err) from None
    except VaultError as err:
        # The endpoint authenticates by the token it deletes: an invalid one is refused
        # with 403 (permission denied), or 400 naming the token as invalid.
        said = " ".join(str(e) for e in err.errors).lower()
        refused_token = any(text in said for text in ("invalid", "not valid", "permission denied"))
        if err.status == 403 or (err.status == 400 and refused_token):
            return False, "the DR operation token is not valid (already deleted or never issued here)"
        raise failure_from(err, "Deleting the DR operation token") from None
    return True, "deleted with operation-token/delete"
