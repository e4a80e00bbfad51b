# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a failover (or failback) still has to do, decided from what every cluster says now.

The failover role reads every cluster's DR status and version, then asks `plan()` what to do.
Deciding from the clusters' present state, never from what an earlier run remembers, is what
makes a run resumable: a run killed after the demotion, re-run, sees a demoted old primary and
no primary and goes on with the promotion; a completed failover re-run sees nothing to do.

Pure functions on plain data (no Ansible, no HTTP), so every branch is unit-tested.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import re

from ansible_collections.vaultops.dr.plugins.module_utils._replication import (
    as_bool,
    as_int,
    normalise_addr,
    primary_addrs,
    wal_position,
)

MODES = ("auto", "planned", "unplanned")
ACTIVATIONS = ("wrapped", "public_key")


class PlanError(ValueError):
    """The inputs cannot be planned with (a programming or inventory error, not a refusal)."""


def parse_version(text):
    """`1.15.2+ent` / `v2.7.2` → (1, 15, 2); None when there is no version to compare."""
    if not isinstance(text, str):
        return None
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", text)
    return tuple(int(x) for x in match.group(1).split(".")) if match else None


def older(version, than):
    """True when `version` is known and older than `than` (also known)."""
    mine, theirs = parse_version(version), parse_version(than)
    if mine is None or theirs is None:
        return False
    width = max(len(mine), len(theirs))
    return mine + (0,) * (width - len(mine)) < theirs + (0,) * (width - len(theirs))


def _cluster(clusters, host):
    entry = clusters.get(host) or {}
    raw = entry.get("raw") if isinstance(entry.get("raw"), dict) else {}
    return {
        "host": host,
        "answered": as_bool(entry.get("answered")),
        "error": entry.get("error") or "",
        "mode": entry.get("mode") or ("unknown" if entry.get("answered") else "unreachable"),
        "healthy": as_bool(entry.get("healthy")),
        "raw": raw,
        "cluster_addr": entry.get("cluster_addr") or "",
        "version": entry.get("version"),
    }


def _follows(cluster, primary):
    """True when `cluster` is a healthy secondary following `primary`'s cluster address."""
    return (cluster["mode"] == "secondary" and cluster["healthy"] and bool(primary["cluster_addr"])
            and normalise_addr(primary["cluster_addr"]) in primary_addrs(cluster["raw"]))


def _followed_by(target, others):
    """The host among `others` whose cluster address the target names as its primary."""
    addrs = primary_addrs(target["raw"])
    for other in others:
        if other["cluster_addr"] and normalise_addr(other["cluster_addr"]) in addrs:
            return other
    return None


