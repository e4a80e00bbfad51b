# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a failover would work now: the readiness verdict of a DR set, from reads only.

The readiness role reads, on every cluster, the DR status and version (vaultops.dr.dr_status),
`sys/replication/status` (performance mode), `sys/leader` (active node) and the open key-share
generation attempt, and on the primary the pre-staged batch DR operation token (`auth/token/lookup`
and `sys/capabilities`). `judge()` turns those reads into a verdict: `ready`, or `not ready` with
the reasons, plus warnings (worth knowing, not blocking) and notes (checks the server could not
answer: an endpoint it does not serve is a note, not a verdict).

Pure functions on plain data (no Ansible, no HTTP), so every situation is unit-tested.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.vaultops.dr.plugins.module_utils._batch_token import human_duration, parse_duration
from ansible_collections.vaultops.dr.plugins.module_utils._failover_plan import (
    cluster_view,
    older,
    parse_version,
    topology,
)
from ansible_collections.vaultops.dr.plugins.module_utils._replication import (
    as_bool,
    as_int,
    normalise_addr,
    normalise_mode,
    primary_addrs,
    wal_position,
)

PROMOTE = "sys/replication/dr/secondary/promote"
UPDATE_PRIMARY = "sys/replication/dr/secondary/update-primary"
OP_TOKEN_ATTEMPT = "sys/replication/dr/secondary/generate-operation-token/attempt"  # noqa: S105 - a path
ROOT_ATTEMPT = "sys/generate-root/attempt"

# An endpoint the server does not serve (OSS/OpenBao without the feature, a path this release lacks, the
# unauthenticated generate-root turned off): the check becomes a note.
NOT_SERVED = (404, 405, 501)

REASON, WARNING, NOTE = "reason", "warning", "note"


# -- small pure helpers ------------------------------------------------------------------------
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$", re.I)


