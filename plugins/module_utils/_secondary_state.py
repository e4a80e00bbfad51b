# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dr_secondary on the state skeleton: its decision table, the two-primaries guard, calls and waits.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional

from ansible_collections.vaultops.dr.plugins.module_utils import _replication as dr
from ansible_collections.vaultops.dr.plugins.module_utils._client import VaultError
from ansible_collections.vaultops.dr.plugins.module_utils._errors import ModuleFailure, activation_token_refused, explain
from ansible_collections.vaultops.dr.plugins.module_utils._primary_state import SPEC as PRIMARY
from ansible_collections.vaultops.dr.plugins.module_utils._state import ACT, NO_CHANGE, Refuse, RunContext, StateModule, Table

if TYPE_CHECKING:
    from ansible_collections.vaultops.dr.plugins.module_utils._diff import DifferenceTracker
    from ansible_collections.vaultops.dr.plugins.module_utils._dr_status import StatusSummary

TARGET = {"enabled": "secondary", "promoted": "primary", "primary_updated": "secondary", "disabled": "disabled"}
WHAT = {"enabled": "a healthy DR secondary", "promoted": "mode primary, state running",
        "primary_updated": "a healthy DR secondary", "disabled": "mode disabled"}
OPERATION_HINT = ("Check dr_operation_token: make one with vaultops.dr.dr_operation_token (with the primary's "
                  "unseal or recovery key shares) or use a batch DR operation token made on the primary.")
ACTIVATION_HINT = ("Check that this cluster can reach the primary's API (primary_api_addr) and trusts its certificate "
                   "(ca_file/ca_path, paths on the Vault server), and that activation_token is unspent and unexpired "
                   "(it is single-use; issue a new one on the primary with vaultops.dr.dr_secondary_token force=true).")
HOW_TO_GET = {
    "token (wait_for_writes writes with it)": "Give token (the primary's token is valid on the new primary), or set "
                                              "wait_for_writes=false.",
    "token (demote_primary demotes with it)": "Give token: one valid on the old primary with update on "
                                              "sys/replication/dr/primary/demote.",
    "dr_operation_token": OPERATION_HINT,
    "activation_token": "Issue one on the primary with vaultops.dr.dr_secondary_token.",
    "activation_token (or update_primary_addrs)": "Issue one on the new primary with vaultops.dr.dr_secondary_token.",
}
NOT_NOW = ("the mode is not one this module can act on; wait until vaultops.dr.dr_status shows "
           "primary, secondary or disabled, then run again.")

TABLE: Table = {
    ("enabled", "disabled"): ACT,
    ("enabled", "secondary"): NO_CHANGE,  # never enable twice: it would wipe the cluster again
    ("enabled", "bootstrapping"): NO_CHANGE,
    ("enabled", "primary"): Refuse(
        "enabling a secondary would wipe this DR primary, so it is refused. To make it a secondary of "
        "another primary, demote it with vaultops.dr.dr_primary state=demoted, then use "
        "vaultops.dr.dr_secondary state=primary_updated; or disable it with vaultops.dr.dr_primary "
        "state=disabled first if a wipe is really meant."),
    ("promoted", "primary"): NO_CHANGE,
    ("promoted", "secondary"): ACT,
    ("promoted", "disabled"): Refuse(
        "only a DR secondary can be promoted and DR replication is disabled here; make it a "
        "primary with vaultops.dr.dr_primary state=enabled."),
    # ACT unless the status already shows it healthy and following primary_cluster_addr (refine).
    ("primary_updated", "secondary"): ACT,
    ("primary_updated", "primary"): Refuse(
        "a DR primary cannot follow another primary; demote it first with "
        "vaultops.dr.dr_primary state=demoted (never keep two primaries), then run this again."),
    ("primary_updated", "disabled"): Refuse(
        "DR replication is disabled here; make it a secondary with vaultops.dr.dr_secondary "
        "state=enabled (this wipes it)."),
    ("disabled", "disabled"): NO_CHANGE,
    ("disabled", "secondary"): ACT,
    ("disabled", "primary"): Refuse("this is a DR primary; disable it with vaultops.dr.dr_primary state=disabled."),
}