def plan(clusters, target, mode="auto", allow_two_primaries=False, reattach=True, activation="wrapped",
         batch_token=False, given_tokens=(), key_shares=0, max_wal_lag=0, hooks=None, snapshot_dir=""):
    """Decide the failover to `target`.

    `clusters`: host → {answered, error, mode, healthy, raw (DR status data), cluster_addr, version}.
    `given_tokens`: hosts that have an op token in failover_dr_operation_tokens; `key_shares`: how many
    key shares were given; `hooks`: {"drain": path, "fence": path, "traffic": path}.

    Returns a dict: `refuse` (a message, empty when the plan may run), `action` (`failover`,
    `reattach` or `none`), `kind` (`planned`/`unplanned`/`resume`), `old_primary`, `promote`,
    `demote` (host to demote before the promotion), `returning` (old primaries that came back still
    primary: snapshot, demote, re-attach), `reattach` (hosts to point at the target), `op_token_hosts`
    and `op_token_source` (host → batch/given/ceremony), `skipped` (host → why), `unreachable`,
    `warnings`, `steps` (the plan as text), `catch_up`, `target_last_remote_wal`.
    """
    if mode not in MODES:
        raise PlanError("failover_mode must be one of %s, not %r" % (", ".join(MODES), mode))
    if activation not in ACTIVATIONS:
        raise PlanError("failover_activation must be one of %s, not %r" % (", ".join(ACTIVATIONS), activation))
    hooks = hooks or {}
    if target not in clusters:
        return _refused("failover_target %r is not a host of the play (hosts: %s). Set failover_target to the "
                        "inventory name of the cluster to promote." % (target, ", ".join(sorted(clusters)) or "none"))
    tgt = _cluster(clusters, target)
    others = [_cluster(clusters, h) for h in sorted(clusters) if h != target]
    result = {
        "refuse": "", "action": "none", "kind": "", "target": target, "old_primary": None, "promote": False,
        "demote": None, "returning": [], "reattach": [], "op_token_hosts": [], "op_token_source": {},
        "skipped": {}, "unreachable": [o["host"] for o in others if not o["answered"]], "warnings": [],
        "steps": [], "catch_up": False, "target_last_remote_wal": as_int(tgt["raw"].get("last_remote_wal")),
        "target_version": tgt["version"],
    }
    if not tgt["answered"]:
        return _refused("The failover target %s does not answer (%s): nothing can be promoted. Bring it up or pick "
                        "another failover_target." % (target, tgt["error"] or "no status"), result)
    if as_bool(tgt["raw"].get("corrupted_merkle_tree")):
        return _refused("%s reports corrupted_merkle_tree: its data cannot be trusted for a promotion. Reindex it "
                        "(sys/replication/dr/secondary/reindex) and wait until it is healthy, or pick another target."
                        % target, result)

    primaries = [o for o in others if o["answered"] and o["mode"] == "primary"]
    if tgt["mode"] == "primary":
        refusal = _plan_after_promotion(result, tgt, others, primaries, mode)
        if refusal:
            return _refused(refusal, result)
    elif tgt["mode"] == "secondary":
        refusal = _plan_promotion(result, tgt, others, primaries, mode, allow_two_primaries, max_wal_lag)
        if refusal:
            return _refused(refusal, result)
    else:
        return _refused("The failover target %s is not a DR secondary (mode %s): only a DR secondary can be promoted. "
                        "Set up DR first (vaultops.dr.setup) or pick another failover_target." % (target, tgt["mode"]),
                        result)

    if not reattach:
        for host in result["reattach"] + result["returning"]:
            result["skipped"][host] = "failover_reattach is false"
        result["reattach"], result["returning"] = [], []
    _skip_older(result, tgt, others)
    for host in result["unreachable"]:
        result["warnings"].append("%s did not answer; it is not re-attached. Run the same playbook again once it "
                                  "answers to re-attach it." % host)

    # A planned failover's old primary is a DR secondary only after its demotion, so a token made on it
    # beforehand cannot exist: without a batch token or key shares it is left for a later run.
    if result["demote"] and not batch_token and not key_shares and result["demote"] not in (given_tokens or ()):
        host = result["demote"]
        result["reattach"] = [h for h in result["reattach"] if h != host]
        result["skipped"][host] = ("no DR operation token for it: it becomes a DR secondary only when demoted, so make "
                                   "one on it then (vaultops.dr.dr_operation_token) and run this playbook again with it "
                                   "in failover_dr_operation_tokens to re-attach it")
        result["warnings"].append("%s is demoted but not re-attached: %s" % (host, result["skipped"][host]))
    needs = ([target] if result["promote"] else []) + result["returning"] + result["reattach"]
    if result["promote"] or result["returning"] or result["reattach"]:
        result["action"] = "failover" if result["promote"] else "reattach"
    else:
        result["kind"] = ""
    refusal = _assign_op_tokens(result, needs, batch_token, set(given_tokens or ()), key_shares)
    if refusal:
        return _refused(refusal, result)
    result["steps"] = _steps(result, tgt, clusters, activation, hooks, max_wal_lag, snapshot_dir)
    return result


def _refused(message, result=None):
    out = dict(result or {})
    out.update(refuse=message, action="none")
    out.setdefault("steps", [])
    out.setdefault("warnings", [])
    return out


