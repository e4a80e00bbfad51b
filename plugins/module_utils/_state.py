# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one skeleton of the state-changing DR modules, written once:

read status → decide from the module's table → refuse with how-to → guards → check mode →
diff → call → lost-answer handling → wait.

Each module is a `StateModule` subclass: its decision table `(asked state, current mode) ->
NO_CHANGE | ACT | Refuse(how-to)` and the few hooks where modules differ. No Ansible imports:
the base class in `_module.py` hands in a `RunContext` of plain values.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from ansible_collections.vaultops.dr.plugins.module_utils import _replication as dr
from ansible_collections.vaultops.dr.plugins.module_utils._client import VaultClient, VaultError
from ansible_collections.vaultops.dr.plugins.module_utils._diff import DifferenceTracker
from ansible_collections.vaultops.dr.plugins.module_utils._errors import ModuleFailure

if TYPE_CHECKING:
    from ansible_collections.vaultops.dr.plugins.module_utils._dr_status import StatusSummary

NO_CHANGE = "no change"
ACT = "act"


class Refuse:
    """A table entry: this mode cannot start the asked state; `todo` says what to do instead."""

    def __init__(self, todo: str) -> None:
        self.todo = todo

    def __repr__(self) -> str:
        return "Refuse(%r)" % self.todo


Outcome = Union[str, Refuse]
Table = Dict[Tuple[str, str], Outcome]

# Any (state, mode) a table leaves out: bootstrapping/unknown are on their way somewhere.
NOT_NOW = Refuse("the mode is not one this module can act on; wait until vaultops.dr.dr_status shows "
                 "primary, secondary or disabled, then run again.")


def decide(table: Table, state: str, mode: str) -> Outcome:
    """The table's outcome for (state, mode); modes it does not name are refused with NOT_NOW."""
    return table.get((state, mode), NOT_NOW)


class RunContext:
    """What the skeleton needs of a module run, as plain values (no AnsibleModule)."""

    def __init__(self, client: VaultClient, params: Mapping[str, Any], check_mode: bool = False,
                 diff: bool = False, warn: Optional[Callable[[str], None]] = None,
                 client_for: Optional[Callable[[str], VaultClient]] = None,
                 authenticated_client_for: Optional[Callable[[str], VaultClient]] = None) -> None:
        self.client = client
        self.params = params
        self.check_mode = check_mode
        self.diff = diff
        self.warn = warn or (lambda _msg: None)
        # An unauthenticated client for another cluster (with this run's TLS, timeout, retries).
        self.client_for = client_for
        # The same, sending this run's token.
        self.authenticated_client_for = authenticated_client_for
        # What a module's hooks found out in this run and need again later (for example the guard's reads).
        self.notes: Dict[str, Any] = {}


