# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DR replication as every module of this collection sees it: the status summary, the health
judgement, a wait loop with a deadline, and the DR API calls as small functions.

Decisions are made from the cluster's status, never from Vault's error texts: those are not
public and change between releases.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import time

from ansible_collections.vaultops.dr.plugins.module_utils._client import VaultAnswerLost, VaultError, VaultResponse
from ansible_collections.vaultops.dr.plugins.module_utils._errors import ModuleFailure, explain

STATUS_PATH = "sys/replication/dr/status"
PRIMARY = "sys/replication/dr/primary/"
SECONDARY = "sys/replication/dr/secondary/"

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
def normalise_mode(value):
    """`dr-primary` → `primary`; anything not a known mode (or missing) → `unknown`."""
    if not isinstance(value, str):
        return "unknown"
    mode = value.strip().lower()
    mode = _MODE_ALIASES.get(mode, mode)
    return mode if mode in MODES else "unknown"


def as_int(value):
    """Newer Vault sends some numbers as strings (`"696"`); None when it is not a number."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value.strip()))
        except ValueError:
            return None
    return None


def as_bool(value):
    """`true`/`"true"`/`1` → True; everything else → False."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _text(value):
    return value.strip().lower() if isinstance(value, str) else ""


def _list(value):
    return list(value) if isinstance(value, (list, tuple)) else []


def _secondary_entry(entry):
    """One `secondaries[]` item with the fields newer Vault sends as strings made numbers."""
    if not isinstance(entry, dict):
        return {}
    out = dict(entry)
    out["connection_status"] = _text(entry.get("connection_status"))
    for key in ("clock_skew_ms", "last_heartbeat_duration_ms", "replication_primary_canary_age_ms"):
        if key in entry:
            out[key] = as_int(entry.get(key))
    return out


def summarise(data, expect_secondaries=None):
    """The status summary every module returns: `{mode, state, healthy, cluster_id,
    known_secondaries, secondaries, raw}`; `raw` is the `data` Vault answered, untouched."""
    data = data if isinstance(data, dict) else {}
    mode = normalise_mode(data.get("mode"))
    return {
        "mode": mode,
        "state": data.get("state") if isinstance(data.get("state"), str) else None,
        "healthy": is_healthy(data, expect_secondaries),
        "cluster_id": data.get("cluster_id") or None,
        "known_secondaries": [str(s) for s in _list(data.get("known_secondaries"))],
        "secondaries": [_secondary_entry(s) for s in _list(data.get("secondaries"))],
        "raw": data,
    }


def is_healthy(data, expect_secondaries=None):
    """The health judgement of vault-api-facts.md; False for any mode but primary/secondary."""
    mode = normalise_mode(data.get("mode"))
    if mode == "primary":
        return _primary_healthy(data, expect_secondaries or [])
    if mode == "secondary":
        return _secondary_healthy(data)
    return False


def _primary_healthy(data, expected):
    if _text(data.get("state")) != "running" or as_bool(data.get("corrupted_merkle_tree")):
        return False
    return all(secondary_connected(data, sid) for sid in expected)


def secondary_connected(data, secondary_id):
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


def _secondary_healthy(data):
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


def is_syncing(summary):
    """True for a secondary on its way to healthy by itself (initial sync, reconnecting)."""
    raw = summary.get("raw") or {}
    return summary["mode"] == "bootstrapping" or (
        summary["mode"] == "secondary" and (_text(raw.get("state")) in SYNCING_STATES
                                            or _text(raw.get("connection_state")) in SYNCING_STATES))


def primary_addrs(data):
    """Every cluster address the secondary's status names as its primary, normalised."""
    addrs = _list(data.get("known_primary_cluster_addrs"))
    addrs.append(data.get("primary_cluster_addr"))
    addrs.extend(p.get("cluster_address") for p in _list(data.get("primaries")) if isinstance(p, dict))
    return {normalise_addr(a) for a in addrs if isinstance(a, str) and a.strip()}


def normalise_addr(addr):
    """Compare addresses without caring for case of scheme/host or a trailing slash."""
    return addr.strip().rstrip("/").lower()


def follows(summary, primary_cluster_addr):
    """True when a secondary is healthy and following `primary_cluster_addr`."""
    return (summary["mode"] == "secondary" and summary["healthy"]
            and normalise_addr(primary_cluster_addr) in primary_addrs(summary["raw"]))


def wal_position(raw):
    """The WAL index a primary has written (`last_dr_wal` when it sends one, else `last_wal`)."""
    for key in ("last_dr_wal", "last_wal"):
        value = as_int(raw.get(key))
        if value is not None:
            return value
    return None


def catch_up_lag(primary, secondary):
    """How many WAL entries `secondary` is behind `primary` (summaries), and whether their merkle
    roots agree where both show one. Returns (lag or None when either side shows no index, roots_equal)."""
    primary_wal = wal_position(primary["raw"])
    received = as_int(secondary["raw"].get("last_remote_wal"))
    lag = None if primary_wal is None or received is None else max(0, primary_wal - received)
    roots = (primary["raw"].get("merkle_root"), secondary["raw"].get("merkle_root"))
    roots_equal = not all(roots) or roots[0] == roots[1]
    return lag, roots_equal


