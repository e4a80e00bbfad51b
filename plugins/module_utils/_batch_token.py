# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Batch DR operation tokens, made on the DR primary: an ACL policy, a token role, and a batch token
from that role, each read, compared and written only when it differs.

HashiCorp's recipe (Enos scenario): token role `orphan=true`, `renewable=false`, `token_type=batch`;
policy `update` on `sys/replication/dr/secondary/promote` and `.../update-primary`, and on integrated
storage `read`/`update` on `sys/storage/raft/autopilot/state`. The token replicates to every DR
secondary, where promote and update-primary accept it as `dr_operation_token`. Batch tokens cannot be
renewed or revoked: they are rotated before their TTL runs out (`min_ttl`).

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import datetime

from ansible_collections.vaultops.dr.plugins.module_utils._client import VaultAnswerLost, VaultError
from ansible_collections.vaultops.dr.plugins.module_utils._errors import ModuleFailure, explain
from ansible_collections.vaultops.dr.plugins.module_utils._inputs import parse_duration  # noqa: F401 - part of this API
from ansible_collections.vaultops.dr.plugins.module_utils import _replication as dr

POLICY_PATH = "sys/policies/acl/"
ROLE_PATH = "auth/token/roles/"
CREATE_PATH = "auth/token/create/"
LOOKUP_PATH = "auth/token/lookup"
RAFT_CONFIG_PATH = "sys/storage/raft/configuration"

PROMOTE = dr.SECONDARY + "promote"
UPDATE_PRIMARY = dr.SECONDARY + "update-primary"
AUTOPILOT_STATE = "sys/storage/raft/autopilot/state"

MODULE = "dr_batch_token"
# The fields of the token role this module manages, and what they must be.
ROLE_FIELDS = ("allowed_policies", "orphan", "renewable", "token_type")