def _plan_after_promotion(result, tgt, others, primaries, mode):
    """The target already is a primary: the promotion is done; re-attach whoever does not follow it.

    Another answering primary is a split brain. Demoting it discards every write it took, so that is
    done only when the operator confirmed the target is the primary to keep (`unplanned`, the mode of
    the run that promoted it) and no secondary follows the other one instead; a string is a refusal.
    """
    if primaries:
        names = ", ".join(p["host"] for p in primaries)
        if mode != "unplanned":
            return ("Two DR primaries answer: %s (the target) and %s. A %s run never demotes a primary, since it may "
                    "hold writes the target lacks. If %s is the old primary that came back after an unplanned failover "
                    "to %s, run with failover_mode: unplanned (and failover_snapshot_dir) to snapshot, demote and "
                    "re-attach it; if %s is the one to keep, fail over to it instead." % (
                        tgt["host"], names, mode, names, tgt["host"], names))
        followed = [p["host"] for p in primaries
                    if any(_follows(o, p) for o in others if o["host"] != p["host"])]
        if followed and not any(_follows(o, tgt) for o in others):
            return ("Two DR primaries answer: %s (the target) and %s, and the secondaries follow %s, not %s. Demoting %s "
                    "would cut them off and discard its writes: check which primary serves the clients, and fail over "
                    "to it instead." % (tgt["host"], names, ", ".join(followed), tgt["host"], ", ".join(followed)))
    result["kind"] = "resume"
    result["returning"] = [p["host"] for p in primaries]
    for other in others:
        if not other["answered"] or other["mode"] == "primary":
            continue
        if other["mode"] == "disabled":
            result["skipped"][other["host"]] = ("DR replication is disabled there; enabling it as a secondary would "
                                                "wipe it, so it is left alone (use vaultops.dr.setup)")
        elif not _follows(other, tgt):
            result["reattach"].append(other["host"])
    if result["returning"]:
        result["old_primary"] = result["returning"][0]
    return ""


def _plan_promotion(result, tgt, others, primaries, mode, allow_two_primaries, max_wal_lag):
    """The target is a secondary: decide planned / unplanned / resume; a string is a refusal."""
    target = tgt["host"]
    old = _followed_by(tgt, others)
    if old is None:
        return ("%s follows no cluster of the play (its primary addresses: %s; the hosts' vault_cluster_addr: %s). "
                "Check vault_cluster_addr in the inventory." % (
                    target, ", ".join(sorted(primary_addrs(tgt["raw"]))) or "none",
                    ", ".join("%s=%s" % (o["host"], o["cluster_addr"] or "unset") for o in others) or "none"))
    result["old_primary"] = old["host"]
    stray = [p["host"] for p in primaries if p["host"] != old["host"]]
    if stray and not allow_two_primaries:
        return ("%s answer%s as DR primary besides %s, the primary %s follows: promoting %s would add yet another "
                "primary. Find out which primary is real before failing over." % (
                    ", ".join(stray), "s" if len(stray) == 1 else "", old["host"], target, target))
    if old["answered"] and old["mode"] == "primary":
        if mode == "unplanned" and not allow_two_primaries:
            return ("The old primary %s still answers as an active DR primary, so an unplanned failover would leave two "
                    "primaries. Use failover_mode planned (or auto), which demotes it first; promote anyway only with "
                    "failover_allow_two_primaries: true." % old["host"])
        if mode == "unplanned":
            result["kind"] = "unplanned"
            result["warnings"].append("%s stays an active primary beside %s (failover_allow_two_primaries): fence it "
                                      "and run this playbook again to demote and re-attach it." % (old["host"], target))
        else:
            if not _follows(tgt, old):
                return ("%s is not a healthy secondary of %s (state %s, connection %s), so a planned failover could lose "
                        "data. Wait until it is healthy (vaultops.dr.dr_status wait_for_healthy), or fail over with "
                        "failover_mode: unplanned once %s is down or fenced." % (
                            target, old["host"], tgt["raw"].get("state"), tgt["raw"].get("connection_state"),
                            old["host"]))
            result["kind"] = "planned"
            result["demote"] = old["host"]
            result["catch_up"] = True
        result["promote"] = True
        result["reattach"] = [o["host"] for o in others if o["answered"] and o["mode"] == "secondary"]
        if result["kind"] == "planned":
            result["reattach"].append(old["host"])
        result["reattach"] = sorted(set(result["reattach"]) - set(stray))
        return ""
    if old["answered"] and old["mode"] == "secondary" and not primaries:
        # A run that stopped after the demotion: go on with the promotion.
        result["kind"] = "resume"
        result["promote"] = True
        result["reattach"] = sorted(o["host"] for o in others if o["answered"] and o["mode"] == "secondary")
        return ""
    if not old["answered"]:
        if mode == "auto":
            return ("The old primary %s does not answer (%s). It may be alive behind a partition, so auto never fails "
                    "over by itself: once %s is down or fenced, confirm with failover_mode: unplanned." % (
                        old["host"], old["error"] or "no status", old["host"]))
        if mode == "planned":
            return ("A planned failover demotes the old primary first, but %s does not answer (%s). Once it is down or "
                    "fenced, run with failover_mode: unplanned." % (old["host"], old["error"] or "no status"))
        result["kind"] = "unplanned"
        result["promote"] = True
        result["reattach"] = sorted(o["host"] for o in others if o["answered"] and o["mode"] == "secondary")
        return ""
    return ("The old primary %s is in DR mode %s while %s is a secondary: not a state a failover starts from. Check the "
            "clusters with vaultops.dr.dr_status." % (old["host"], old["mode"], target))


