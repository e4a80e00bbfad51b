# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DR status as this collection judges it: the summary every module returns, the health
judgement of vault-api-facts.md, and the facts read from a status (addresses, WAL positions).

Pure functions of what Vault answered (any shape: a field of the wrong type counts as absent),
plus `read_status`/`read_version`, the two reads. No Ansible imports.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from ansible_collections.vaultops.dr.plugins.module_utils._client import VaultError

if TYPE_CHECKING:  # typing only: TypedDict needs no runtime support on the oldest targets
    from typing import TypedDict

    from ansible_collections.vaultops.dr.plugins.module_utils._client import VaultClient

    class StatusSummary(TypedDict):
        """What every module returns as `status`."""

        mode: str
        state: Optional[str]
        healthy: bool
        cluster_id: Optional[str]
        known_secondaries: List[str]
        secondaries: List[Dict[str, Any]]
        raw: Dict[str, Any]

STATUS_PATH = "sys/replication/dr/status"

MODES = ("primary", "secondary", "disabled", "bootstrapping", "unknown")
# Old docs and old servers say `dr-primary`; the API's own `data` block says `primary`.
_MODE_ALIASES = {"dr-primary": "primary", "dr-secondary": "secondary"}

# State groups as the Vault UI has them (vault-api-facts.md).
HEALTHY_STATES = ("stream-wals", "running", "ready")
SYNCING_STATES = ("merkle-diff", "merkle-sync", "connecting", "bootstrapping")
BAD_STATES = ("idle", "transient_failure", "shutdown")

# Where the module points to when the cluster is in the wrong mode.
HOW_TO_PROMOTE = "promote it with vaultops.dr.dr_secondary state=promoted"


# -- reading and judging status ------------------------------------------------------------
def normalise_mode(value: Any) -> str:
    """`dr-primary` → `primary`; anything not a known mode (or missing) → `unknown`."""
    if not isinstance(value, str):
        return "unknown"
    mode = value.strip().lower()
    mode = _MODE_ALIASES.get(mode, mode)
    return mode if mode in MODES else "unknown"


def as_int(value: Any) -> Optional[int]:
    """Newer Vault sends some numbers as strings (`"696"`); None when it is not a number."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        if isinstance(value, float):
            return int(value)
        if isinstance(value, str):
            return int(float(value.strip()))
    except (ValueError, OverflowError):  # "abc", NaN, infinity
        return None
    return None


def as_bool(value: Any) -> bool:
    """`true`/`"true"`/`1` → True; everything else → False."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _text(value: Any) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _list(value: Any) -> List[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _secondary_entry(entry: Any) -> Dict[str, Any]:
    """One `secondaries[]` item with the fields newer Vault sends as strings made numbers."""
    if not isinstance(entry, dict):
        return {}
    out = dict(entry)
    out["connection_status"] = _text(entry.get("connection_status"))
    for key in ("clock_skew_ms", "last_heartbeat_duration_ms", "replication_primary_canary_age_ms"):
        if key in entry:
            out[key] = as_int(entry.get(key))
    return out


def summarise(data: Any, expect_secondaries: Optional[Iterable[str]] = None) -> StatusSummary:
    """The status summary every module returns: `{mode, state, healthy, cluster_id,
    known_secondaries, secondaries, raw}`; `raw` is the `data` Vault answered, untouched."""
    data = data if isinstance(data, dict) else {}
    mode = normalise_mode(data.get("mode"))
    return {
        "mode": mode,
        "state": data.get("state") if isinstance(data.get("state"), str) else None,
        "healthy": is_healthy(data, expect_secondaries),
        "cluster_id": data.get("cluster_id") if isinstance(data.get("cluster_id"), str) and data.get("cluster_id") else None,
        "known_secondaries": [str(s) for s in _list(data.get("known_secondaries"))],
        "secondaries": [_secondary_entry(s) for s in _list(data.get("secondaries"))],
        "raw": data,
    }


