"""The bare planned failover: the minimal HTTP sequence (Python `requests`) for what the failover role does,
with the same safety reads and waits, so the benchmark can tell the collection's share of the time from the
servers'.

Sequence (what `roles/failover` checks and waits for, without Ansible):

1. pre-flight: DR status and version (`sys/seal-status`) of every cluster; refuse unless the old primary is a
   running primary and the target a healthy secondary that follows it;
2. catch-up: until the target has the primary's WAL (lag 0, equal merkle roots);
3. demote the old primary, until its status says secondary;
4. promote the target (with the DR operation token), until it is a running primary;
5. until the new primary accepts a write (`cubbyhole/vaultops-dr/write-check`, as the role);
6. re-attach every other cluster, all at once (one thread each): read the new primary's status, revoke the
   id when known, issue an activation token, `update-primary` with the op token, until it follows the new
   primary and is healthy;
7. until the new primary is running with every re-attached cluster connected.

Every wait polls at `poll` seconds (0.05 by default), so the time spent waiting is what the servers need:
the benchmark's "lab floor".
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

STATUS = "sys/replication/dr/status"
PRIMARY = "sys/replication/dr/primary/"
SECONDARY = "sys/replication/dr/secondary/"
WRITE_CHECK = "cubbyhole/vaultops-dr/write-check"
HEALTHY_STATES = ("stream-wals", "running", "ready")
NOT_HEALTHY = ("merkle-diff", "merkle-sync", "connecting", "bootstrapping", "idle", "transient_failure", "shutdown")


class Refused(Exception):
    """A pre-flight check failed: nothing was written."""


class Cluster:
    """One cluster's API address, with its own HTTP session (connections are kept alive)."""

    def __init__(self, name, api_addr, cluster_addr, ca_cert, token):
        self.name, self.api_addr, self.cluster_addr, self.token = name, api_addr, cluster_addr.rstrip("/"), token
        self.session = requests.Session()
        self.session.verify = ca_cert
        self.session.trust_env = False
        self.ca_cert = ca_cert
        self._lock = threading.Lock()

    def call(self, method, path, body=None, token=None, ok=(200, 204)):
        headers = {"X-Vault-Token": token} if token else {}
        resp = self.session.request(method, "%s/v1/%s" % (self.api_addr, path), json=body, headers=headers, timeout=30)
        if ok and resp.status_code not in ok:
            raise RuntimeError("%s %s on %s: HTTP %s %s" % (method, path, self.name, resp.status_code, resp.text[:300]))
        return resp

    def status(self):
        return self.call("GET", STATUS).json()["data"]


def _text(value):
    return value.lower() if isinstance(value, str) else ""


def primary_addrs(data):
    addrs = list(data.get("known_primary_cluster_addrs") or [])
    addrs.append(data.get("primary_cluster_addr"))
    addrs += [p.get("cluster_address") for p in data.get("primaries") or [] if isinstance(p, dict)]
    return {a.strip().rstrip("/").lower() for a in addrs if isinstance(a, str) and a.strip()}


def secondary_healthy(data):
    state, conn = _text(data.get("state")), _text(data.get("connection_state"))
    if data.get("mode") != "secondary" or state in NOT_HEALTHY or conn in NOT_HEALTHY:
        return False
    if state not in HEALTHY_STATES and conn not in ("ready", "running"):
        return False
    primaries = [p for p in data.get("primaries") or [] if isinstance(p, dict)]
    return not primaries or _text(primaries[0].get("connection_status")) == "connected"


def follows(data, primary):
    return secondary_healthy(data) and primary.cluster_addr.lower() in primary_addrs(data)


def primary_running(data, expect=()):
    if data.get("mode") != "primary" or _text(data.get("state")) != "running":
        return False
    connected = {str(s.get("node_id")) for s in data.get("secondaries") or []
                 if _text(s.get("connection_status")) == "connected"}
    known = {str(s) for s in data.get("known_secondaries") or []}
    return all(sid in known and sid in connected for sid in expect)


def wait(fn, timeout, poll, what):
    """Call `fn()` every `poll` s until it returns something true (5xx and lost answers are waited out)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except (requests.RequestException, RuntimeError) as err:
            last = err
        if time.monotonic() > deadline:
            raise TimeoutError("timed out waiting for %s (last: %r)" % (what, last))
        time.sleep(poll)


class Clock:
    """Named marks on a monotonic clock, and the time spent waiting for the servers per phase."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.marks = {"started": 0.0}
        self.waits = {}

    def mark(self, name):
        self.marks[name] = round(time.monotonic() - self.t0, 4)

    def waited(self, phase, seconds):
        self.waits[phase] = round(self.waits.get(phase, 0.0) + seconds, 4)


