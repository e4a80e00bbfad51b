#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dr_status
short_description: Read a Vault cluster's DR replication status, optionally waiting for a mode or health
version_added: 1.0.0
description:
  - Reads C(sys/replication/dr/status) of one Vault Enterprise cluster and returns it as a summary
    with the mode normalised (legacy V(dr-primary) becomes V(primary)) and a health judgement.
  - The status endpoint is unauthenticated, so this module works against DR secondaries and needs no token.
  - With O(wait_for_mode) or O(wait_for_healthy) it reads the status again until the cluster reaches it or
    O(wait_timeout) passes; it then fails naming the last status seen.
  - Never changes anything.
author:
  - vaultops.dr contributors (@vaultops)
options:
  wait_for_mode:
    description:
      - Wait until the cluster's DR mode is this one.
    type: str
    choices: [primary, secondary, disabled]
  wait_for_healthy:
    description:
      - Wait until the cluster is healthy.
      - A primary is healthy when its state is V(running) (and every id in O(expect_secondaries) is connected);
        a secondary when it streams WALs (state V(stream-wals), or connection state V(ready)/V(running))
        from a connected primary and is not syncing (V(merkle-diff), V(merkle-sync), V(connecting)) or failing
        (V(idle), V(transient_failure), V(shutdown)). Any other mode is never healthy.
    type: bool
    default: false
  expect_secondaries:
    description:
      - Ids of DR secondaries that must be connected for a primary to count as healthy.
      - An id the primary only knows (a token was issued for it) but that is not connected does not count.
      - Ignored when the cluster is not a primary.
    type: list
    elements: str
    default: []
  wait:
    description:
      - Accepted so that C(module_defaults) for C(group/vaultops.dr.dr) can set it for every module, and ignored;
        this module waits only when O(wait_for_mode), O(wait_for_healthy) or O(catch_up_with) is set.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for O(wait_for_mode) and O(wait_for_healthy) before failing.
      - A wait that cannot succeed fails at once, for example O(wait_for_healthy) on a primary that never issued an
        activation token for an id in O(expect_secondaries).
    type: int
    default: 300
  wait_interval:
    description:
      - Seconds between two status reads while waiting.
    type: int
    default: 5
  catch_up_with:
    description:
      - The API address of this DR secondary's primary. The module waits (up to O(wait_timeout)) until this
        secondary has received the primary's WAL up to O(max_wal_lag) entries - the primary's C(last_dr_wal) when
        it sends one, else C(last_wal), against this secondary's C(last_remote_wal) - and, with O(max_wal_lag=0),
        until both show the same C(merkle_root) where both show one.
      - Fails at once when that cluster is not a DR primary or this one is not a DR secondary.
      - The primary is read with this module's connection options (O(ca_cert), O(timeout)); no token is sent.
    type: str
  max_wal_lag:
    description:
      - With O(catch_up_with), how many WAL entries this secondary may be behind. V(0) means zero data loss.
    type: int
    default: 0
extends_documentation_fragment:
  - vaultops.dr.connection
  - vaultops.dr.auth
  - vaultops.dr.attributes
  - vaultops.dr.attributes.INFO_MODULE
seealso:
  - module: vaultops.dr.dr_primary
  - module: vaultops.dr.dr_secondary
  - name: Vault DR replication API
    description: The C(sys/replication/dr) endpoints.
    link: https://developer.hashicorp.com/vault/api-docs/system/replication/replication-dr
"""

EXAMPLES = r"""
- name: Read the DR status of the primary
  vaultops.dr.dr_status:
    url: https://vault-a.example.com:8200
  register: dr

- name: Wait until the primary sees both secondaries connected
  vaultops.dr.dr_status:
    url: https://vault-a.example.com:8200
    wait_for_healthy: true
    expect_secondaries: [dc2, dc3]
    wait_timeout: 600

- name: Wait until a promoted cluster is a primary
  vaultops.dr.dr_status:
    url: https://vault-b.example.com:8200
    wait_for_mode: primary
    wait_for_healthy: true

