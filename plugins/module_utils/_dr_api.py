# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DR API's state-changing calls as small functions, each sent once: when its answer is
lost, the status read afterwards decides whether it took effect (it is never replayed).

No Ansible imports. Private to this collection: the API may change without notice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from ansible_collections.vaultops.dr.plugins.module_utils._client import VaultAnswerLost, VaultClient, VaultError, VaultResponse
from ansible_collections.vaultops.dr.plugins.module_utils._dr_status import (
    as_int,
    describe,
    normalise_addr,
    primary_addrs,
    read_status,
)
from ansible_collections.vaultops.dr.plugins.module_utils._errors import ModuleFailure, explain

if TYPE_CHECKING:
    from ansible_collections.vaultops.dr.plugins.module_utils._dr_status import StatusSummary

PRIMARY = "sys/replication/dr/primary/"
SECONDARY = "sys/replication/dr/secondary/"


class ConfirmedByStatus(VaultResponse):
    """Stands for the answer of a state-changing POST that was lost but whose effect the
    status read afterwards shows."""

    def __init__(self, method: str, path: str) -> None:
        super().__init__(None, None)
        self.note = ("The answer to %s %s was lost, but the cluster's DR status shows it took effect; "
                     "it was not sent again." % (method, path))


def _status_after_loss(client: VaultClient, lost: VaultAnswerLost) -> StatusSummary:
    """Read status after a lost answer; fail saying so when even that is impossible."""
    try:
        return read_status(client)
    except VaultError as err:
        raise ModuleFailure(
            "%s Reading the DR status afterwards failed too (%s), so whether it took effect is "
            "unknown: check with vaultops.dr.dr_status before running again." % (explain(lost), err),
            http_status=None, vault_errors=[]) from None


def _post(client: VaultClient, path: str, body: Dict[str, Any], auth: str,
          took_effect: Callable[[StatusSummary], bool], after_loss: Optional[str] = None) -> VaultResponse:
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


def _drop_empty(body: Dict[str, Any]) -> Dict[str, Any]:
    """Leave out options the user did not set, so Vault applies its own defaults."""
    return {k: v for k, v in body.items() if v not in (None, "", [])}


def enable_primary(client: VaultClient, primary_cluster_addr: Optional[str] = None) -> VaultResponse:
    return _post(client, PRIMARY + "enable", _drop_empty({"primary_cluster_addr": primary_cluster_addr}),
                 "required", lambda s: s["mode"] == "primary")


def demote_primary(client: VaultClient) -> VaultResponse:
    return _post(client, PRIMARY + "demote", {}, "required", lambda s: s["mode"] == "secondary")


def disable_primary(client: VaultClient) -> VaultResponse:
    return _post(client, PRIMARY + "disable", {}, "required", lambda s: s["mode"] == "disabled")


def issue_secondary_token(client: VaultClient, secondary_id: str, ttl: Optional[str] = None,
                          secondary_public_key: Optional[str] = None) -> Dict[str, Any]:
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


def revoke_secondary(client: VaultClient, secondary_id: str) -> VaultResponse:
    return _post(client, PRIMARY + "revoke-secondary", {"id": secondary_id}, "required",
                 lambda s: secondary_id not in s["known_secondaries"])


def enable_secondary(client: VaultClient, activation_token: str, primary_api_addr: Optional[str] = None,
                     ca_file: Optional[str] = None, ca_path: Optional[str] = None) -> VaultResponse:
    """Secondary enable WIPES the cluster: called only on a cluster whose mode is disabled."""
    body = _drop_empty({"token": activation_token, "primary_api_addr": primary_api_addr,
                        "ca_file": ca_file, "ca_path": ca_path})
    return _post(client, SECONDARY + "enable", body, "required",
                 lambda s: s["mode"] in ("secondary", "bootstrapping"),
                 "It was not sent again. Activation tokens are single-use: if the status shows it later, "
                 "nothing is left to do; otherwise issue a new token (vaultops.dr.dr_secondary_token force=true).")


# On a DR secondary these endpoints authenticate by the DR operation token in the body; a
# Vault token is sent only when one is at hand (auth="optional"), never logged in for.
def promote_secondary(client: VaultClient, dr_operation_token: str, primary_cluster_addr: Optional[str] = None,
                      force: bool = False) -> VaultResponse:
    body = _drop_empty({"dr_operation_token": dr_operation_token, "primary_cluster_addr": primary_cluster_addr})
    if force:
        body["force"] = True
    return _post(client, SECONDARY + "promote", body, "optional", lambda s: s["mode"] == "primary")


def update_primary(client: VaultClient, dr_operation_token: str, activation_token: Optional[str] = None,
                   update_primary_addrs: Optional[List[str]] = None, primary_api_addr: Optional[str] = None,
                   ca_file: Optional[str] = None, ca_path: Optional[str] = None,
                   primary_cluster_addr: Optional[str] = None) -> VaultResponse:
    body = _drop_empty({"dr_operation_token": dr_operation_token, "token": activation_token,
                        "update_primary_addrs": update_primary_addrs, "primary_api_addr": primary_api_addr,
                        "ca_file": ca_file, "ca_path": ca_path})

    def took_effect(summary: StatusSummary) -> bool:
        # Without the address to follow, the status cannot tell an old primary from a new one.
        return bool(primary_cluster_addr) and normalise_addr(primary_cluster_addr or "") in primary_addrs(summary["raw"])

    return _post(client, SECONDARY + "update-primary", body, "optional", took_effect,
                 "It was not sent again. Activation tokens are single-use: issue a new one for this secondary "
                 "(vaultops.dr.dr_secondary_token force=true) and run again.")


def disable_secondary(client: VaultClient, dr_operation_token: str) -> VaultResponse:
    return _post(client, SECONDARY + "disable", {"dr_operation_token": dr_operation_token}, "optional",
                 lambda s: s["mode"] == "disabled")