def is_healthy(data: Any, expect_secondaries: Optional[Iterable[str]] = None) -> bool:
    """The health judgement of vault-api-facts.md; False for any mode but primary/secondary."""
    if not isinstance(data, dict):
        return False
    mode = normalise_mode(data.get("mode"))
    if mode == "primary":
        return _primary_healthy(data, list(expect_secondaries or []))
    if mode == "secondary":
        return _secondary_healthy(data)
    return False


def _primary_healthy(data: Dict[str, Any], expected: List[str]) -> bool:
    if _text(data.get("state")) != "running" or as_bool(data.get("corrupted_merkle_tree")):
        return False
    return all(secondary_connected(data, sid) for sid in expected)


def secondary_connected(data: Dict[str, Any], secondary_id: str) -> bool:
    """True when the primary's status shows `secondary_id` connected.

    An id in `known_secondaries` only means a token was issued for it. Servers that list
    `secondaries[]` say whether it is connected; older ones do not, and then being known is
    all the primary can tell.
    """
    if secondary_id not in [str(s) for s in _list(data.get("known_secondaries"))]:
        return False
    if "secondaries" not in data:
        return True
    for entry in _list(data.get("secondaries")):
        if isinstance(entry, dict) and str(entry.get("node_id")) == secondary_id:
            return _text(entry.get("connection_status")) == "connected"
    return False


def _secondary_healthy(data: Dict[str, Any]) -> bool:
    state = _text(data.get("state"))
    connection = _text(data.get("connection_state"))
    # A secondary still syncing may already say connection_state "ready": not healthy yet.
    if state in BAD_STATES + SYNCING_STATES or connection in BAD_STATES + SYNCING_STATES:
        return False
    if state not in HEALTHY_STATES and connection not in ("ready", "running"):
        return False
    # HashiCorp's own checks call a secondary unhealthy when its primary is not connected, and their test
    # harness waits for last_remote_wal > 0: a secondary that has never received a WAL serves nothing yet.
    primaries = [p for p in _list(data.get("primaries")) if isinstance(p, dict)]
    if primaries and _text(primaries[0].get("connection_status")) != "connected":
        return False
    if "last_remote_wal" in data and as_int(data.get("last_remote_wal")) == 0:
        return False
    return True


def is_syncing(summary: StatusSummary) -> bool:
    """True for a secondary on its way to healthy by itself (initial sync, reconnecting)."""
    raw = summary.get("raw") or {}
    return summary["mode"] == "bootstrapping" or (
        summary["mode"] == "secondary" and (_text(raw.get("state")) in SYNCING_STATES
                                            or _text(raw.get("connection_state")) in SYNCING_STATES))


def primary_addrs(data: Dict[str, Any]) -> Set[str]:
    """Every cluster address the secondary's status names as its primary, normalised."""
    addrs = _list(data.get("known_primary_cluster_addrs"))
    addrs.append(data.get("primary_cluster_addr"))
    addrs.extend(p.get("cluster_address") for p in _list(data.get("primaries")) if isinstance(p, dict))
    return {normalise_addr(a) for a in addrs if isinstance(a, str) and a.strip()}


def normalise_addr(addr: str) -> str:
    """Compare addresses without caring for case of scheme/host or a trailing slash."""
    return addr.strip().rstrip("/").lower()


def follows(summary: Mapping[str, Any], primary_cluster_addr: str) -> bool:
    # A Mapping: filters pass cluster views (dicts with the summary's keys), not only summaries.
    """True when a secondary is healthy and following `primary_cluster_addr`."""
    return (summary["mode"] == "secondary" and summary["healthy"]
            and normalise_addr(primary_cluster_addr) in primary_addrs(summary["raw"]))


def wal_position(raw: Dict[str, Any]) -> Optional[int]:
    """The WAL index a primary has written (`last_dr_wal` when it sends one, else `last_wal`)."""
    for key in ("last_dr_wal", "last_wal"):
        value = as_int(raw.get(key))
        if value is not None:
            return value
    return None


