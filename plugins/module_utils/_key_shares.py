# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unseal / recovery key shares as the ceremony modules take them: parsed, checked and
de-duplicated before anything is sent. Standard library only.

Messages name a share by its position in key_shares, never by its value.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Iterable, List, Optional, Tuple

from ansible_collections.vaultops.dr.plugins.module_utils._otp import TokenGenerationError

_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_HEX_CHARS = re.compile(r"[0-9a-fA-F]+")


def share_bytes(share: Optional[str]) -> Optional[bytes]:
    """The raw bytes of an unseal key share as Vault reads it: hex first, then base64."""
    text = (share or "").strip()
    if not text:
        return None
    if _HEX.fullmatch(text):
        return bytes.fromhex(text)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _why_not_a_share(text: str) -> str:
    """What is wrong with an item that is neither hex nor base64 (never quoting it)."""
    if not text.strip():
        return "is empty (an unanswered survey question, or a blank line in a list?): remove it"
    if any(c.isspace() for c in text.strip()):
        return ("contains whitespace: give each share as one string, exactly as Vault printed it "
                "(unseal_keys_hex or unseal_keys_b64), one list item per share")
    if _HEX_CHARS.fullmatch(text.strip()):
        return "has an odd number of hex digits: part of it is missing; copy it again from where it is kept"
    if not text.isascii():
        return "holds characters that are neither hex nor base64 (non-ASCII): copy it again as Vault printed it"
    return ("is neither hex nor base64 (Vault accepts unseal key shares in either form, e.g. unseal_keys_hex "
            "or unseal_keys_b64): copy it again as Vault printed it")


def dedupe_shares(shares: Optional[Iterable[object]]) -> Tuple[List[str], int]:
    """Validate and de-duplicate key shares (the same share in hex and base64 counts once).

    Returns (unique shares as given, stripped; number of duplicates dropped). Raises
    TokenGenerationError naming the position (never the value) of a share that cannot be
    one, before anything is sent.
    """
    unique, _positions, dropped = dedupe_shares_with_positions(shares)
    return unique, dropped


def dedupe_shares_with_positions(shares: Optional[Iterable[object]]) -> Tuple[List[str], List[int], int]:
    """dedupe_shares, plus each kept share's 1-based position in key_shares (for messages)."""
    seen = set()
    unique: List[str] = []
    positions: List[int] = []
    dropped = 0
    for index, share in enumerate(shares or [], start=1):
        text = share if isinstance(share, str) else ("" if share is None else str(share))
        raw = share_bytes(text)
        if not raw:
            raise TokenGenerationError("key_shares item %d %s. Nothing was sent." % (index, _why_not_a_share(text)))
        if raw in seen:
            dropped += 1
            continue
        seen.add(raw)
        unique.append(text.strip())
        positions.append(index)
    return unique, positions, dropped