def parse_time(text):
    """RFC 3339 as Vault writes it (Go: up to nanoseconds, `Z` or an offset) → epoch seconds; None otherwise."""
    if not isinstance(text, str):
        return None
    match = _TIME.match(text.strip())
    if not match:
        return None
    day, hour, minute, second, fraction, zone = match.groups()
    try:
        when = datetime.datetime.strptime("%s %s:%s:%s" % (day, hour, minute, second), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    offset = 0
    if zone and zone.upper() != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    epoch = when.replace(tzinfo=datetime.timezone.utc).timestamp() - offset
    if fraction:
        epoch += float("0." + fraction)
    if epoch <= 0:  # Go's zero time (0001-01-01T00:00:00Z): never
        return None
    return epoch


def _answer(read):
    """A registered ansible.builtin.uri result (or the role's summary of one) → (status, body dict, error text)."""
    read = read if isinstance(read, dict) else {}
    status = as_int(read.get("status"))
    body = read.get("json") if isinstance(read.get("json"), dict) else {}
    errors = body.get("errors") if isinstance(body.get("errors"), list) else []
    errors = errors if isinstance(errors, list) else []  # (for the type checker: a list from here on)
    error = "; ".join(str(e).strip() for e in errors if str(e).strip())
    if _redirected(status):
        # The uri tasks follow no redirect (follow_redirects: none): their token goes to vault_addr only.
        error = ("a redirect to %s, not followed: a request with a token goes to vault_addr only; point vault_addr "
                 "at the active node or its load balancer" % (read.get("location") or "an address not given"))
    if not error and (status is None or status < 200 or status >= 300):
        error = str(read.get("msg") or "no answer")
    return status, body, error


def _redirected(status):
    return status is not None and 300 <= status < 400


def _data(body):
    """Vault's `data` envelope when there is one (the generate-root paths answer flat)."""
    return body.get("data") if isinstance(body.get("data"), dict) else body


def _describe_answer(path, status, error):
    if status is None or status < 0:
        return "%s did not answer (%s)" % (path, error)
    return "%s answered HTTP %s (%s)" % (path, status, error or "no error text")


class _Findings:
    def __init__(self):
        self.items = []

    def add(self, level, code, cluster, message):
        self.items.append({"level": level, "code": code, "cluster": cluster, "message": message})

    def of(self, level):
        return [f for f in self.items if f["level"] == level]


# -- the verdict -------------------------------------------------------------------------------
def judge(clusters, token=None, max_wal_lag=100, max_clock_skew_ms=1000, max_heartbeat_age=60,
          min_token_ttl="24h", now=None):  # noqa: S107 - a duration
    """The readiness verdict of a DR set.

    `clusters`: inventory name → what the role read there: `dr` (the registered vaultops.dr.dr_status
    result), `cluster_addr` (vault_cluster_addr), `addr` (vault_addr), and the registered
    ansible.builtin.uri results (`status`, `json`, `msg`) `replication` (sys/replication/status),
    `leader` (sys/leader) and `attempt` (the generation attempt: `path` says which).
    `token`: None when no batch DR operation token was given; else `{host, lookup, capabilities}` (uri
    results of auth/token/lookup and sys/capabilities on the primary, with the token itself left out).
    `now`: epoch seconds (the controller's clock), for heartbeat ages and the report.
    """
    if not isinstance(clusters, dict) or not clusters:
        raise ValueError("readiness: expected a dict of host → reads, got %r" % (type(clusters).__name__,))
    min_ttl = parse_duration(min_token_ttl)
    now = float(now) if now is not None else datetime.datetime.now(datetime.timezone.utc).timestamp()
    found = _Findings()
    hosts = sorted(clusters)
    entry = {h: clusters[h] if isinstance(clusters[h], dict) else {} for h in hosts}
    views = {h: cluster_view(entry[h].get("dr"), entry[h].get("cluster_addr") or "") for h in hosts}
    report = {h: {"mode": views[h]["mode"], "state": views[h]["raw"].get("state"), "answered": views[h]["answered"],
                  "healthy": views[h]["healthy"], "version": views[h]["version"], "performance_mode": None,
                  "active_node": None, "generation_attempt": None, "wal_lag": None, "heartbeat_age": None,
                  "clock_skew_ms": None, "primary_sees": None} for h in hosts}

    # When each cluster was read (epoch seconds): heartbeat ages are measured from there, not from the judgement.
    read_at = {h: _epoch(entry[h].get("read_at"), now) for h in hosts}
    for host in hosts:
        if not views[host]["answered"]:
            found.add(REASON, "unreachable", host, "%s does not answer its DR status: %s." % (host, views[host]["error"]))

    primaries = [h for h in hosts if views[h]["answered"] and views[h]["mode"] == "primary"]
    primary = primaries[0] if len(primaries) == 1 else None
    if not primaries:
        found.add(REASON, "no_primary", None, "No cluster of the DR set answers as a DR primary (modes: %s)." % (
            ", ".join("%s %s" % (h, views[h]["mode"]) for h in hosts)))
    elif len(primaries) > 1:
        found.add(REASON, "several_primaries", None,
                  "More than one DR primary: %s. A failover tool cannot tell which one clients use; demote all "
                  "but one (the vaultops.dr.failover role re-attaches a returning old primary)." % ", ".join(primaries))

    if primary:
        _judge_primary(found, primary, views[primary], report[primary])
        _judge_known_secondaries(found, primary, views[primary], hosts)
    for host in hosts:
        if host == primary or not views[host]["answered"] or views[host]["mode"] == "primary":
            continue
        _judge_secondary(found, host, views[host], primary and views[primary], report[host],
                         max_wal_lag, max_clock_skew_ms, max_heartbeat_age, (read_at[host], read_at.get(primary)))
    if primary:
        # A primary that lists a secondary of the inventory it cannot reach: its own view counts too.
        for host in hosts:
            if host != primary and not views[host]["answered"]:
                item = _judge_primary_view_of(found, host, views[primary], report[host])
                if item is not None:
                    _heartbeat(found, host, [(item, read_at[primary], "the primary")], report[host], max_clock_skew_ms,
                               max_heartbeat_age)
    for host in hosts:
        if views[host]["answered"] and as_bool(views[host]["raw"].get("corrupted_merkle_tree")):
            found.add(REASON, "corrupted_merkle_tree", host,
                      "%s reports corrupted_merkle_tree: reindex it (sys/replication/dr/secondary/reindex on a "
                      "secondary) before relying on it." % host)
    _judge_versions(found, primary, views, report)
    _judge_performance(found, primary, hosts, entry, views, report)
    _judge_active_nodes(found, hosts, entry, views, report)
    _judge_attempts(found, hosts, entry, views, report)
    token_report = _judge_token(found, token, primary, min_ttl)

    reasons, warnings, notes = (found.of(level) for level in (REASON, WARNING, NOTE))
    for host in hosts:
        report[host]["reasons"] = [f["message"] for f in reasons if f["cluster"] == host]
        report[host]["ready"] = not report[host]["reasons"]
    ready = not reasons
    verdict = "ready" if ready else "not ready"
    topo = topology(views)
    summary = ["DR readiness: %s%s." % (verdict, "" if ready else " (%d reason%s)" % (len(reasons), "s" * (len(reasons) != 1)))]
    summary += ["NOT READY: " + f["message"] for f in reasons]
    summary += ["WARNING: " + f["message"] for f in warnings]
    summary += ["NOTE: " + f["message"] for f in notes]
    summary.append("Topology:")
    summary += ["  " + line for line in topo]
    return {
        "verdict": verdict,
        "ready": ready,
        "primary": primary,
        "checked_at": datetime.datetime.fromtimestamp(now, datetime.timezone.utc).replace(microsecond=0)
        .isoformat().replace("+00:00", "Z"),
        "reasons": [f["message"] for f in reasons],
        "warnings": [f["message"] for f in warnings],
        "notes": [f["message"] for f in notes],
        "reason_codes": sorted({f["code"] for f in reasons}),
        "findings": found.items,
        "clusters": report,
        "token": token_report,
        "topology": topo,
        "bounds": {"max_wal_lag": max_wal_lag, "max_clock_skew_ms": max_clock_skew_ms,
                   "max_heartbeat_age": max_heartbeat_age, "min_token_ttl": human_duration(min_ttl)},
        "summary": summary,
    }


def _judge_primary(found, host, view, report):
    state = view["raw"].get("state")
    if state != "running":
        found.add(REASON, "primary_not_running", host, "The DR primary %s is in state %s, not running." % (host, state))
    report["wal"] = wal_position(view["raw"])
    report["known_secondaries"] = [str(s) for s in (view["raw"].get("known_secondaries") or [])]


def _judge_known_secondaries(found, primary, view, hosts):
    known = {str(s) for s in (view["raw"].get("known_secondaries") or [])}
    inventory = set(hosts) - {primary}
    for sid in sorted(known - inventory):
        found.add(REASON, "unknown_secondary", primary,
                  "The primary %s knows the DR secondary id %s, which is not in the inventory: a failover would "
                  "leave it following nobody. Add it to the inventory, or revoke it "
                  "(vaultops.dr.dr_secondary_token id=%s state=absent) if that cluster is gone." % (primary, sid, sid))
    for sid in sorted(inventory - known):
        found.add(REASON, "forgotten_secondary", sid,
                  "%s is in the inventory but the primary %s does not know it as a DR secondary "
                  "(known_secondaries: %s): set it up (vaultops.dr.setup)." % (sid, primary, ", ".join(sorted(known)) or "none"))


def _entry_for(primary_view, host):
    for item in primary_view["raw"].get("secondaries") or []:
        if isinstance(item, dict) and str(item.get("node_id")) == host:
            return item
    return None


def _epoch(value, default):
    try:
        return float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _judge_primary_view_of(found, host, primary_view, report):
    """What the primary's `secondaries[]` says of `host`: its connection (its entry, for heartbeat and skew)."""
    item = _entry_for(primary_view, host)
    if item is None:
        return None
    connection = str(item.get("connection_status") or "").lower()
    report["primary_sees"] = connection or None
    if connection and connection != "connected":
        found.add(REASON, "disconnected", host, "The primary sees %s %s." % (host, connection))
    return item


def _heartbeat(found, host, items, report, max_skew, max_age):
    """Heartbeat age and clock skew from `items`: [(a secondaries[] or primaries[] entry, when it was read)]."""
    where = "as %s report%s it" % (" and ".join(w for _i, _t, w in items), "" if len(items) > 1 else "s")
    ages = [at - t for i, at, _w in items for t in [parse_time(i.get("last_heartbeat"))] if t is not None]
    skews = [abs(s) for s in (as_int(i.get("clock_skew_ms")) for i, _at, _w in items) if s is not None]
    if ages:
        age = max(ages)
        report["heartbeat_age"] = round(max(age, report.get("heartbeat_age") or 0), 1)
        if age > max_age:
            found.add(REASON, "heartbeat_stale", host, "%s's last heartbeat %s is %s old, above readiness_max_heartbeat_age "
                      "%ss." % (host, where, human_duration(age), max_age))
    if skews:
        skew = max(skews)
        report["clock_skew_ms"] = max(skew, report.get("clock_skew_ms") or 0)
        if skew > max_skew:
            found.add(REASON, "clock_skew", host, "%s's clock_skew_ms %s is %s, above readiness_max_clock_skew_ms %s." % (
                host, where, skew, max_skew))


def _judge_secondary(found, host, view, primary_view, report, max_lag, max_skew, max_age, read_at):
    raw = view["raw"]
    if view["mode"] != "secondary":
        found.add(REASON, "not_secondary", host, "%s is not a DR secondary: its DR mode is %s." % (host, view["mode"]))
        return
    if not view["healthy"]:
        first = (raw.get("primaries") or [None])[0]
        found.add(REASON, "unhealthy", host, "%s is not a healthy DR secondary by HashiCorp's check (state %s, "
                  "connection_state %s, primary %s)." % (
                      host, raw.get("state"), raw.get("connection_state"),
                      first.get("connection_status", "unknown") if isinstance(first, dict) else "none"))
    if not primary_view:
        return
    addr = primary_view["cluster_addr"]
    if addr and normalise_addr(addr) not in primary_addrs(raw):
        found.add(REASON, "follows_other", host, "%s does not follow the primary's cluster address %s (it names %s)." % (
            host, addr, ", ".join(sorted(primary_addrs(raw))) or "none"))
    item = _judge_primary_view_of(found, host, primary_view, report)
    own = [p for p in (raw.get("primaries") or [])[:1] if isinstance(p, dict)]
    items = ([(item, read_at[1] or read_at[0], "the primary")] if item is not None else []) + [
        (p, read_at[0], host) for p in own]
    if items:
        _heartbeat(found, host, items, report, max_skew, max_age)
    else:
        found.add(NOTE, "no_heartbeat", host, "Neither %s nor the primary reports a heartbeat time for it." % host)
    primary_wal, received = wal_position(primary_view["raw"]), as_int(raw.get("last_remote_wal"))
    if primary_wal is None or received is None:
        found.add(NOTE, "no_wal", host, "The WAL lag of %s cannot be told (the primary or it shows no WAL index)." % host)
        return
    lag = max(0, primary_wal - received)
    report["wal_lag"] = lag
    if lag > max_lag:
        found.add(REASON, "wal_lag", host, "%s is %d WAL entries behind the primary (last_remote_wal %d, primary %d), "
                  "above readiness_max_wal_lag %d." % (host, lag, received, primary_wal, max_lag))


def _judge_versions(found, primary, views, report):
    if not primary:
        return
    mine = views[primary]["version"]
    if parse_version(mine) is None:
        found.add(NOTE, "version_unknown", primary, "The primary %s reports no version (sys/seal-status): versions "
                  "were not compared." % primary)
        return
    for host, view in sorted(views.items()):
        if host == primary or not view["answered"]:
            continue
        theirs = view["version"]
        if parse_version(theirs) is None:
            found.add(NOTE, "version_unknown", host, "%s reports no version (sys/seal-status)." % host)
        elif older(theirs, mine):
            found.add(REASON, "version_older", host, "%s runs %s, older than the primary %s (%s): a newer Vault must "
                      "not replicate to an older one, and a failover to it would downgrade the DR set. Upgrade it "
                      "first." % (host, theirs, primary, mine))
        elif older(mine, theirs):
            found.add(WARNING, "version_newer", host, "%s runs %s, newer than the primary %s (%s): normal mid-upgrade "
                      "(secondaries first), but after a failover to %s the older clusters cannot follow it until they "
                      "are upgraded." % (host, theirs, primary, mine, host))


def _judge_performance(found, primary, hosts, entry, views, report):
    for host in hosts:
        status, body, error = _answer(entry[host].get("replication"))
        if status is None or status != 200:
            report[host]["performance_mode"] = None
            if views[host]["answered"]:
                found.add(NOTE, "performance_unknown", host, "Performance replication mode of %s unknown: %s." % (
                    host, _describe_answer("sys/replication/status", status, error)))
            continue
        perf = _data(body).get("performance")
        mode = normalise_mode(perf.get("mode")) if isinstance(perf, dict) else "unknown"
        if isinstance(perf, dict) and isinstance(perf.get("mode"), str) and perf["mode"].lower().startswith("perf"):
            mode = normalise_mode(perf["mode"].split("-", 1)[-1])
        report[host]["performance_mode"] = mode
        if host == primary and mode == "primary":
            followers = perf.get("known_secondaries") if isinstance(perf, dict) else None
            found.add(WARNING, "performance_secondaries", host,
                      "The DR primary %s is a performance primary%s: after a failover its performance secondaries "
                      "must be pointed at the new primary (performance update-primary); the collection does not "
                      "automate that yet." % (host, " of %s" % ", ".join(map(str, followers)) if followers else ""))
        elif mode == "secondary":
            found.add(WARNING, "performance_secondary", host,
                      "%s is a performance secondary: a failover of its performance primary's DR set needs it "
                      "re-pointed by hand (not automated yet)." % host)


def _judge_active_nodes(found, hosts, entry, views, report):
    for host in hosts:
        status, body, error = _answer(entry[host].get("leader"))
        if status != 200:
            report[host]["active_node"] = None
            if views[host]["answered"]:
                found.add(NOTE, "leader_unknown", host, "Whether vault_addr of %s reaches the active node is unknown: %s." % (
                    host, _describe_answer("sys/leader", status, error)))
            continue
        ha = as_bool(body.get("ha_enabled"))
        is_self = as_bool(body.get("is_self")) or not ha
        report[host]["active_node"] = is_self
        if not is_self:
            found.add(REASON, "standby_node", host,
                      "vault_addr of %s (%s) reaches a standby node, not the active one (leader %s): promote and "
                      "secondary-token need the active node. Point vault_addr at the active node, or make the load "
                      "balancer send only to it (sys/health)." % (
                          host, entry[host].get("addr") or "?", body.get("leader_address") or "unknown"))


def _judge_attempts(found, hosts, entry, views, report):
    for host in hosts:
        read = entry[host].get("attempt")
        if not isinstance(read, dict) or not views[host]["answered"]:
            report[host]["generation_attempt"] = None
            continue
        path = read.get("path") or (OP_TOKEN_ATTEMPT if views[host]["mode"] == "secondary" else ROOT_ATTEMPT)
        status, body, error = _answer(read)
        if status != 200:
            report[host]["generation_attempt"] = None
            found.add(NOTE, "attempt_unknown", host, "Whether a key-share generation attempt is open on %s is unknown: "
                      "%s." % (host, _describe_answer(path, status, error)))
            continue
        data = _data(body)
        started = as_bool(data.get("started"))
        report[host]["generation_attempt"] = started
        if started:
            cancel = ("vaultops.dr.dr_operation_token state=canceled" if path == OP_TOKEN_ATTEMPT
                      else "DELETE %s" % path)
            found.add(REASON, "generation_attempt_open", host,
                      "A key-share generation attempt is open on %s (%s: progress %s/%s): root, DR operation and "
                      "recovery token generation share one slot, so a ceremony in a failover could not start. "
                      "Finish it or cancel it (%s)." % (host, path, as_int(data.get("progress")) or 0,
                                                        as_int(data.get("required")) or "?", cancel))


def _judge_token(found, token, primary, min_ttl):
    if not token:
        found.add(NOTE, "token_not_given", None, "No readiness_dr_operation_token given: the pre-staged batch DR "
                  "operation token was not checked.")
        return {"checked": False}
    host = token.get("host") or primary
    out = {"checked": False, "looked_up_on": host}
    if not primary:
        found.add(REASON, "token_unchecked", None, "The batch DR operation token could not be checked: there is no "
                  "single DR primary to look it up on (DR secondaries refuse token lookups).")
        return out
    status, body, error = _answer(token.get("lookup"))
    if status in NOT_SERVED:
        found.add(NOTE, "token_lookup_unknown", primary, "The batch DR operation token could not be looked up: %s." % (
            _describe_answer("auth/token/lookup", status, error)))
        return out
    if status != 200:
        invalid = status in (400, 403) and ("bad token" in error.lower() or "invalid token" in error.lower())
        found.add(REASON, "token_invalid" if invalid else "token_unchecked", primary,
                  ("The batch DR operation token is not a valid token on the primary %s (%s)." if invalid else
                   "The batch DR operation token could not be looked up on the primary %s: %s." + (
                       "" if _redirected(status) else
                       " vault_token needs update on auth/token/lookup and sys/capabilities.")) % (
                      primary, _describe_answer("auth/token/lookup", status, error)))
        return out
    data = _data(body)
    kind = data.get("type") or "service"
    ttl = as_int(data.get("ttl"))
    out.update({"checked": True, "valid": True, "type": kind, "ttl": ttl,
                "ttl_human": human_duration(ttl) if ttl is not None else None,
                "expire_time": data.get("expire_time"), "policies": list(data.get("policies") or [])})
    if kind != "batch":
        found.add(REASON, "token_not_batch", primary, "The DR operation token is a %s token, not a batch token: a "
                  "pre-staged DR operation token must be batch (it replicates to every secondary; make one with "
                  "vaultops.dr.batch_token)." % kind)
    if ttl is None or ttl <= min_ttl:
        found.add(REASON, "token_ttl_low", primary,
                  "The batch DR operation token has %s left (expires %s), not above readiness_min_token_ttl %s: the "
                  "scheduled rotation (vaultops.dr.batch_token) should have replaced it by now; run it." % (
                      human_duration(ttl or 0), data.get("expire_time") or "unknown", human_duration(min_ttl)))
    out["grants"] = _judge_capabilities(found, primary, token.get("capabilities"))
    return out


def _judge_capabilities(found, primary, read):
    status, body, error = _answer(read)
    if status in NOT_SERVED:
        found.add(NOTE, "token_capabilities_unknown", primary, "The batch DR operation token's capabilities could "
                  "not be read: %s." % _describe_answer("sys/capabilities", status, error))
        return None
    if status != 200:
        found.add(REASON, "token_unchecked", primary, "The batch DR operation token's policy could not be checked on "
                  "the primary %s: %s." % (primary, _describe_answer("sys/capabilities", status, error)))
        return None
    data = _data(body)
    grants = {}
    for name, path in (("promote", PROMOTE), ("update-primary", UPDATE_PRIMARY)):
        caps = data.get(path)
        if caps is None and len([k for k in data if k.startswith("sys/")]) == 0:
            caps = data.get("capabilities")  # a one-path answer
        caps = [str(c) for c in caps] if isinstance(caps, list) else []
        grants[name] = "update" in caps or "root" in caps
    missing = [name for name, ok in grants.items() if not ok]
    if missing:
        found.add(REASON, "token_policy", primary, "The batch DR operation token's policy no longer grants update on "
                  "%s: the failover could not %s with it. Mint a new one (vaultops.dr.batch_token)." % (
                      " and ".join({"promote": PROMOTE, "update-primary": UPDATE_PRIMARY}[m] for m in missing),
                      " or ".join(missing)))
    return grants