def catch_up_lag(primary: StatusSummary, secondary: StatusSummary) -> Tuple[Optional[int], bool]:
    """How many WAL entries `secondary` is behind `primary` (summaries), and whether their merkle
    roots agree where both show one. Returns (lag or None when either side shows no index, roots_equal)."""
    primary_wal = wal_position(primary["raw"])
    received = as_int(secondary["raw"].get("last_remote_wal"))
    lag = None if primary_wal is None or received is None else max(0, primary_wal - received)
    roots = (primary["raw"].get("merkle_root"), secondary["raw"].get("merkle_root"))
    roots_equal = not all(roots) or roots[0] == roots[1]
    return lag, roots_equal


def read_version(client: VaultClient) -> Optional[str]:
    """The server's version from sys/seal-status (unauthenticated); None when it sends none."""
    try:
        version = client.request("GET", "sys/seal-status", auth="none", retries=0).data.get("version")
    except VaultError:
        return None
    return version if isinstance(version, str) and version else None


def read_status(client: VaultClient, expect_secondaries: Optional[Iterable[str]] = None) -> StatusSummary:
    """GET sys/replication/dr/status (unauthenticated: it also works on DR secondaries)."""
    resp = client.read(STATUS_PATH, auth="none")
    return summarise(resp.data, expect_secondaries)


RECOVERY_MODE = ("The server is in recovery mode (sys/seal-status answers 404 too): it serves only "
                 "sys/generate-recovery-token and sys/raw. Use vaultops.dr.recovery_token there, or restart it "
                 "normally, then run again.")


def in_recovery_mode(client: VaultClient) -> bool:
    """True when even sys/seal-status answers 404: a server started with -recovery serves nothing else."""
    try:
        client.request("GET", "sys/seal-status", auth="none", retries=0)
    except VaultError as err:
        return err.status == 404
    return False


def describe(summary: Optional[StatusSummary]) -> str:
    """The last status as one line for messages: mode, state, connection and health."""
    if summary is None:
        return "no status could be read"
    raw = summary.get("raw") or {}
    parts = ["mode %s" % summary["mode"]]
    if summary.get("state"):
        parts.append("state %s" % summary["state"])
    if raw.get("connection_state"):
        parts.append("connection_state %s" % raw["connection_state"])
    if summary["mode"] == "primary":
        conn = ["%s %s" % (s.get("node_id"), s.get("connection_status") or "?") for s in summary["secondaries"]]
        parts.append("known_secondaries %s" % (summary["known_secondaries"] or "none"))
        if conn:
            parts.append("secondaries %s" % ", ".join(conn))
    if summary["mode"] == "secondary":
        addrs = sorted(primary_addrs(raw))
        parts.append("primary %s" % (", ".join(addrs) if addrs else "none"))
    parts.append("healthy" if summary["healthy"] else "not healthy")
    return ", ".join(parts)


def primary_connected(summary: StatusSummary) -> bool:
    """True when a secondary's status shows its primary connected: that primary is alive and streaming."""
    if summary["mode"] != "secondary":
        return False
    return any(isinstance(p, dict) and _text(p.get("connection_status")) == "connected"
               for p in _list(summary["raw"].get("primaries")))


def primary_api_addr(summary: StatusSummary) -> Optional[str]:
    """The API address of the primary a secondary's status names, when it names one."""
    for entry in _list(summary["raw"].get("primaries")):
        addr = entry.get("api_address") if isinstance(entry, dict) else None
        if isinstance(addr, str) and addr.strip():
            return addr.strip()
    return None


def secondary_entry(summary: StatusSummary, secondary_id: str) -> Optional[Dict[str, Any]]:
    """The primary's `secondaries[]` entry for `secondary_id`, if it lists one."""
    for entry in summary["secondaries"]:
        if str(entry.get("node_id")) == secondary_id:
            return entry
    return None
