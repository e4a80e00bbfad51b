# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dr_primary on the state skeleton: its decision table, calls and waits.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

from ansible_collections.vaultops.dr.plugins.module_utils import _replication as dr
from ansible_collections.vaultops.dr.plugins.module_utils._state import ACT, NO_CHANGE, Refuse, StateModule, Table

if TYPE_CHECKING:
    from ansible_collections.vaultops.dr.plugins.module_utils._diff import DifferenceTracker
    from ansible_collections.vaultops.dr.plugins.module_utils._dr_status import StatusSummary
    from ansible_collections.vaultops.dr.plugins.module_utils._state import RunContext

TARGET = {"enabled": "primary", "demoted": "secondary", "disabled": "disabled"}
WHAT = {"enabled": "mode primary, state running", "demoted": "mode secondary", "disabled": "mode disabled"}

# (asked state, current mode) -> outcome. Modes left out (bootstrapping, unknown) are refused
# with "wait until dr_status shows a mode this module can act on".
TABLE: Table = {
    ("enabled", "primary"): NO_CHANGE,
    ("enabled", "disabled"): ACT,
    ("enabled", "secondary"): Refuse(
        "a DR secondary cannot be enabled as a primary; to make it the primary, " + dr.HOW_TO_PROMOTE
        + " (demote the current primary first)."),
    ("demoted", "secondary"): NO_CHANGE,
    ("demoted", "primary"): ACT,
    ("demoted", "disabled"): Refuse(
        "only a DR primary can be demoted and DR replication is disabled here; enable it with "
        "vaultops.dr.dr_primary state=enabled, or make it a secondary with vaultops.dr.dr_secondary state=enabled."),
    ("disabled", "disabled"): NO_CHANGE,
    ("disabled", "primary"): ACT,
    ("disabled", "secondary"): Refuse(
        "this module disables DR primaries only; disable a secondary with vaultops.dr.dr_secondary "
        "state=disabled (it needs a DR operation token)."),
}


class PrimaryModule(StateModule):
    name = "dr_primary"
    table = TABLE

    def reached(self, p: Mapping[str, Any]) -> Callable[[StatusSummary], bool]:
        state = p["state"]
        if state == "enabled":
            return lambda s: s["mode"] == "primary" and (s["state"] or "").lower() == "running"
        return lambda s: s["mode"] == TARGET[state]

    def what(self, p: Mapping[str, Any]) -> str:
        return WHAT[p["state"]]

    def call(self, ctx: RunContext, before: StatusSummary) -> Any:
        client, p = ctx.client, ctx.params
        if p["state"] == "enabled":
            return dr.enable_primary(client, p["primary_cluster_addr"])
        if p["state"] == "demoted":
            return dr.demote_primary(client)
        return dr.disable_primary(client)

    def error_hint(self, p: Mapping[str, Any], err: Any, before: StatusSummary) -> str:
        return "The cluster was %s before the call." % dr.describe(before)

    def track(self, diff: DifferenceTracker, p: Mapping[str, Any], before: StatusSummary, act: bool) -> None:
        diff.add("mode", before["mode"], TARGET[p["state"]] if act else before["mode"], always=True)
        if act and p["state"] == "enabled":
            diff.add("state", before["state"], "running")
        if act and p["state"] in ("demoted", "disabled"):
            # The secondaries it served lose their primary: the diff names them.
            diff.add("known_secondaries", sorted(before["known_secondaries"]), [])

    def untouched(self, ctx: RunContext, before: StatusSummary) -> None:
        p = ctx.params
        if p["state"] == "enabled" and p["primary_cluster_addr"]:
            current = before["raw"].get("primary_cluster_addr")
            current = current.strip() if isinstance(current, str) else ""
            if current and dr.normalise_addr(current) != dr.normalise_addr(p["primary_cluster_addr"]):
                ctx.warn("The primary gives secondaries %s, not %s; an existing primary is not re-enabled to change "
                         "it (that would change its cluster id)." % (current, p["primary_cluster_addr"]))


SPEC = PrimaryModule()
