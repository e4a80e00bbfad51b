#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dr_primary
short_description: Enable, demote or disable DR replication primary mode on a Vault cluster
version_added: 1.0.0
description:
  - Makes a Vault Enterprise cluster a DR primary, demotes a DR primary to a secondary, or disables DR
    replication on a primary.
  - Decides from the cluster's current DR mode, read from C(sys/replication/dr/status), and writes only
    when the mode differs from O(state).
  - A DR secondary is never changed by this module; it fails and names the M(vaultops.dr.dr_secondary) state
    that does what was asked.
author:
  - vaultops.dr contributors (@vaultops)
options:
  state:
    description:
      - V(enabled) makes a cluster whose DR replication is disabled a DR primary. A primary is left as it is.
        A DR secondary makes the module fail; promote it with O(vaultops.dr.dr_secondary#module:state=promoted).
      - V(demoted) demotes a primary to a DR secondary that follows no primary (it keeps its cluster id, so it
        can be attached to the new primary with O(vaultops.dr.dr_secondary#module:state=primary_updated) without
        a wipe). A secondary is left as it is.
      - V(disabled) disables DR replication on a primary. Its secondaries can no longer connect, and enabling it
        again gives it a new cluster id, so existing secondaries then need a wipe. A disabled cluster is left as it
        is; a DR secondary makes the module fail (disable it with
        O(vaultops.dr.dr_secondary#module:state=disabled)).
    type: str
    choices: [enabled, demoted, disabled]
    default: enabled
  primary_cluster_addr:
    description:
      - With O(state=enabled), the cluster address the primary gives its secondaries, when its own is not
        reachable from them (for example behind a TCP load balancer).
      - Only used when the primary is enabled; an existing primary is not changed to another address.
    type: str
  wait:
    description:
      - After a change, wait until the status shows it. V(enabled) waits for mode V(primary) with state
        V(running), V(demoted) for mode V(secondary), V(disabled) for mode V(disabled).
      - Status is read after 0.2 s, then at doubling intervals up to 2 s, so the wait ends soon after the change shows.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait when O(wait=true) before failing.
    type: int
    default: 300
extends_documentation_fragment:
  - vaultops.dr.connection
  - vaultops.dr.auth
  - vaultops.dr.attributes
  - vaultops.dr.attributes.STATE_MODULE
notes:
  - Needs a Vault token whose policy allows C(update) on C(sys/replication/dr/primary/*).
  - Vault may answer HTTP 200 with warnings instead of 204; they are returned in RV(vault_warnings).
seealso:
  - module: vaultops.dr.dr_secondary
  - module: vaultops.dr.dr_secondary_token
  - module: vaultops.dr.dr_status
  - name: Vault DR replication API
    description: The C(sys/replication/dr/primary) endpoints.
    link: https://developer.hashicorp.com/vault/api-docs/system/replication/replication-dr
"""

EXAMPLES = r"""
- name: Make cluster A the DR primary
  vaultops.dr.dr_primary:
    url: https://vault-a.example.com:8200
    token: "{{ vault_admin_token }}"
    state: enabled

- name: Enable the primary behind a load balancer for cluster traffic
  vaultops.dr.dr_primary:
    url: https://vault-a.example.com:8200
    token: "{{ vault_admin_token }}"
    primary_cluster_addr: https://vault-a-cluster.example.com:8201

- name: Planned failover, step 1 - demote the primary first, so there are never two primaries
  vaultops.dr.dr_primary:
    url: https://vault-a.example.com:8200
    token: "{{ vault_admin_token }}"
    state: demoted
  register: demote

- name: Disable DR replication on a primary
  vaultops.dr.dr_primary:
    url: https://vault-a.example.com:8200
    token: "{{ vault_admin_token }}"
    state: disabled
"""

RETURN = r"""
mode_before:
  description: The cluster's DR mode before the module ran.
  returned: success
  type: str
  sample: disabled
status:
  description:
    - The cluster's DR status after the module ran (in check mode, the status read before).
    - The summary that M(vaultops.dr.dr_status) returns as RV(vaultops.dr.dr_status#module:status).
  returned: success
  type: dict
  sample:
    mode: primary
    state: running
    healthy: true
    cluster_id: 5f8f8d8a-1c3c-ad34-5e80-5d3d7bb05bc6
    known_secondaries: []
    secondaries: []
    raw: {mode: primary, state: running, cluster_id: 5f8f8d8a-1c3c-ad34-5e80-5d3d7bb05bc6}
waited:
  description: Seconds spent waiting for the change to show in the status.
  returned: success
  type: float
  sample: 2.0
vault_warnings:
  description: Warnings Vault sent with its answers, for example that the cluster will be briefly unavailable.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible_collections.vaultops.dr.plugins.module_utils._module import VaultModule  # noqa: E402
from ansible_collections.vaultops.dr.plugins.module_utils._primary_state import SPEC  # noqa: E402

ARGSPEC = dict(
    state=dict(type="str", default="enabled", choices=["enabled", "demoted", "disabled"]),
    primary_cluster_addr=dict(type="str"),
)


def main():
    module = VaultModule(argument_spec=ARGSPEC, supports_check_mode=True)
    module.run(lambda m: SPEC.run(m.context()))


if __name__ == "__main__":
    main()
