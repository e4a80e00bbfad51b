# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dr_secondary_token on the state skeleton: its decision table, the cut-off guard, calls and waits.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Tuple

from ansible_collections.vaultops.dr.plugins.module_utils import _replication as dr
from ansible_collections.vaultops.dr.plugins.module_utils._errors import ModuleFailure
from ansible_collections.vaultops.dr.plugins.module_utils._state import ACT, NO_CHANGE, Refuse, StateModule, Table

if TYPE_CHECKING:
    from ansible_collections.vaultops.dr.plugins.module_utils._client import VaultError
    from ansible_collections.vaultops.dr.plugins.module_utils._diff import DifferenceTracker
    from ansible_collections.vaultops.dr.plugins.module_utils._dr_status import StatusSummary
    from ansible_collections.vaultops.dr.plugins.module_utils._state import RunContext

SUDO_HINT = ("Issuing a secondary token needs a Vault token with sudo capability on "
             "sys/replication/dr/primary/secondary-token.")
ONLY_ON_PRIMARY = Refuse(
    "activation tokens are issued and revoked on the DR primary only. Run this against the primary, "
    "or make this cluster one first (vaultops.dr.dr_primary state=enabled, or " + dr.HOW_TO_PROMOTE + ").")

# Tokens exist only on a primary; on a disabled cluster nothing can be known or revoked.
TABLE: Table = {("present", mode): ONLY_ON_PRIMARY for mode in dr.MODES}
TABLE.update({("absent", mode): ONLY_ON_PRIMARY for mode in dr.MODES})
TABLE.update({
    ("present", "primary"): ACT,  # unless the id is known and force is not set (refine)
    ("absent", "primary"): ACT,  # unless the id is not known (refine)
    ("absent", "disabled"): NO_CHANGE,
})


def plan(p: Mapping[str, Any], before: StatusSummary) -> Tuple[bool, bool]:
    """(revoke, issue) for the id on a primary."""
    known = p["id"] in before["known_secondaries"]
    if p["state"] == "present":
        return known and p["force"], (not known) or p["force"]
    return known, False


class SecondaryTokenModule(StateModule):
    name = "dr_secondary_token"
    table = TABLE
    # The revocation wait keeps its fixed interval: a revocation shows at the next status read.
    first_interval = None

    def asked(self, p: Mapping[str, Any]) -> str:
        return "id=%s state=%s" % (p["id"], p["state"])

    def refine(self, p: Mapping[str, Any], before: StatusSummary) -> bool:
        revoke, issue = plan(p, before)
        return revoke or issue

    def guard(self, ctx: RunContext, before: StatusSummary) -> None:
        p = ctx.params
        revoke, issue = plan(p, before)
        if not (revoke and issue) or p.get("allow_cut_off"):
            return
        entry = dr.secondary_entry(before, p["id"])
        if entry is None or entry.get("connection_status") != "connected":
            return
        raise ModuleFailure(
            "dr_secondary_token %s on %s: refused before any write, since secondary %s is connected to this primary "
            "(connection_status connected%s). force=true would revoke the credential it streams with and cut it off "
            "until it is re-attached with the new token. It needs no new token; if cutting it off is meant (its "
            "activation is to be redone), set allow_cut_off=true." % (
                self.asked(p), p["url"], p["id"],
                ", last heartbeat %s" % entry["last_heartbeat"] if entry.get("last_heartbeat") else ""),
            status=before)

    def call(self, ctx: RunContext, before: StatusSummary) -> Any:
        p = ctx.params
        revoke, issue = plan(p, before)
        if revoke:
            dr.report_lost_answers(ctx.warn, dr.revoke_secondary(ctx.client, p["id"]))
        if issue:
            return dr.issue_secondary_token(ctx.client, p["id"], p["ttl"], p["secondary_public_key"])
        return []

    def error_hint(self, p: Mapping[str, Any], err: VaultError, before: StatusSummary) -> Optional[str]:
        return SUDO_HINT if plan(p, before)[1] and err.status == 403 else None

    # An issued token in hand proves the issue; only a revocation is worth waiting for.
    def wait_after_call(self, p: Mapping[str, Any]) -> bool:
        return p["state"] == "absent"

    def wait_untouched(self, p: Mapping[str, Any], before: StatusSummary) -> bool:
        return False

    def reached(self, p: Mapping[str, Any]) -> Callable[[StatusSummary], bool]:
        sid = p["id"]
        return lambda s: sid not in s["known_secondaries"]

    def what(self, p: Mapping[str, Any]) -> str:
        return "id %s to be gone from known_secondaries" % p["id"]

    def base_result(self, p: Mapping[str, Any], before: StatusSummary, act: bool) -> Dict[str, Any]:
        return {"changed": act, "id": p["id"], "status": before}

    def track(self, diff: DifferenceTracker, p: Mapping[str, Any], before: StatusSummary, act: bool) -> None:
        sid, known = p["id"], p["id"] in before["known_secondaries"]
        revoke, issue = plan(p, before) if act else (False, False)
        diff.add("id", sid, sid, always=True)
        diff.add("known", known, (known and not revoke) or issue, always=True)
        if revoke and issue:
            # `known` stays true on a forced re-issue: say what does change.
            diff.add("activation", "issued earlier", "revoked and issued again")
        known_before = sorted(before["known_secondaries"])
        known_after = sorted((set(known_before) - {sid}) | ({sid} if (known and not revoke) or issue else set()))
        diff.add("known_secondaries", known_before, known_after)


SPEC = SecondaryTokenModule()