def read_version(client):
    """The server's version from sys/seal-status (unauthenticated); None when it sends none."""
    try:
        version = client.request("GET", "sys/seal-status", auth="none", retries=0).data.get("version")
    except VaultError:
        return None
    return version if isinstance(version, str) and version else None


def read_status(client, expect_secondaries=None):
    """GET sys/replication/dr/status (unauthenticated: it also works on DR secondaries)."""
    resp = client.read(STATUS_PATH, auth="none")
    return summarise(resp.data, expect_secondaries)


def describe(summary):
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


# -- waiting ---------------------------------------------------------------------------------
def _worth_waiting(err):
    # No answer (restarting), sealed/standby/catching up (503), index not yet present (412),
    # rate limited (429) or a proxy in between (502/504): status will come back.
    return err.status is None or err.status in (412, 429, 500, 502, 503, 504)


def wait_for(read_fn, predicate, timeout, interval=2, what="the asked state", where=None,
             clock=None, sleep=None):
    """Read status with `read_fn()` until `predicate(summary)` holds or `timeout` s pass.

    Returns (summary, waited_seconds). On timeout raises ModuleFailure naming the last
    status seen (or the last error) so the operator sees where the cluster got stuck.
    """
    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    start = clock()
    deadline = start + max(0, timeout)
    last, last_error = None, None
    while True:
        try:
            last, last_error = read_fn(), None
            if predicate(last):
                return last, round(clock() - start, 1)
        except VaultError as err:
            if not _worth_waiting(err):
                raise
            last_error = err
        now = clock()
        if now >= deadline:
            seen = "last error: %s" % last_error if last_error else "last status seen: %s" % describe(last)
            raise ModuleFailure(
                "Timed out after %ss waiting for %s%s; %s. Check the clusters' DR status and connectivity "
                "(vaultops.dr.dr_status), or raise wait_timeout." % (
                    int(timeout), what, " on %s" % where if where else "", seen),
                status=last, waited=round(now - start, 1))
        sleep(max(0.0, min(interval, deadline - now)))


def wait_for_status(module, reached, what):
    """wait_for() on the module's cluster, with its `wait_timeout`: until `reached(summary)`."""
    return wait_for(lambda: read_status(module.client), reached, module.params["wait_timeout"],
                    what=what, where=module.params["url"])


# -- DR API calls ----------------------------------------------------------------------------
class ConfirmedByStatus(VaultResponse):
    """Stands for the answer of a state-changing POST that was lost but whose effect the
    status read afterwards shows."""

    def __init__(self, method, path):
        super().__init__(None, None)
        self.note = ("The answer to %s %s was lost, but the cluster's DR status shows it took effect; "
                     "it was not sent again." % (method, path))


def _status_after_loss(client, lost):
    """Read status after a lost answer; fail saying so when even that is impossible."""
    try:
        return read_status(client)
    except VaultError as err:
        raise ModuleFailure(
            "%s Reading the DR status afterwards failed too (%s), so whether it took effect is "
            "unknown: check with vaultops.dr.dr_status before running again." % (explain(lost), err),
            http_status=None, vault_errors=[]) from None


def _post(client, path, body, auth, took_effect, after_loss=None):
    """POST once; if the answer is lost, read status to decide instead of replaying.

    `took_effect(summary)` says whether the status shows the request's effect;
    `after_loss` is what to tell the operator when it does not.
    """
    try:
        return client.write(path, data=body or {}, auth=auth)
    except VaultAnswerLost as lost:
        summary = _status_after_loss(client, lost)
        if took_effect(summary):
            return ConfirmedByStatus(lost.method, lost.path)
        raise ModuleFailure(
            "The answer to %s %s on %s was lost and the DR status read afterwards does not show its effect "
            "(%s). %s" % (lost.method, lost.path, lost.url, describe(summary),
                          after_loss or "It was not sent again; run the task again."),
            status=summary) from None


def _drop_empty(body):
    """Leave out options the user did not set, so Vault applies its own defaults."""
    return {k: v for k, v in body.items() if v not in (None, "", [])}


def enable_primary(client, primary_cluster_addr=None):
    return _post(client, PRIMARY + "enable", _drop_empty({"primary_cluster_addr": primary_cluster_addr}),
                 "required", lambda s: s["mode"] == "primary")


def demote_primary(client):
    return _post(client, PRIMARY + "demote", {}, "required", lambda s: s["mode"] == "secondary")


def disable_primary(client):
    return _post(client, PRIMARY + "disable", {}, "required", lambda s: s["mode"] == "disabled")