class SecondaryModule(StateModule):
    name = "dr_secondary"
    table = TABLE
    how_to_get = HOW_TO_GET

    def refine(self, p: Mapping[str, Any], before: StatusSummary) -> bool:
        if p["state"] == "primary_updated" and p["primary_cluster_addr"]:
            return not dr.follows(before, p["primary_cluster_addr"])
        return True

    def guard(self, ctx: RunContext, before: StatusSummary) -> None:
        p = ctx.params
        if p["state"] != "promoted":
            return
        if p.get("demote_primary"):
            # Reads only: the demotion itself comes right before the promotion, and the two-primaries
            # guard after it (before_call).
            check_demotion(ctx, before)
        elif not p.get("allow_two_primaries"):
            refuse_two_primaries(ctx, before)

    def before_call(self, ctx: RunContext, before: StatusSummary) -> None:
        p = ctx.params
        if p["state"] == "promoted" and p.get("demote_primary"):
            ctx.notes["demoted"] = demote_old_primary(ctx)
            if not p.get("allow_two_primaries"):
                refuse_two_primaries(ctx, before)

    def missing(self, p: Mapping[str, Any]) -> List[str]:
        # Checked only when acting, so a run that changes nothing needs neither a spent activation token nor an op token.
        missing = []
        if p["state"] == "promoted" and p.get("wait_for_writes") and not _can_authenticate(p):
            missing.append("token (wait_for_writes writes with it)")
        if p["state"] == "promoted" and p.get("demote_primary") and not _can_authenticate(p):
            missing.append("token (demote_primary demotes with it)")
        if p["state"] != "enabled" and not p["dr_operation_token"]:
            missing.append("dr_operation_token")
        if p["state"] == "enabled" and not p["activation_token"]:
            missing.append("activation_token")
        if p["state"] == "primary_updated" and not (p["activation_token"] or p["update_primary_addrs"]):
            missing.append("activation_token (or update_primary_addrs)")
        return missing

    def call(self, ctx: RunContext, before: StatusSummary) -> Any:
        client, p = ctx.client, ctx.params
        state = p["state"]
        if state == "enabled":
            return dr.enable_secondary(client, p["activation_token"], p["primary_api_addr"], p["ca_file"], p["ca_path"])
        if state == "promoted":
            return dr.promote_secondary(client, p["dr_operation_token"], p["primary_cluster_addr"], p["force"])
        if state == "primary_updated":
            return dr.update_primary(client, p["dr_operation_token"], p["activation_token"], p["update_primary_addrs"],
                                     p["primary_api_addr"], p["ca_file"], p["ca_path"], p["primary_cluster_addr"])
        return dr.disable_secondary(client, p["dr_operation_token"])

    def error_hint(self, p: Mapping[str, Any], err: VaultError, before: StatusSummary) -> Optional[str]:
        if p["state"] == "promoted" and p.get("demote_primary"):
            hint = OPERATION_HINT if err.status == 400 else ""
            return (hint + " " + DEMOTED_NOT_PROMOTED % p["demote_primary"]).strip()
        if err.status != 400:
            return None
        if activation_token_refused(err):
            # explain() said what is wrong with the activation token: no op-token advice first.
            return None
        if p["state"] == "enabled":
            return ACTIVATION_HINT
        if p["state"] == "primary_updated":
            return OPERATION_HINT + " " + ACTIVATION_HINT
        return OPERATION_HINT

    def reached(self, p: Mapping[str, Any]) -> Callable[[StatusSummary], bool]:
        state = p["state"]
        if state == "promoted":
            return lambda s: s["mode"] == "primary" and (s["state"] or "").lower() == "running"
        if state == "disabled":
            return lambda s: s["mode"] == "disabled"
        addr = p["primary_cluster_addr"]
        if state == "primary_updated" and addr:
            return lambda s: dr.follows(s, addr)
        return lambda s: s["mode"] == "secondary" and s["healthy"]

    def what(self, p: Mapping[str, Any]) -> str:
        return WHAT[p["state"]]

    def give_up(self, p: Mapping[str, Any]) -> Optional[Callable[[StatusSummary], Optional[str]]]:
        if p["state"] in ("enabled", "primary_updated"):
            # A cluster that became a primary while we waited for it to follow one will never follow.
            return lambda s: ("the cluster is now a DR primary (%s), so it will not become a secondary by itself."
                              % dr.describe(s)) if s["mode"] == "primary" else None
        return None

    def wait_untouched(self, p: Mapping[str, Any], before: StatusSummary) -> bool:
        # Wait when an earlier run left the cluster on its way (still syncing, or promoted but not
        # running yet); an idle secondary that was not touched never gets healthy by itself.
        state = p["state"]
        return (state == "enabled" and dr.is_syncing(before)) or (state == "promoted" and not self.reached(p)(before))

    def after_change(self, ctx: RunContext, result: Dict[str, Any], answered_at: float) -> None:
        if "demoted" in ctx.notes:
            result["demoted_primary"] = ctx.notes["demoted"]
        if ctx.params["state"] == "promoted" and ctx.params.get("wait_for_writes"):
            result.update(wait_for_writes(ctx, answered_at))

    def untouched(self, ctx: RunContext, before: StatusSummary) -> None:
        if (ctx.params["state"] == "enabled" and before["mode"] == "secondary" and not before["healthy"]
                and not dr.is_syncing(before)):
            ctx.warn("%s is already a DR secondary (%s), so it was not enabled again: that would wipe it. To attach it "
                     "to a primary use state=primary_updated." % (ctx.params["url"], dr.describe(before)))

    def track_run(self, ctx: RunContext, diff: DifferenceTracker, before: StatusSummary, act: bool) -> None:
        self.track(diff, ctx.params, before, act)
        old = ctx.notes.get("old_primary")
        if act and old is not None:
            diff.add("demote_primary", "%s (%s)" % (ctx.params["demote_primary"], old["mode"]),
                     "%s (secondary)" % ctx.params["demote_primary"])

    def track(self, diff: DifferenceTracker, p: Mapping[str, Any], before: StatusSummary, act: bool) -> None:
        diff.add("mode", before["mode"], TARGET[p["state"]] if act else before["mode"], always=True)
        following = sorted(dr.primary_addrs(before["raw"]))
        if act and p["state"] == "primary_updated" and p["primary_cluster_addr"] and following:
            # Re-pointing a secondary that follows another primary: show which one it leaves.
            diff.add("primary", following, [dr.normalise_addr(p["primary_cluster_addr"])])
        elif act and p["state"] in ("promoted", "disabled"):
            # A promoted or disabled cluster follows no primary any more.
            diff.add("primary", following, [])