def _skip_older(result, tgt, others):
    """A newer Vault must not replicate to an older one: such clusters are not re-attached."""
    versions = {o["host"]: o["version"] for o in others}
    for key in ("reattach", "returning"):
        keep = []
        for host in result[key]:
            if older(versions.get(host), tgt["version"]):
                result["skipped"][host] = ("runs Vault %s, older than %s's %s: a newer Vault must not replicate to an "
                                           "older one. Upgrade %s, then run this playbook again to re-attach it." % (
                                               versions.get(host), tgt["host"], tgt["version"], host))
                result["warnings"].append("%s is not re-attached: %s" % (host, result["skipped"][host]))
            else:
                keep.append(host)
        result[key] = keep


def _assign_op_tokens(result, needs, batch_token, given, key_shares):
    # A host's own token first: AWX's "DR change" template always carries the batch token credential
    # (the launcher may not swap credentials), so tokens from key holders' ceremonies must win over it.
    missing = []
    for host in needs:
        if host in given:
            source = "given"
        elif batch_token:
            source = "batch"
        elif key_shares:
            source = "ceremony"
        else:
            missing.append(host)
            continue
        result["op_token_source"][host] = source
    result["op_token_hosts"] = [h for h in needs if h in result["op_token_source"]]
    if missing:
        return ("No DR operation token for %s, which need%s one (%s). Give failover_dr_operation_token (a batch DR "
                "operation token, valid on every cluster), failover_dr_operation_tokens (host: token) or "
                "failover_key_shares (the primary's unseal or recovery key shares, for a ceremony on each cluster)." % (
                    ", ".join(missing), "s" if len(missing) == 1 else "",
                    "promote and update-primary authenticate by it"))
    return ""


_SOURCE_TEXT = {
    "batch": "the batch DR operation token",
    "given": "its token from failover_dr_operation_tokens",
    "ceremony": "a ceremony on it from the key shares (disposed of at the end)",
}


def _steps(result, tgt, clusters, activation, hooks, max_wal_lag, snapshot_dir):
    steps: list = []
    target = tgt["host"]

    def add(text):
        steps.append("%d. %s" % (len(steps) + 1, text))

    source = result["op_token_source"]
    if result["promote"]:
        old = result["old_primary"]
        if result["kind"] == "planned":
            if hooks.get("drain"):
                add("drain: run %s on the controller (stop clients writing to %s)" % (hooks["drain"], old))
            primary_wal = wal_position(_cluster(clusters, old)["raw"])
            add("catch-up: wait until %s is within %s WAL entries of %s (now %s at %s, %s at %s)" % (
                target, max_wal_lag, old, old, primary_wal, target, result["target_last_remote_wal"]))
            add("demote %s (DR primary → secondary; never two primaries)" % old)
        elif result["kind"] == "unplanned":
            if hooks.get("fence"):
                add("fence: run %s on the controller (make sure %s cannot serve)" % (hooks["fence"], old))
        else:
            add("resume: %s is already demoted and no cluster is primary; go on with the promotion" % old)
        add("promote %s with %s" % (target, _SOURCE_TEXT[source[target]]))
        add("wait until %s serves as DR primary and accepts a write" % target)
        if hooks.get("traffic"):
            add("traffic: run %s on the controller (point clients at %s)" % (hooks["traffic"], target))
    elif result["action"] != "none":
        add("%s is already the DR primary: the promotion is done" % target)
    how = ("a public-key activation token (generate-public-key on it, secondary-token sealed to it on %s)" % target
           if activation == "public_key" else "a wrapped activation token issued on %s" % target)
    for host in result["returning"]:
        if snapshot_dir:
            add("save a raft snapshot of %s (still primary) into %s and report the WAL entries re-attachment discards"
                % (host, snapshot_dir))
        add("demote %s, which came back still a DR primary" % host)
        add("re-attach %s to %s: %s, update-primary with %s" % (host, target, how, _SOURCE_TEXT[source[host]]))
    for host in result["reattach"]:
        add("re-attach %s to %s: %s, update-primary with %s" % (host, target, how, _SOURCE_TEXT[source[host]]))
    if result["action"] != "none":
        add("verify: %s is a healthy primary and every re-attached cluster streams from it" % target)
        if "ceremony" in source.values():
            add("dispose of every DR operation token the ceremonies made, also on failure")
    for host, why in sorted(result["skipped"].items()):
        add("skip %s: %s" % (host, why))
    for host in result["unreachable"]:
        add("skip %s: it does not answer" % host)
    if result["action"] == "none":
        add("nothing to do: %s is the DR primary and every cluster that answers follows it" % target)
    return steps


