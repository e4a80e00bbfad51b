# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DR replication as every module of this collection sees it: the status summary and health
judgement (from `_dr_status`), the DR API calls (from `_dr_api`), the wait loop with a deadline,
and the failures the modules share. Modules import this one module as `dr`.

Decisions are made from the cluster's status, never from Vault's error texts: those are not
public and change between releases.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import time

from typing import TYPE_CHECKING, Any, Callable, Optional, Tuple

from ansible_collections.vaultops.dr.plugins.module_utils._client import VaultClient, VaultError, VaultResponse
# The facade: every name below is part of what `dr.` offers the modules and tests.
from ansible_collections.vaultops.dr.plugins.module_utils._dr_api import (  # noqa: F401
    PRIMARY,
    SECONDARY,
    ConfirmedByStatus,
    demote_primary,
    disable_primary,
    disable_secondary,
    enable_primary,
    enable_secondary,
    issue_secondary_token,
    promote_secondary,
    revoke_secondary,
    update_primary,
)
from ansible_collections.vaultops.dr.plugins.module_utils._dr_status import (  # noqa: F401
    BAD_STATES,
    HEALTHY_STATES,
    HOW_TO_PROMOTE,
    MODES,
    STATUS_PATH,
    SYNCING_STATES,
    as_bool,
    as_int,
    catch_up_lag,
    describe,
    follows,
    is_healthy,
    is_syncing,
    normalise_addr,
    normalise_mode,
    primary_addrs,
    primary_api_addr,
    primary_connected,
    read_status,
    read_version,
    secondary_connected,
    secondary_entry,
    summarise,
    wal_position,
)
from ansible_collections.vaultops.dr.plugins.module_utils._errors import ModuleFailure, explain

if TYPE_CHECKING:
    from ansible_collections.vaultops.dr.plugins.module_utils._dr_status import StatusSummary

# What `dr.` offers: the names defined here and those re-exported from _dr_status and _dr_api.
__all__ = [
    "BAD_STATES",
    "ConfirmedByStatus",
    "FAST_FIRST_INTERVAL",
    "HEALTHY_STATES",
    "HOW_TO_PROMOTE",
    "MODES",
    "PRIMARY",
    "SECONDARY",
    "STATUS_PATH",
    "SYNCING_STATES",
    "WrongMode",
    "as_bool",
    "as_int",
    "catch_up_lag",
    "demote_primary",
    "describe",
    "diff",
    "disable_primary",
    "disable_secondary",
    "enable_primary",
    "enable_secondary",
    "fail_for",
    "follows",
    "is_healthy",
    "is_syncing",
    "issue_secondary_token",
    "normalise_addr",
    "normalise_mode",
    "primary_addrs",
    "primary_api_addr",
    "primary_connected",
    "promote_secondary",
    "read_status",
    "read_version",
    "report_lost_answers",
    "revoke_secondary",
    "secondary_connected",
    "secondary_entry",
    "summarise",
    "update_primary",
    "wait_for",
    "wait_for_status",
    "wal_position",
    "wrong_mode",
]


# -- waiting ---------------------------------------------------------------------------------
def _worth_waiting(err: VaultError) -> bool:
    # No answer (restarting), sealed/standby/catching up (503), index not yet present (412),
    # rate limited (429) or a proxy in between (502/504): status will come back.
    return err.status is None or err.status in (412, 429, 500, 502, 503, 504)


# Waits after a change poll fast first, so a wait ends soon after the server is ready (this is
# most of a failover's RTO), then settle at their interval: 0.2, 0.4, 0.8, 1.6, 2, 2, ... s.
FAST_FIRST_INTERVAL = 0.2


def wait_for(read_fn: Callable[[], Any], predicate: Callable[[Any], bool], timeout: float, interval: float = 2,
             what: str = "the asked state", where: Optional[str] = None,
             clock: Optional[Callable[[], float]] = None, sleep: Optional[Callable[[float], None]] = None,
             first_interval: Optional[float] = None, give_up: Optional[Callable[[Any], Optional[str]]] = None
             ) -> Tuple[Any, float]:
    """Read status with `read_fn()` until `predicate(summary)` holds or `timeout` s pass.

    `first_interval`: start polling at this interval and double it up to `interval`.
    `give_up(summary)`: a reason why the wait cannot succeed (then fail at once), or None.
    Returns (summary, waited_seconds). On timeout raises ModuleFailure naming the last
    status seen (or the last error) so the operator sees where the cluster got stuck.
    """
    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    start = clock()
    deadline = start + max(0, timeout)
    last, last_error = None, None
    step = min(first_interval, interval) if first_interval else interval
    while True:
        try:
            last, last_error = read_fn(), None
            if predicate(last):
                return last, round(clock() - start, 1)
            reason = give_up(last) if give_up else None
            if reason:
                raise ModuleFailure("Waiting for %s%s cannot succeed: %s" % (
                    what, " on %s" % where if where else "", reason), status=last, waited=round(clock() - start, 1))
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
        sleep(max(0.0, min(step, deadline - now)))
        step = min(step * 2, interval)


def wait_for_status(client: VaultClient, reached: Callable[[StatusSummary], bool], what: str, timeout: float,
                    interval: float = 2, first_interval: Optional[float] = None,
                    give_up: Optional[Callable[[StatusSummary], Optional[str]]] = None) -> Tuple[StatusSummary, float]:
    """wait_for() on `client`'s cluster: until `reached(summary)`, at most `timeout` s."""
    return wait_for(lambda: read_status(client), reached, timeout, interval, what=what, where=client.url,
                    first_interval=first_interval, give_up=give_up)


# -- helpers the modules share ----------------------------------------------------------------
def report_lost_answers(warn: Callable[[str], None], *responses: Optional[VaultResponse]) -> None:
    """Warn (with the `warn` callback) about each POST whose lost answer the status confirmed."""
    for resp in responses:
        note = getattr(resp, "note", None)
        if note:
            warn(note)


class WrongMode(Exception):
    """The cluster is in a mode the asked state cannot start from; `todo` says what to do."""

    def __init__(self, todo: str) -> None:
        super().__init__(todo)
        self.todo = todo


def wrong_mode(module_name: str, asked: str, url: str, summary: StatusSummary, todo: str) -> ModuleFailure:
    """The failure for a cluster in the wrong mode: module, asked state, cluster, its status, what to do."""
    return ModuleFailure("%s %s on %s: the cluster is %s; %s" % (module_name, asked, url, describe(summary), todo),
                         status=summary, mode_before=summary["mode"])


def fail_for(module_name: str, asked: str, url: str, err: VaultError, hint: Optional[str] = None) -> ModuleFailure:
    """A VaultError from a DR call as a ModuleFailure naming module, asked state and cluster."""
    msg = "%s %s on %s: %s" % (module_name, asked, url, explain(err))
    if hint:
        msg += " " + hint
    return ModuleFailure(msg, http_status=err.status, vault_errors=err.errors)


def diff(before_mode: str, after_mode: str) -> dict:
    return {"before": {"mode": before_mode}, "after": {"mode": after_mode}}