# -- small pure helpers ------------------------------------------------------------------------
def human_duration(seconds):
    """`604800` → `168h`, `5400` → `1h30m`, `59` → `59s`."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append("%dh" % hours)
    if minutes:
        parts.append("%dm" % minutes)
    if secs or not parts:
        parts.append("%ds" % secs)
    return "".join(parts)


def policy_hcl(integrated_storage):
    """The policy text, always the same for the same input (so a re-run compares equal)."""
    rules = [(PROMOTE, ["update"]), (UPDATE_PRIMARY, ["update"])]
    if integrated_storage:
        rules.append((AUTOPILOT_STATE, ["read", "update"]))
    lines = ["# Managed by vaultops.dr (dr_batch_token): batch DR operation tokens for promote and update-primary."]
    for path, caps in rules:
        lines += ['path "%s" {' % path, "  capabilities = [%s]" % ", ".join('"%s"' % c for c in caps), "}"]
    return "\n".join(lines) + "\n"


def role_wanted(policy_name):
    return {"allowed_policies": [policy_name], "orphan": True, "renewable": False, "token_type": "batch"}


def role_view(data):
    """The managed fields of a token role as Vault answered them, or None when there is no role."""
    if data is None:
        return None
    policies = data.get("allowed_policies") or []
    return {
        "allowed_policies": sorted(str(p) for p in policies) if isinstance(policies, list) else [],
        "orphan": dr.as_bool(data.get("orphan")),
        "renewable": dr.as_bool(data.get("renewable")),
        "token_type": data.get("token_type") if isinstance(data.get("token_type"), str) else None,
    }


def role_differs(current, wanted):
    if current is None:
        return True
    return any(current.get(k) != (sorted(wanted[k]) if k == "allowed_policies" else wanted[k]) for k in ROLE_FIELDS)


def judge_current(info, policy_name, min_ttl):
    """Whether the token in use can stay: (keep, reason). `info` is its lookup data, None when invalid."""
    if info is None:
        return False, "the current token is not a valid token on this cluster"
    kind = info.get("type") or ("batch" if str(info.get("id", "")).startswith(("hvb.", "b.")) else "service")
    if kind != "batch":
        return False, "the current token is a %s token, not a batch token" % kind
    policies = info.get("policies") or []
    if policy_name not in policies:
        return False, "the current token does not carry the policy %s (it has %s)" % (
            policy_name, ", ".join(policies) or "none")
    ttl = dr.as_int(info.get("ttl")) or 0
    if ttl <= min_ttl:
        return False, "the current token has %s left, not above min_ttl %s" % (human_duration(ttl), human_duration(min_ttl))
    return True, "the current token is a batch token with policy %s and %s left, above min_ttl %s" % (
        policy_name, human_duration(ttl), human_duration(min_ttl))


def _utc_after(seconds):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return (now + datetime.timedelta(seconds=int(seconds))).isoformat().replace("+00:00", "Z")


# -- reads -------------------------------------------------------------------------------------
def _read_or_none(client, path):
    """GET `path`; None when Vault answers 404 (it does not exist)."""
    try:
        return client.read(path).data
    except VaultError as err:
        if err.status == 404:
            return None
        raise


def detect_integrated_storage(client):
    """(uses raft, note): `sys/storage/raft/configuration` answers on integrated storage only.
    When it cannot tell (permission denied), it says yes: the autopilot rule is harmless elsewhere."""
    try:
        client.read(RAFT_CONFIG_PATH)
        return True, None
    except VaultError as err:
        if err.status in (400, 404, 405) or err.has_error("raft storage is not in use"):
            return False, None
        if err.status == 403:
            return True, ("could not read %s (permission denied) to learn whether the cluster uses integrated "
                          "storage; the policy includes the autopilot rule (harmless otherwise). Set "
                          "integrated_storage to decide." % RAFT_CONFIG_PATH)
        raise


def lookup_token(client, token):
    """`auth/token/lookup` (a POST that changes nothing) of `token`; None when it is not a valid token."""
    try:
        return client.write(LOOKUP_PATH, data={"token": token}).data
    except VaultAnswerLost:
        # A lookup changes nothing: asking again is safe.
        return client.write(LOOKUP_PATH, data={"token": token}).data
    except VaultError as err:
        if err.status == 400 or (err.status == 403 and err.has_error("bad token")):
            return None
        raise


# -- the module's run --------------------------------------------------------------------------
def _fail(asked, url, err, hint=None):
    msg = "%s %s on %s: %s" % (MODULE, asked, url, explain(err))
    if hint:
        msg += " " + hint
    return ModuleFailure(msg, http_status=err.status, vault_errors=err.errors)


def _durations(p):
    try:
        return parse_duration(p["ttl"]), parse_duration(p["min_ttl"])
    except ValueError as exc:
        raise ModuleFailure("%s: %s" % (MODULE, exc)) from None


def run(ctx):
    """The whole module on a RunContext (plain values: client, params, check_mode, diff, warn)."""
    p = ctx.params
    client, url = ctx.client, p["url"]
    policy_name, role_name = p["policy_name"], p["role_name"]
    asked = "policy_name=%s role_name=%s" % (policy_name, role_name)
    ttl, min_ttl = _durations(p)
    if ttl <= min_ttl:
        raise ModuleFailure("%s: ttl %s must be longer than min_ttl %s, or every run would mint a new token." % (
            MODULE, p["ttl"], p["min_ttl"]))

    status = dr.read_status(client)
    if status["mode"] not in ("primary", "disabled"):
        raise dr.wrong_mode(
            MODULE, asked, url, status,
            "batch DR operation tokens are made on the DR primary (a DR secondary refuses policy, token-role and "
            "token calls, token lookups included). Run this against the primary: the token replicates to every "
            "DR secondary, which accepts it as dr_operation_token.")

    notes = []
    try:
        raft = p["integrated_storage"]
        if raft is None:
            raft, note = detect_integrated_storage(client)
            if note:
                notes.append(note)
        wanted_policy = policy_hcl(raft)
        current_policy = _read_or_none(client, POLICY_PATH + policy_name)
        current_policy = (current_policy or {}).get("policy") if current_policy is not None else None
        policy_changed = (current_policy or "").strip() != wanted_policy.strip()

        wanted_role = role_wanted(policy_name)
        current_role = role_view(_read_or_none(client, ROLE_PATH + role_name))
        role_changed = role_differs(current_role, wanted_role)

        current_info = lookup_token(client, p["current_token"]) if p["current_token"] else None
    except VaultError as err:
        hint = None
        if err.status == 403:
            hint = ("The Vault token needs read/update on %s*, %s* and update on %s (for example a root or admin "
                    "token on the primary)." % (POLICY_PATH, ROLE_PATH, LOOKUP_PATH))
        raise _fail(asked, url, err, hint) from None

    if p["current_token"]:
        keep, reason = judge_current(current_info, policy_name, min_ttl)
    else:
        keep, reason = False, "no current token was given"
    mint = not keep
    changed = policy_changed or role_changed or mint

    result = {
        "changed": changed,
        "minted": mint,
        "reason": ("mint a new token: " if mint else "keep it: ") + reason,
        "policy": {"name": policy_name, "changed": policy_changed, "rules": wanted_policy},
        "role": dict(wanted_role, name=role_name, changed=role_changed),
        "integrated_storage": bool(raft),
        "status": status,
    }
    if keep and current_info is not None:
        result["ttl"] = dr.as_int(current_info.get("ttl"))
        result["expire_time"] = current_info.get("expire_time")
    if ctx.diff:
        before_token = None
        if current_info is not None:
            before_token = {"type": current_info.get("type"), "ttl": dr.as_int(current_info.get("ttl"))}
        result["diff"] = {
            "before": {"policy": current_policy, "role": current_role, "token": before_token},
            "after": {"policy": wanted_policy,
                      "role": dict(wanted_role, allowed_policies=sorted(wanted_role["allowed_policies"])),
                      "token": {"type": "batch", "ttl": ttl} if mint else before_token},
        }
    for note in notes:
        ctx.warn(note)
    if ctx.check_mode or not changed:
        return result

    step = "policy"
    try:
        if policy_changed:
            client.write(POLICY_PATH + policy_name, data={"policy": wanted_policy}, method="PUT")
        step = "role"
        if role_changed:
            client.write(ROLE_PATH + role_name, data=wanted_role)
        step = "token"
        if mint:
            result.update(_mint(client, role_name, policy_name, p["ttl"]))
    except VaultAnswerLost as lost:
        todo = ("Run the task again." if step != "token" else
                "A token may have been minted but its answer is lost; it cannot be revoked (a batch token) and "
                "expires with its TTL. Run the task again to mint one you hold.")
        raise ModuleFailure("%s %s on %s: writing the %s: %s %s" % (MODULE, asked, url, step, explain(lost), todo)) from None
    except VaultError as err:
        hint = None
        if err.status == 403:
            hint = "The Vault token needs create/update on %s%s, %s%s and %s%s." % (
                POLICY_PATH, policy_name, ROLE_PATH, role_name, CREATE_PATH, role_name)
        raise _fail(asked, url, err, hint) from None
    return result


def _mint(client, role_name, policy_name, ttl):
    resp = client.write(CREATE_PATH + role_name, data={"ttl": ttl, "policies": [policy_name]})
    auth = (resp.body or {}).get("auth") or {}
    token = auth.get("client_token")
    if not token:
        raise ModuleFailure("%s: POST %s%s on %s answered HTTP %s without auth.client_token." % (
            MODULE, CREATE_PATH, role_name, client.url, resp.status))
    kind = auth.get("token_type") or ("batch" if token.startswith(("hvb.", "b.")) else "service")
    if kind != "batch":
        raise ModuleFailure("%s: the token role %s made a %s token, not a batch token; check the role's token_type." % (
            MODULE, role_name, kind))
    lease = dr.as_int(auth.get("lease_duration")) or 0
    return {"token": token, "ttl": lease, "expire_time": _utc_after(lease), "token_type": kind,
            "policies": list(auth.get("policies") or [])}