def refuse_two_primaries(ctx: RunContext, before: StatusSummary) -> None:
    """Refuse a promotion while this secondary's status shows its primary alive and connected.

    The secondary's view can lag a demotion by a few seconds, so when the status names the primary's
    API address and that answers as no longer a primary (demoted), the promotion may go on.
    """
    if not dr.primary_connected(before):
        return
    api = dr.primary_api_addr(before)
    seen = "connected (its status shows primaries[0].connection_status connected)"
    if api and ctx.client_for is not None:
        try:
            other = dr.read_status(ctx.client_for(api))
        except VaultError as err:
            seen += "; its API %s did not answer the controller (%s)" % (api, err)
        else:
            if other["mode"] != "primary":
                return
            seen += " and its API %s answers as an active primary (%s)" % (api, dr.describe(other))
    raise ModuleFailure(
        "dr_secondary state=promoted on %s: refused before any write, since the current primary %s is %s; promoting "
        "now would leave two active DR primaries. For a planned failover demote it first (vaultops.dr.dr_primary "
        "state=demoted). If it is really gone or fenced and only this cluster still sees it, set "
        "allow_two_primaries=true." % (ctx.params["url"], ", ".join(sorted(dr.primary_addrs(before["raw"]))) or "?",
                                       seen),
        status=before, mode_before=before["mode"])


SPEC = SecondaryModule()


# The write that shows the new primary serves clients again (the end of a failover's RTO). Cubbyhole is the
# token's own storage: the write touches nothing any other client sees.
WRITE_CHECK_PATH = "cubbyhole/vaultops-dr/write-check"


def _can_authenticate(p: Mapping[str, Any]) -> bool:
    method = p.get("auth_method") or "token"
    return method not in ("token", "none") or (method == "token" and bool(p.get("token")))