def preflight(clusters, old, new):
    """Every cluster's DR status and version; refuse unless `old` is a running primary followed by `new`."""
    seen = {}
    for c in clusters.values():
        seen[c.name] = c.status()
        c.call("GET", "sys/seal-status").json().get("version")
    if not primary_running(seen[old.name]):
        raise Refused("%s is not a running DR primary: %s" % (old.name, seen[old.name]))
    if not follows(seen[new.name], old):
        raise Refused("%s is not a healthy DR secondary of %s: %s" % (new.name, old.name, seen[new.name]))
    return seen


def reattach(new, c, op_token, timeout=300, poll=0.05):
    """Point cluster `c` at primary `new` (activation token issued on `new`, id revoked first when known);
    returns the seconds from update-primary until `c` follows `new`, healthy."""
    known = new.status().get("known_secondaries") or []
    if c.name in known:
        new.call("POST", PRIMARY + "revoke-secondary", {"id": c.name}, token=new.token)
    resp = new.call("POST", PRIMARY + "secondary-token", {"id": c.name}, token=new.token)
    activation = resp.json()["wrap_info"]["token"]
    t = time.monotonic()
    c.call("POST", SECONDARY + "update-primary",
           {"dr_operation_token": op_token, "token": activation, "ca_file": new.ca_cert}, token=c.token)
    wait(lambda: follows(c.status(), new), timeout, poll, "%s to follow %s" % (c.name, new.name))
    return time.monotonic() - t


def failover(clusters, old_name, new_name, op_token, poll=0.05, timeout=300, reattach_names=None):
    """Planned failover `old_name` → `new_name` over `clusters` ({name: Cluster}); returns the marks (seconds
    from the start), the server waits per phase and the RTO. `reattach_names`: the clusters to point at the new
    primary (default: every other cluster)."""
    old, new = clusters[old_name], clusters[new_name]
    others = [clusters[n] for n in (reattach_names if reattach_names is not None else clusters) if n != new_name]
    clock = Clock()

    preflight(clusters, old, new)
    clock.mark("planned")

    def caught_up():
        primary, secondary = old.status(), new.status()
        wal = primary.get("last_dr_wal") or primary.get("last_wal")
        lag = int(wal) - int(secondary.get("last_remote_wal") or 0)
        roots = primary.get("merkle_root"), secondary.get("merkle_root")
        return lag <= 0 and (not all(roots) or roots[0] == roots[1])

    t = time.monotonic()
    wait(caught_up, timeout, poll, "%s to catch up with %s" % (new.name, old.name))
    clock.waited("catch-up", time.monotonic() - t)
    clock.mark("first_write")

    old.call("POST", PRIMARY + "demote", {}, token=old.token)
    t = time.monotonic()
    wait(lambda: old.status().get("mode") == "secondary", timeout, poll, "%s demoted" % old.name)
    new.call("POST", SECONDARY + "promote", {"dr_operation_token": op_token, "primary_cluster_addr": new.cluster_addr},
             token=new.token)
    wait(lambda: primary_running(new.status()), timeout, poll, "%s promoted" % new.name)
    clock.waited("demote and promote", time.monotonic() - t)
    clock.mark("promoted")

    t = time.monotonic()
    wait(lambda: new.call("POST", WRITE_CHECK, {"written_at": time.time()}, token=new.token, ok=None).status_code
         in (200, 204), timeout, poll, "%s to accept a write" % new.name)
    clock.waited("first write accepted", time.monotonic() - t)
    clock.mark("writes_accepted")

    with ThreadPoolExecutor(max_workers=max(1, len(others))) as pool:
        streamed = list(pool.map(lambda c: reattach(new, c, op_token, timeout, poll), others))
    clock.waited("re-attach", max(streamed) if streamed else 0.0)
    clock.mark("reattached")

    t = time.monotonic()
    wait(lambda: primary_running(new.status(), [c.name for c in others]), timeout, poll, "%s healthy" % new.name)
    clock.waited("verify", time.monotonic() - t)
    clock.mark("verified")
    rto = clock.marks["writes_accepted"] - clock.marks["first_write"]
    return {"marks": clock.marks, "waits": clock.waits, "rto_seconds": round(rto, 4),
            "seconds": clock.marks["verified"], "reattached": [c.name for c in others]}


def clusters_from_lab(lab_info, names, token):
    """{name: Cluster} from drlab's lab.json for `names`, every one with `token`."""
    out = {}
    for name in names:
        c = lab_info["clusters"][name]
        out[name] = Cluster(name, c["api_addr"], c["cluster_addr"], c.get("ca_cert") or lab_info["ca_cert"], token)
    return out
