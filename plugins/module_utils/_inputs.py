# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input refused before any request: numbers out of range, files that are not there, a secret
put in the wrong field, list items that cannot be ids. Each message names the option and the fix;
a value that may be a secret is never echoed.

Checks apply to whichever of these options a module has (one table for every module), so a wrong
value is refused the same way everywhere. No Ansible imports.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterable, Mapping, Optional, Tuple

from ansible_collections.vaultops.dr.plugins.module_utils._errors import ModuleFailure

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}

# option: (lowest, highest, what to do). Upper bounds catch units mistaken (ms for s) or typos.
INT_RANGES = {
    "timeout": (1, 3600, "seconds for one HTTP request, e.g. 30"),
    "retries": (0, 20, "how often a refused or unanswered read is retried, e.g. 3"),
    "wait_timeout": (0, 86400, "seconds to wait for the asked state, e.g. 300 (0 reads once)"),
    "wait_interval": (1, 3600, "seconds between status reads, e.g. 5"),
    "max_wal_lag": (0, 10 ** 12, "WAL entries the secondary may be behind, 0 for none"),
}
# Vault durations: option -> (lowest seconds, highest seconds).
DURATIONS = {"ttl": (1, 10 * 365 * 86400), "min_ttl": (0, 10 * 365 * 86400)}
# Options that hold an address: a token or key there is a secret in the wrong field.
ADDRESS_OPTIONS = ("url", "primary_api_addr", "primary_cluster_addr", "catch_up_with", "demote_primary")
ADDRESS_LISTS = ("update_primary_addrs", "nodes")
ID_OPTIONS = ("id",)
ID_LISTS = ("expect_secondaries",)
PUBLIC_KEY_OPTIONS = ("secondary_public_key", "pgp_key")

# Vault token prefixes (hvs./hvb./hvr., legacy s./b./r.) and JWTs (activation tokens, wrapping tokens).
_TOKEN = re.compile(r"^(hv[sbr]|[sbr])\.[A-Za-z0-9_-]{16,}$|^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")


def parse_duration(value: Any) -> int:
    """Seconds in a Vault duration: an int, V(300), V(30m), V(168h), V(1h30m), V(7d). Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("not a duration: %r" % (value,))
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip().lower()
    if re.fullmatch(r"\d+", text):
        return int(text)
    if not text or _DURATION.sub("", text):
        raise ValueError("not a duration: %r (use e.g. 168h, 30m, 90s or seconds)" % (value,))
    return int(sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(text)))


def looks_like_token(value: Any) -> bool:
    return isinstance(value, str) and bool(_TOKEN.match(value.strip()))


def _looks_like_private_key(value: str) -> bool:
    return "PRIVATE KEY" in value


def _fail(msg: str) -> ModuleFailure:
    return ModuleFailure(msg)


def _check_address(name: str, value: Any) -> None:
    if value is None or value == "":
        return
    text = str(value).strip()
    if looks_like_token(text) or _looks_like_private_key(text):
        raise _fail("%s holds what looks like a token or key, not an address (the value is not shown). Put the "
                    "secret in its own option and give %s as https://host:port." % (name, name))
    if not re.match(r"^https?://[^/\s]+", text, re.IGNORECASE):
        raise _fail("%s must be an address like https://vault.example.com:8200 (scheme http:// or https://, "
                    "then host and port); got %r." % (name, text[:80]))


def _check_id(name: str, value: Any) -> None:
    text = "" if value is None else str(value)
    if looks_like_token(text):
        raise _fail("%s holds what looks like a Vault token, not a secondary id (the value is not shown): give the "
                    "DR secondary's id, e.g. its inventory name." % name)
    if not _ID.match(text):
        raise _fail("%s must be a DR secondary id: letters, digits and . _ : @ - , starting with a letter or digit "
                    "(no spaces); got %r." % (name, text[:80]))


def _int_range(name: str, value: Any) -> None:
    low, high, what = INT_RANGES[name]
    if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high:
        raise _fail("%s must be between %s and %s (%s); got %s." % (name, low, high, what, value))


def _duration(name: str, value: Any) -> None:
    low, high = DURATIONS[name]
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise _fail("%s must be a Vault duration such as 30m, 168h or 3600 (seconds); got %r." % (
            name, str(value)[:40])) from None
    if not low <= seconds <= high:
        raise _fail("%s must be between %ss and %ss; got %s (%ss)." % (name, low, high, value, seconds))


def _ca_cert(params: Mapping[str, Any]) -> None:
    path = params.get("ca_cert")
    if path and params.get("validate_certs", True) and not os.path.exists(path):
        raise _fail("ca_cert %s does not exist on the controller: give the path of the CA certificate file (PEM) or "
                    "a directory of them, or unset it to use the system's trust store." % path)


def _items(params: Mapping[str, Any], names: Iterable[str]) -> Iterable[Tuple[str, Any]]:
    for name in names:
        for i, item in enumerate(params.get(name) or []):
            yield "%s[%d]" % (name, i), item


def _public_key(name: str, value: Optional[str]) -> None:
    if value and _looks_like_private_key(value):
        raise _fail("%s holds a private key (the value is not shown): give the public key only, and keep the "
                    "private key where it is." % name)


def check_inputs(params: Mapping[str, Any]) -> None:
    """Raise ModuleFailure for the first bad input among the options `params` has."""
    for name in ADDRESS_OPTIONS:
        _check_address(name, params.get(name))
    for name, item in _items(params, ADDRESS_LISTS):
        _check_address(name, item)
    for name in INT_RANGES:
        if name in params:
            _int_range(name, params[name])
    for name in DURATIONS:
        if params.get(name) not in (None, ""):
            _duration(name, params[name])
    for name in ID_OPTIONS:
        if name in params and params[name] is not None:
            _check_id(name, params[name])
    for name, item in _items(params, ID_LISTS):
        _check_id(name, item)
    for name in PUBLIC_KEY_OPTIONS:
        _public_key(name, params.get(name))
    _ca_cert(params)
    if params.get("update_primary_addrs") is not None and not params["update_primary_addrs"]:
        raise _fail("update_primary_addrs is an empty list: give the new primary's cluster addresses, or leave it "
                    "out and give activation_token.")