def wait_for_writes(ctx: RunContext, answered_at: float) -> Dict[str, Any]:
    """Write WRITE_CHECK_PATH with the module's token until the new primary accepts it, polling as the status waits
    do (0.2 s doubling to 2 s) within wait_timeout. A refusal that waiting cannot change (403) fails at once."""
    p, client = ctx.params, ctx.client

    def write() -> Any:
        return client.write(WRITE_CHECK_PATH, {"written_at": datetime.now(timezone.utc).isoformat()}, retries=0)

    try:
        dr.wait_for(write, lambda _answer: True, p["wait_timeout"], what="the new primary to accept a write to "
                    + WRITE_CHECK_PATH, where=str(p["url"]), first_interval=dr.FAST_FIRST_INTERVAL)
    except VaultError as err:
        raise ModuleFailure(
            "dr_secondary state=promoted on %s: the cluster was promoted, but it refused the write that checks it "
            "accepts writes (%s). Check that token is valid on it: after a promotion the old primary's tokens are, "
            "a token of this cluster from before it became a secondary is not." % (p["url"], explain(err).rstrip(".")),
            http_status=err.status, vault_errors=err.errors) from None
    accepted_at = time.time()
    return {"promoted_at": answered_at, "writes_accepted_at": accepted_at,
            "writes_accepted_after": round(accepted_at - answered_at, 3)}


DEMOTED_NOT_PROMOTED = ("The old primary %s was demoted by this run (or before it), so no cluster is a DR primary until "
                        "a promotion succeeds: fix the cause and run again, it finds the demotion done.")


def check_demotion(ctx: RunContext, before: StatusSummary) -> None:
    """Before any write: demote_primary must answer, and be the primary this secondary replicates from (the
    same DR cluster_id) or already demoted from it; anything else is refused, so no other cluster is demoted."""
    url = str(ctx.params["demote_primary"])
    if ctx.authenticated_client_for is None:  # a context without module (never from dr_secondary)
        raise ModuleFailure("demote_primary needs a client for another cluster, which this run has none of.")
    client = ctx.authenticated_client_for(url)
    try:
        old = dr.read_status(client)
    except VaultError as err:
        raise ModuleFailure(
            "dr_secondary state=promoted on %s: refused before any write, since demote_primary %s does not answer "
            "(%s): a planned failover demotes it first. If it is down or fenced, promote without demote_primary "
            "(an unplanned failover)." % (ctx.params["url"], url, explain(err).rstrip(".")),
            status=before, mode_before=before["mode"]) from None
    same_set = old["cluster_id"] and old["cluster_id"] == before["cluster_id"]
    if old["mode"] not in ("primary", "secondary") or not same_set:
        raise ModuleFailure(
            "dr_secondary state=promoted on %s: refused before any write, since demote_primary %s is %s (DR "
            "cluster_id %s), not the primary this secondary replicates from (cluster_id %s). Nothing was demoted: "
            "give the old primary's API address." % (ctx.params["url"], url, dr.describe(old),
                                                     old["cluster_id"] or "none", before["cluster_id"] or "none"),
            status=before, mode_before=before["mode"])
    ctx.notes["old_primary"] = old
    ctx.notes["old_primary_client"] = client


def demote_old_primary(ctx: RunContext) -> Dict[str, Any]:
    """Demote demote_primary as vaultops.dr.dr_primary state=demoted does (a lost answer settled by its status,
    waiting until it shows mode secondary); return that module's result."""
    p = ctx.params
    params = {"state": "demoted", "url": p["demote_primary"], "wait": True, "wait_timeout": p["wait_timeout"],
              "primary_cluster_addr": None}
    demote = RunContext(ctx.notes["old_primary_client"], params, warn=ctx.warn, client_for=ctx.client_for)
    failed_first = "dr_secondary state=promoted on %s: demoting demote_primary first failed, so this cluster was not " \
                   "promoted: %s"
    try:
        result = PRIMARY.run(demote, before=ctx.notes["old_primary"])  # check_demotion's read, just before
    except ModuleFailure as failure:
        raise ModuleFailure(failed_first % (p["url"], failure.msg), http_status=failure.result.get("http_status"),
                            vault_errors=failure.result.get("vault_errors", [])) from None
    except VaultError as err:
        raise ModuleFailure(failed_first % (p["url"], explain(err)), http_status=err.status,
                            vault_errors=err.errors) from None
    return {k: result[k] for k in ("changed", "mode_before", "status", "waited") if k in result}
