# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one table of Vault's error texts this collection matches, each with where it was seen
and what the operator should do about it. Standard library only.

Vault's error texts are not a stable API: match a text only where the status alone cannot
tell (vault-api-facts.md: decide from status, never from error text, wherever possible).
Every entry says where the text was seen, so a server that words it differently can be
checked against the source. Add entries here, never inline strings in the domain code.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

from typing import Iterable, NamedTuple, Optional, Tuple

MEASURED_OPENBAO = "OpenBao 2.7.2 behind drlab (measured by lab/tests or tests/integration)"
FACTS = "vault-api-facts.md (Vault and OpenBao generate-root code shared by all token generations)"


class VaultErrorText(NamedTuple):
    area: str     # which endpoints answer it: "generation", later e.g. "replication"
    name: str     # a short id for code and tests
    text: str     # lower-case substring of one of Vault's `errors`
    seen: str     # where it was seen
    advice: str   # what to do (a sentence, no trailing period needed)


GENERATION = "generation"
# Refusals that prove Vault did not act on the request: a write answered with one of these may be sent again
# (the client's retry rule); a 502/503/504/412/429 without one of them is a lost answer.
NOT_ACTED = "not_acted"
HTTP_SAFETY = "vault-api-facts.md, HTTP safety facts (Vault's own error bodies prove it did not act)"

VAULT_ERROR_TEXTS: Tuple[VaultErrorText, ...] = (
    VaultErrorText(
        NOT_ACTED, "sealed", "vault is sealed", "vault-api-facts.md (503 on a sealed server); " + MEASURED_OPENBAO,
        "Unseal the cluster, then run again"),
    VaultErrorText(
        NOT_ACTED, "standby", "vault is in standby mode", HTTP_SAFETY + "; Vault's consts.ErrStandby",
        "The node is a standby that does not forward: point url at the load balancer or the active node"),
    VaultErrorText(
        NOT_ACTED, "no_active_node", "local node not active but active cluster node not found",
        "architecture.md, Multi-node clusters (a leader election in progress)",
        "The cluster has no active node at the moment (a leader election): wait and run again"),
    VaultErrorText(
        NOT_ACTED, "index_not_present", "required index state not present",
        "vault-api-facts.md (412 right after a promotion; hashicorp/vault#24400)",
        "The node has not caught up with the index of an earlier answer: it is retried"),
    VaultErrorText(
        NOT_ACTED, "rate_limited", "rate limit quota exceeded", HTTP_SAFETY + "; Vault's quotas (429)",
        "A rate limit quota refused the request: it is retried; raise the quota or retries"),
    VaultErrorText(
        NOT_ACTED, "catching_up", "still catching up", HTTP_SAFETY + " (503 while a promotion catches up)",
        "The cluster is still catching up: it is retried; wait and run again"),
    VaultErrorText(
        GENERATION, "otp_wrong_length", "otp string is wrong length", MEASURED_OPENBAO,
        "The OTP does not have the length this server wants: leave otp out and the module makes one of the "
        "server's otp_length"),
    VaultErrorText(
        GENERATION, "otp_or_pgp_missing", "otp or pgp_key parameter must be provided", FACTS,
        "The server needs an OTP or a PGP key to start an attempt"),
    VaultErrorText(
        GENERATION, "slot_busy", "root generation already in progress", MEASURED_OPENBAO,
        "Another token generation already holds the server's single in-progress slot (root, DR operation and "
        "recovery token generation share it). Finish it, or cancel it with state=canceled if it is abandoned"),
    VaultErrorText(
        GENERATION, "no_attempt", "no root generation in progress", FACTS,
        "No attempt is running any more: it completed or was canceled meanwhile. Run again without nonce to "
        "start a new attempt"),
    VaultErrorText(
        GENERATION, "wrong_nonce", "incorrect nonce supplied", FACTS,
        "The nonce is not the running attempt's. Pass the running attempt's nonce, or cancel that attempt "
        "with state=canceled if it is abandoned"),
    VaultErrorText(
        GENERATION, "share_repeated", "already been provided", MEASURED_OPENBAO,
        "This key share was already counted in this attempt"),
    VaultErrorText(
        GENERATION, "other_strategy", "incorrect strategy supplied", FACTS,
        "A token generation of another kind (root, DR operation or recovery token; they share one slot) is "
        "in progress. Finish or cancel that one first"),
    VaultErrorText(
        GENERATION, "share_encoding", "must be a valid hex or base64 string", FACTS,
        "Give each key share as Vault printed it, hex or base64"),
    VaultErrorText(
        GENERATION, "not_initialized", "server is not yet initialized", FACTS,
        "Initialise the server first; there are no key shares yet"),
    VaultErrorText(
        GENERATION, "already_unsealed", "already unsealed", MEASURED_OPENBAO,
        "This server is already unsealed: a recovery token is only generated while the server runs sealed "
        "in recovery mode (and only once per recovery run). Restart it with -recovery to make another"),
    VaultErrorText(
        GENERATION, "wrong_share", "generation aborted", MEASURED_OPENBAO,
        "The threshold was reached but the key shares did not reconstruct the key: at least one share is wrong"),
)


def find(errors: Iterable[str], area: Optional[str] = None) -> Optional[VaultErrorText]:
    """The first entry (of `area`, when given) whose text is in one of Vault's `errors`."""
    lowered = [str(e).lower() for e in errors or ()]
    for entry in VAULT_ERROR_TEXTS:
        if (area is None or entry.area == area) and any(entry.text in e for e in lowered):
            return entry
    return None


def named(name: str) -> VaultErrorText:
    """The entry called `name` (KeyError for a name that is not in the table)."""
    for entry in VAULT_ERROR_TEXTS:
        if entry.name == name:
            return entry
    raise KeyError(name)