# -- views of the clusters for the plan, messages and reports ---------------------------------
def short_error(msg):
    """A failed status read as a few words: `connection refused` rather than requests' whole repr."""
    text = msg if isinstance(msg, str) and msg else "no status"
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno:
        return "no answer: %s" % errno.group(1).strip().rstrip(".").lower()
    for marker in ("timed out", "certificate verify failed", "Name or service not known"):
        if marker in text:
            return "no answer: %s" % marker.lower()
    return text if len(text) <= 300 else text[:297] + "..."


def cluster_view(result, cluster_addr=""):
    """A registered vaultops.dr.dr_status result as the plan's per-cluster entry."""
    result = result if isinstance(result, dict) else {}
    answered = isinstance(result.get("mode"), str) and not as_bool(result.get("failed"))
    status = result.get("status") if isinstance(result.get("status"), dict) else {}
    return {
        "answered": answered,
        "error": "" if answered else short_error(result.get("msg")),
        "mode": result.get("mode") if answered else "unreachable",
        "healthy": as_bool(result.get("healthy")),
        "raw": status.get("raw") if isinstance(status.get("raw"), dict) else {},
        "cluster_addr": cluster_addr or "",
        "version": result.get("version"),
    }


def topology(clusters):
    """The DR set drawn as text: each primary with the clusters that follow it, then the rest."""
    entries = {h: _cluster(clusters, h) for h in sorted(clusters)}
    by_addr = {normalise_addr(e["cluster_addr"]): h for h, e in entries.items() if e["cluster_addr"]}

    def label(entry):
        if not entry["answered"]:
            return "%s  [does not answer]" % entry["host"]
        parts = [entry["mode"]]
        state = entry["raw"].get("state")
        if state:
            parts.append(str(state))
        if entry["version"]:
            parts.append("v%s" % entry["version"])
        return "%s  [%s]" % (entry["host"], ", ".join(parts))

    def leader(entry):
        for addr in primary_addrs(entry["raw"]):
            if addr in by_addr and by_addr[addr] != entry["host"]:
                return by_addr[addr]
        return None

    lines, placed = [], set()
    for host, entry in entries.items():
        if entry["answered"] and entry["mode"] == "primary":
            lines.append(label(entry))
            placed.add(host)
            followers = [h for h, e in entries.items() if e["mode"] == "secondary" and leader(e) == host]
            for i, follower in enumerate(followers):
                branch = "└── " if i == len(followers) - 1 else "├── "
                connected = "" if entries[follower]["healthy"] else " (not healthy)"
                lines.append(branch + label(entries[follower]) + connected)
                placed.add(follower)
    for host, entry in entries.items():
        if host in placed:
            continue
        if entry["mode"] == "secondary":
            lead = leader(entry)
            note = "follows %s, not a primary" % lead if lead else "follows no primary (demoted or cut off)"
            lines.append("%s  (%s)" % (label(entry), note))
        else:
            lines.append(label(entry))
    return lines