- name: Before a planned failover, wait until dc2 has every WAL entry the primary wrote (zero data loss)
  vaultops.dr.dr_status:
    url: https://vault-b.example.com:8200
    catch_up_with: https://vault-a.example.com:8200
    max_wal_lag: 0
    wait_timeout: 120

- name: Stop when the cluster is not a healthy secondary
  ansible.builtin.assert:
    that:
      - dr.mode == 'secondary'
      - dr.healthy
"""

RETURN = r"""
mode:
  description: The DR mode, normalised.
  returned: success
  type: str
  choices: [primary, secondary, disabled, bootstrapping, unknown]
  sample: primary
state:
  description: The replication state Vault reports, for example V(running) or V(stream-wals).
  returned: success
  type: str
  sample: running
healthy:
  description: The health judgement described at O(wait_for_healthy).
  returned: success
  type: bool
  sample: true
cluster_id:
  description: The replication cluster id.
  returned: success
  type: str
  sample: 5f8f8d8a-1c3c-ad34-5e80-5d3d7bb05bc6
known_secondaries:
  description:
    - Ids the primary issued activation tokens for. Being known does not mean being connected.
  returned: success
  type: list
  elements: str
  sample: [dc2]
secondaries:
  description:
    - The primary's view of each secondary (newer Vault releases), with the numeric fields that newer
      releases send as strings made numbers.
  returned: success
  type: list
  elements: dict
  sample: [{node_id: dc2, connection_status: connected, clock_skew_ms: 0}]
status:
  description: The same summary as one dictionary, with RV(status.raw) holding the C(data) Vault answered.
  returned: success
  type: dict
  contains:
    mode:
      description: As RV(mode).
      type: str
    state:
      description: As RV(state).
      type: str
    healthy:
      description: As RV(healthy).
      type: bool
    cluster_id:
      description: As RV(cluster_id).
      type: str
    known_secondaries:
      description: As RV(known_secondaries).
      type: list
      elements: str
    secondaries:
      description: As RV(secondaries).
      type: list
      elements: dict
    raw:
      description: The status as Vault answered it.
      type: dict
version:
  description: The server's version as C(sys/seal-status) reports it (unauthenticated), when it reports one.
  returned: success
  type: str
  sample: 1.15.2+ent
wal_lag:
  description: With O(catch_up_with), how many WAL entries this secondary is behind its primary.
  returned: when O(catch_up_with) is set
  type: int
  sample: 0
primary_wal:
  description: With O(catch_up_with), the primary's WAL index the secondary was compared with.
  returned: when O(catch_up_with) is set
  type: int
  sample: 223
catch_up_primary:
  description:
    - When O(catch_up_with) does not answer as a DR primary (the module fails at once), that cluster's DR status, so a
      playbook can tell a primary demoted meanwhile (mode V(secondary), state V(idle)) from another cluster.
  returned: on failure, when O(catch_up_with) is not a DR primary
  type: dict
  sample: {mode: secondary, state: idle, healthy: false}
waited:
  description: Seconds spent waiting; V(0) when nothing was waited for.
  returned: success
  type: float
  sample: 12.5
vault_warnings:
  description: Warnings Vault sent with its answers.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible_collections.vaultops.dr.plugins.module_utils._module import VaultModule  # noqa: E402
from ansible_collections.vaultops.dr.plugins.module_utils._errors import ModuleFailure  # noqa: E402
from ansible_collections.vaultops.dr.plugins.module_utils._replication import (  # noqa: E402
    catch_up_lag,
    describe,
    read_status,
    read_version,
    wait_for,
    wal_position,
)

ARGSPEC = dict(
    wait_for_mode=dict(type="str", choices=["primary", "secondary", "disabled"]),
    wait_for_healthy=dict(type="bool", default=False),
    expect_secondaries=dict(type="list", elements="str", default=[]),
    wait_timeout=dict(type="int", default=300),
    wait_interval=dict(type="int", default=5),
    catch_up_with=dict(type="str"),
    max_wal_lag=dict(type="int", default=0),
)