class StateModule:
    """One state-changing module. Subclasses set `name` and `table` and override the hooks."""

    name = ""
    table: Table = {}
    # Waits after a change poll fast first (see _replication.FAST_FIRST_INTERVAL).
    first_interval: Optional[float] = dr.FAST_FIRST_INTERVAL
    interval = 2.0

    # -- hooks -------------------------------------------------------------------------------
    def asked(self, p: Mapping[str, Any]) -> str:
        return "state=%s" % p["state"]

    def refine(self, p: Mapping[str, Any], before: StatusSummary) -> bool:
        """Given the table said ACT: True when a call is really needed (False: already there)."""
        return True

    def guard(self, ctx: RunContext, before: StatusSummary) -> None:
        """Raise ModuleFailure to refuse a call that the table allows but the status makes unsafe."""

    def missing(self, p: Mapping[str, Any]) -> List[str]:
        """Options the call needs that were not given (checked only when acting)."""
        return []

    how_to_get: Dict[str, str] = {}

    def call(self, ctx: RunContext, before: StatusSummary) -> Any:
        """Send the write(s); return a VaultResponse (or a list of them) or a dict to merge into the result."""
        raise NotImplementedError

    def error_hint(self, p: Mapping[str, Any], err: VaultError, before: StatusSummary) -> Optional[str]:
        """What to add to a refused call's message (Vault's refusal is explained already)."""
        return None

    def reached(self, p: Mapping[str, Any]) -> Callable[[StatusSummary], bool]:
        raise NotImplementedError

    def what(self, p: Mapping[str, Any]) -> str:
        return "the asked state"

    def give_up(self, p: Mapping[str, Any]) -> Optional[Callable[[StatusSummary], Optional[str]]]:
        """A check that says why the wait cannot succeed (then it fails at once), or None."""
        return None

    def wait_untouched(self, p: Mapping[str, Any], before: StatusSummary) -> bool:
        """Without a call: wait anyway when an earlier run left the cluster on its way there."""
        return not self.reached(p)(before)

    def wait_after_call(self, p: Mapping[str, Any]) -> bool:
        return True

    def untouched(self, ctx: RunContext, before: StatusSummary) -> None:
        """Called when no call is needed (for warnings about a cluster left as it is)."""

    def after_change(self, ctx: RunContext, result: Dict[str, Any], answered_at: float) -> None:
        """Called after a call and its wait (not in check mode); `answered_at` is when the call was answered."""

    def base_result(self, p: Mapping[str, Any], before: StatusSummary, act: bool) -> Dict[str, Any]:
        return {"changed": act, "mode_before": before["mode"], "status": before, "waited": 0}

    def track(self, diff: DifferenceTracker, p: Mapping[str, Any], before: StatusSummary, act: bool) -> None:
        """Add the fields this module changes (before, predicted after) to `diff`."""

    def track_run(self, ctx: RunContext, diff: DifferenceTracker, before: StatusSummary, act: bool) -> None:
        """`track`, for a module whose diff also needs what its guard read (ctx.notes)."""
        self.track(diff, ctx.params, before, act)

    def before_call(self, ctx: RunContext, before: StatusSummary) -> None:
        """Writes that must come first, right before the call (never in check mode)."""

    def refuse(self, p: Mapping[str, Any], before: StatusSummary, todo: str) -> ModuleFailure:
        return dr.wrong_mode(self.name, self.asked(p), str(p["url"]), before, todo)

    # -- the skeleton ------------------------------------------------------------------------
    def outcome(self, p: Mapping[str, Any], before: StatusSummary) -> Outcome:
        outcome = decide(self.table, p["state"], before["mode"])
        if outcome == ACT and not self.refine(p, before):
            return NO_CHANGE
        return outcome

    def run(self, ctx: RunContext, before: Optional[StatusSummary] = None) -> Dict[str, Any]:
        """`before`: the cluster's status when the caller has just read it (it is read otherwise)."""
        p, client = ctx.params, ctx.client
        url = str(p["url"])
        if before is None:
            before = dr.read_status(client)
        outcome = self.outcome(p, before)
        if isinstance(outcome, Refuse):
            raise self.refuse(p, before, outcome.todo)
        act = outcome == ACT
        if act:
            self._check_missing(ctx, before)
            self.guard(ctx, before)

        result = self.base_result(p, before, act)
        if ctx.diff:
            tracker = DifferenceTracker()
            self.track_run(ctx, tracker, before, act)
            result["diff"] = tracker.as_diff()
        if ctx.check_mode:
            return result

        if act:
            self.before_call(ctx, before)
            try:
                answer = self.call(ctx, before)
            except VaultError as err:
                raise dr.fail_for(self.name, self.asked(p), url, err, self.error_hint(p, err, before)) from None
            answered_at = time.time()
            if isinstance(answer, dict):
                result.update(answer)
            else:
                dr.report_lost_answers(ctx.warn, *(answer if isinstance(answer, list) else [answer]))
        else:
            self.untouched(ctx, before)
        if p.get("wait") and ((act and self.wait_after_call(p)) or (not act and self.wait_untouched(p, before))):
            result["status"], waited = dr.wait_for_status(
                client, self.reached(p), self.what(p), p["wait_timeout"], self.interval,
                first_interval=self.first_interval, give_up=self.give_up(p))
            if "waited" in result:
                result["waited"] = waited
        elif act:
            result["status"] = dr.read_status(client)
        if act:
            self.after_change(ctx, result, answered_at)
        return result

    def _check_missing(self, ctx: RunContext, before: StatusSummary) -> None:
        missing = self.missing(ctx.params)
        if not missing:
            return
        if ctx.check_mode:
            # A check run of a whole playbook has no token from an earlier task; predict, don't fail.
            ctx.warn("A real run needs %s on %s." % (" and ".join(missing), ctx.params["url"]))
            return
        raise ModuleFailure("%s %s on %s: the cluster is %s, so the call is needed and it needs %s. %s" % (
            self.name, self.asked(ctx.params), ctx.params["url"], dr.describe(before), " and ".join(missing),
            self.how_to_get.get(missing[0], "")), status=before, mode_before=before["mode"])