def issue_secondary_token(client, secondary_id, ttl=None, secondary_public_key=None):
    """POST secondary-token (must be POST; needs a token with sudo). Returns
    `{token, ttl, creation_time, id}`: wrapped (`wrap_info`), or `data.token` in the public-key flow."""
    body = _drop_empty({"id": secondary_id, "ttl": ttl, "secondary_public_key": secondary_public_key})
    try:
        resp = client.write(PRIMARY + "secondary-token", data=body, auth="required")
    except VaultAnswerLost as lost:
        # Never replayed: a second request for the same id fails, and the first token is gone.
        summary = _status_after_loss(client, lost)
        if secondary_id in summary["known_secondaries"]:
            todo = ("The id is now in known_secondaries, so a token was issued but its answer is lost: "
                    "run again with force=true to revoke it and issue a new one.")
        else:
            todo = "The id is not in known_secondaries, so no token was issued: run the task again."
        raise ModuleFailure("The answer to POST %ssecondary-token on %s was lost. %s" % (PRIMARY, lost.url, todo),
                            status=summary) from None
    wrap = (resp.body or {}).get("wrap_info") or {}
    data = (resp.body or {}).get("data") or {}
    token = wrap.get("token") or data.get("token")
    if not token:
        raise ModuleFailure(
            "POST %ssecondary-token on %s answered HTTP %s without an activation token (neither wrap_info.token "
            "nor data.token). Check that the id is new and the server is a DR primary." % (
                PRIMARY, client.url, resp.status))
    return {
        "token": token,
        "ttl": as_int(wrap.get("ttl") if wrap else data.get("ttl")),
        "creation_time": wrap.get("creation_time") or data.get("creation_time"),
        "id": secondary_id,
    }


def revoke_secondary(client, secondary_id):
    return _post(client, PRIMARY + "revoke-secondary", {"id": secondary_id}, "required",
                 lambda s: secondary_id not in s["known_secondaries"])


def enable_secondary(client, activation_token, primary_api_addr=None, ca_file=None, ca_path=None):
    """Secondary enable WIPES the cluster: called only on a cluster whose mode is disabled."""
    body = _drop_empty({"token": activation_token, "primary_api_addr": primary_api_addr,
                        "ca_file": ca_file, "ca_path": ca_path})
    return _post(client, SECONDARY + "enable", body, "required",
                 lambda s: s["mode"] in ("secondary", "bootstrapping"),
                 "It was not sent again. Activation tokens are single-use: if the status shows it later, "
                 "nothing is left to do; otherwise issue a new token (vaultops.dr.dr_secondary_token force=true).")


# On a DR secondary these endpoints authenticate by the DR operation token in the body; a
# Vault token is sent only when one is at hand (auth="optional"), never logged in for.
def promote_secondary(client, dr_operation_token, primary_cluster_addr=None, force=False):
    body = _drop_empty({"dr_operation_token": dr_operation_token, "primary_cluster_addr": primary_cluster_addr})
    if force:
        body["force"] = True
    return _post(client, SECONDARY + "promote", body, "optional", lambda s: s["mode"] == "primary")


def update_primary(client, dr_operation_token, activation_token=None, update_primary_addrs=None,
                   primary_api_addr=None, ca_file=None, ca_path=None, primary_cluster_addr=None):
    body = _drop_empty({"dr_operation_token": dr_operation_token, "token": activation_token,
                        "update_primary_addrs": update_primary_addrs, "primary_api_addr": primary_api_addr,
                        "ca_file": ca_file, "ca_path": ca_path})

    def took_effect(summary):
        # Without the address to follow, the status cannot tell an old primary from a new one.
        return bool(primary_cluster_addr) and normalise_addr(primary_cluster_addr) in primary_addrs(summary["raw"])

    return _post(client, SECONDARY + "update-primary", body, "optional", took_effect,
                 "It was not sent again. Activation tokens are single-use: issue a new one for this secondary "
                 "(vaultops.dr.dr_secondary_token force=true) and run again.")


def disable_secondary(client, dr_operation_token):
    return _post(client, SECONDARY + "disable", {"dr_operation_token": dr_operation_token}, "optional",
                 lambda s: s["mode"] == "disabled")


# -- helpers the modules share ----------------------------------------------------------------
def report_lost_answers(module, *responses):
    """Warn about each POST whose lost answer the status confirmed."""
    for resp in responses:
        note = getattr(resp, "note", None)
        if note:
            module.warn(note)


class WrongMode(Exception):
    """The cluster is in a mode the asked state cannot start from; `todo` says what to do."""

    def __init__(self, todo):
        super().__init__(todo)
        self.todo = todo


def wrong_mode(module_name, asked, url, summary, todo):
    """The failure for a cluster in the wrong mode: module, asked state, cluster, its status, what to do."""
    return ModuleFailure("%s %s on %s: the cluster is %s; %s" % (module_name, asked, url, describe(summary), todo),
                         status=summary, mode_before=summary["mode"])


def fail_for(module_name, asked, url, err, hint=None):
    """A VaultError from a DR call as a ModuleFailure naming module, asked state and cluster."""
    msg = "%s %s on %s: %s" % (module_name, asked, url, explain(err))
    if hint:
        msg += " " + hint
    return ModuleFailure(msg, http_status=err.status, vault_errors=err.errors)


def diff(before_mode, after_mode):
    return {"before": {"mode": before_mode}, "after": {"mode": after_mode}}