def wanted(mode, healthy):
    """The predicate for the wait loop, and its description for the timeout message."""
    parts = []
    if mode:
        parts.append("mode %s" % mode)
    if healthy:
        parts.append("healthy")

    def predicate(summary):
        return (not mode or summary["mode"] == mode) and (not healthy or summary["healthy"])

    return predicate, " and ".join(parts)


def never_issued(expected):
    """A primary that never issued a token for an expected id will not see it connected by waiting."""
    def reason(summary):
        if summary["mode"] != "primary":
            return None
        unknown = [sid for sid in expected if sid not in summary["known_secondaries"]]
        if not unknown:
            return None
        return ("the primary never issued an activation token for %s (known_secondaries: %s), so it cannot connect. "
                "Issue one with vaultops.dr.dr_secondary_token and enable the secondary with it, or fix "
                "expect_secondaries." % (", ".join(unknown), ", ".join(summary["known_secondaries"]) or "none"))
    return reason


def run(module):
    p = module.params
    expected = p["expect_secondaries"]

    def read():
        return read_status(module.client, expected)

    waited = 0
    if p["wait_for_mode"] or p["wait_for_healthy"]:
        predicate, what = wanted(p["wait_for_mode"], p["wait_for_healthy"])
        give_up = never_issued(expected) if p["wait_for_healthy"] and p["wait_for_mode"] in (None, "primary") else None
        summary, waited = wait_for(read, predicate, p["wait_timeout"], max(1, p["wait_interval"]),
                                   what=what, where=p["url"], give_up=give_up)
    else:
        summary = read()
    result = {}
    if p["catch_up_with"]:
        summary, caught_up, more = wait_for_catch_up(module, summary)
        waited += caught_up
        result.update(more)
    keys = ("mode", "state", "healthy", "cluster_id", "known_secondaries", "secondaries")
    result.update({key: summary[key] for key in keys})
    result.update(changed=False, status=summary, waited=waited, version=read_version(module.client))
    return result


def wait_for_catch_up(module, summary):
    """Wait until this secondary has the WAL of the primary at `catch_up_with` (within max_wal_lag)."""
    p = module.params
    primary_client = module.unauthenticated_client(p["catch_up_with"])
    seen = {}

    def read_pair():
        primary = read_status(primary_client)
        if primary["mode"] != "primary":
            raise ModuleFailure(
                "catch_up_with %s is not a DR primary (%s): a secondary can only catch up with the primary it "
                "follows. Point catch_up_with at the active primary's API address." % (p["catch_up_with"], describe(primary)),
                status=primary, catch_up_primary=primary)
        secondary = read_status(module.client)
        if secondary["mode"] != "secondary":
            raise ModuleFailure(
                "%s is not a DR secondary (%s), so it cannot catch up with %s." % (p["url"], describe(secondary), p["catch_up_with"]),
                status=secondary)
        lag, roots_equal = catch_up_lag(primary, secondary)
        seen.update(secondary=secondary, lag=lag, primary_wal=wal_position(primary["raw"]), roots_equal=roots_equal)
        return secondary

    def caught_up(_secondary):
        if seen["lag"] is None or seen["lag"] > p["max_wal_lag"]:
            return False
        return seen["roots_equal"] or p["max_wal_lag"] > 0

    what = "the secondary to be within %s WAL entries of %s%s" % (
        p["max_wal_lag"], p["catch_up_with"], " with equal merkle roots" if p["max_wal_lag"] == 0 else "")
    summary, waited = wait_for(read_pair, caught_up, p["wait_timeout"], max(1, p["wait_interval"]),
                               what=what, where=p["url"])
    return summary, waited, {"wal_lag": seen["lag"], "primary_wal": seen["primary_wal"]}


def main():
    module = VaultModule(argument_spec=ARGSPEC, supports_check_mode=True)
    module.run(run)


if __name__ == "__main__":
    main()
