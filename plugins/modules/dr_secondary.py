#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dr_secondary
short_description: Enable, promote, re-point or disable a Vault DR replication secondary
version_added: 1.0.0
description:
  - Makes a Vault Enterprise cluster a DR secondary of a primary, promotes a DR secondary to primary,
    points a DR secondary at another primary, or disables DR replication on a secondary.
  - Decides from the cluster's current DR mode, read from C(sys/replication/dr/status), and writes only when
    the cluster is not already where O(state) asks.
  - Enabling a secondary B(wipes all data) of the cluster. It is therefore done only on a cluster whose DR
    replication is disabled, never on one that is already a secondary (whatever primary it follows) or a primary.
  - On a DR secondary the promote, update-primary and disable endpoints authenticate by O(dr_operation_token);
    no Vault token is needed there (one given in O(token) is sent along, as Vault 2.x accepts it).
author:
  - vaultops.dr contributors (@vaultops)
options:
  state:
    description:
      - V(enabled) makes a cluster with DR replication disabled a secondary of the primary that issued
        O(activation_token), then (with O(wait=true)) waits until it is healthy. A cluster that is already a DR
        secondary is left alone; a primary makes the module fail.
      - V(promoted) promotes a DR secondary to DR primary. A primary is left alone. Demote the old primary first
        (O(vaultops.dr.dr_primary#module:state=demoted)) so there are never two primaries.
      - V(primary_updated) points a DR secondary (for example a demoted old primary) at a new primary with
        O(activation_token) or O(update_primary_addrs), without a wipe. With O(primary_cluster_addr) the module
        does nothing when the secondary is already healthy and following that address; without it, it acts on
        every run.
      - V(disabled) disables DR replication on a secondary. A disabled cluster is left alone; a primary makes the
        module fail (use O(vaultops.dr.dr_primary#module:state=disabled)).
      - Required, with no default - enabling wipes the cluster, so it is never assumed.
    type: str
    required: true
    choices: [enabled, promoted, primary_updated, disabled]
  activation_token:
    description:
      - The activation token M(vaultops.dr.dr_secondary_token) issued on the primary (sent as Vault's C(token) field).
        Single-use and short-lived.
      - Needed when O(state=enabled) enables the cluster; with O(state=primary_updated) it or O(update_primary_addrs) is
        needed when the module acts. A run that changes nothing does not need it, so the registered RV(vaultops.dr.dr_secondary_token#module:token)
        can be passed through the C(default) filter with C(omit); on a re-run M(vaultops.dr.dr_secondary_token) issues none.
      - In check mode a missing token only gives a warning.
      - Not to be confused with O(token), which is always the Vault token used to authenticate.
    type: str
  primary_api_addr:
    description:
      - The primary's API address, to use instead of the one embedded in O(activation_token) (for example when
        that one is not reachable from this cluster).
    type: str
  ca_file:
    description:
      - Path, on the Vault server, of a PEM CA file the secondary uses to verify the primary when it unwraps
        O(activation_token).
    type: str
  ca_path:
    description:
      - Path, on the Vault server, of a directory of PEM CA files, as O(ca_file).
    type: str
  dr_operation_token:
    description:
      - The DR operation token that authorizes O(state=promoted), O(state=primary_updated) and O(state=disabled) on
        a DR secondary. Make one with M(vaultops.dr.dr_operation_token), or use a pre-staged batch DR operation token.
      - Only needed when the module acts; a run that changes nothing does not need it. In check mode a missing
        token only gives a warning.
    type: str
  primary_cluster_addr:
    description:
      - With O(state=promoted), the cluster address the new primary gives its secondaries, when its own is not
        reachable from them.
      - With O(state=primary_updated), the cluster address of the primary this secondary must follow; when the
        status shows the secondary healthy and following it, nothing is done.
    type: str
  update_primary_addrs:
    description:
      - With O(state=primary_updated), cluster addresses of the primary to connect to, instead of an
        O(activation_token). Vault refuses them on a cluster newly demoted after a failover.
    type: list
    elements: str
  force:
    description:
      - With O(state=promoted), promote even when the secondary cannot confirm it is caught up with its primary
        (Vault's C(force); may lose the newest writes).
    type: bool
    default: false
  allow_two_primaries:
    description:
      - With O(state=promoted), the module refuses, before any write, to promote while this secondary's status shows
        its primary connected and that primary's API (C(primaries[0].api_address)) still answers as an active DR
        primary, or does not answer the controller; promoting then would leave two active primaries.
      - A primary that answers as demoted does not block the promotion (the planned-failover order).
      - Set V(true) only when the old primary is really gone or fenced although this secondary still sees it.
    type: bool
    default: false
  demote_primary:
    description:
      - With O(state=promoted), the API address of the DR primary this secondary replicates from, to demote in the
        same run right before the promotion (a planned failover), so the time without a primary is one module run.
      - Before any write the module reads it (with O(token), this run's TLS options, timeout and retries) and refuses
        when it does not answer or is not a DR primary of the same DR cluster (its C(cluster_id)), so no other
        cluster is demoted. An old primary that is already demoted is left alone (a resumed run).
      - The demotion is that of O(vaultops.dr.dr_primary#module:state=demoted), waiting until it shows mode
        V(secondary) within O(wait_timeout); if it fails, nothing is promoted. If the promotion fails after it, no
        cluster is a primary until a run succeeds, and the message says so.
      - Then the two-primaries guard of O(allow_two_primaries) runs as without this option, and finds the old
        primary demoted.
      - Needs a Vault token valid on the old primary with C(update) on C(sys/replication/dr/primary/demote).
    type: str
    version_added: 1.1.0
  wait_for_writes:
    description:
      - With O(state=promoted), after the promotion (and the wait for state V(running)), write to
        C(cubbyhole/vaultops-dr/write-check) with O(token) until the new primary accepts it, polling like O(wait)
        within O(wait_timeout). That is the moment clients can write again, which ends a failover's RTO. Cubbyhole is the
        token's own storage, so the write touches nothing another client sees.
      - Only after a promotion this run made; a cluster that is already a primary is left alone and not written.
        Never in check mode.
      - Needs a Vault token (O(token), or a login with O(auth_method)); the old primary's tokens are valid on the new
        primary. A write refused with 403 fails at once, saying the token is not valid there.
    type: bool
    default: false
    version_added: 1.1.0
  wait:
    description:
      - After a change, wait until the status shows it. Status is read after 0.2 s, then at doubling intervals up to
        2 s, so the wait ends soon after the cluster is there. V(enabled) and V(primary_updated) wait until the cluster is a
        healthy secondary, V(promoted) until it is a primary with state V(running), V(disabled) until its mode is
        V(disabled).
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
attributes:
  idempotent:
    support: partial
    details:
      - Except O(state=primary_updated) without O(primary_cluster_addr), which acts on every run (the status cannot tell
        which primary was asked for).
notes:
  - O(state=enabled) needs a Vault token (the cluster is not a secondary yet). After it, the secondary uses the
    primary's unseal keys and tokens.
  - Right after a promotion Vault may answer HTTP 412 or 503 for a while; the module retries those and waits.
seealso:
  - module: vaultops.dr.dr_secondary_token
  - module: vaultops.dr.dr_primary
  - module: vaultops.dr.dr_operation_token
  - module: vaultops.dr.dr_status
  - name: Vault DR replication API
    description: The C(sys/replication/dr/secondary) endpoints.
    link: https://developer.hashicorp.com/vault/api-docs/system/replication/replication-dr
"""

EXAMPLES = r"""
- name: Issue an activation token for dc2 on the primary
  vaultops.dr.dr_secondary_token:
    url: https://vault-a.example.com:8200
    token: "{{ vault_a_admin_token }}"
    id: dc2
  register: dc2_token
  no_log: true

- name: Make cluster B a DR secondary of A (wipes B) and wait until it is healthy
  vaultops.dr.dr_secondary:
    url: https://vault-b.example.com:8200
    token: "{{ vault_b_admin_token }}"
    activation_token: "{{ dc2_token.token | default(omit) }}"
    state: enabled
    wait_timeout: 600

- name: Failover - promote B (after demoting A), and wait until it accepts writes
  vaultops.dr.dr_secondary:
    url: https://vault-b.example.com:8200
    token: "{{ vault_a_admin_token }}"  # the old primary's tokens are valid on the new primary
    state: promoted
    dr_operation_token: "{{ dr_op_token }}"
    wait_for_writes: true

- name: Planned failover in one task - demote A, promote B, wait until B accepts writes
  vaultops.dr.dr_secondary:
    url: https://vault-b.example.com:8200
    token: "{{ vault_a_admin_token }}"
    state: promoted
    dr_operation_token: "{{ dr_op_token }}"
    demote_primary: https://vault-a.example.com:8200
    wait_for_writes: true

- name: Attach the demoted A to the new primary B
  vaultops.dr.dr_secondary:
    url: https://vault-a.example.com:8200
    state: primary_updated
    dr_operation_token: "{{ dr_op_token_a }}"
    activation_token: "{{ a_token.token | default(omit) }}"
    primary_cluster_addr: https://vault-b.example.com:8201

- name: Disable DR replication on a secondary
  vaultops.dr.dr_secondary:
    url: https://vault-c.example.com:8200
    state: disabled
    dr_operation_token: "{{ dr_op_token_c }}"
"""

RETURN = r"""
mode_before:
  description: The cluster's DR mode before the module ran.
  returned: success
  type: str
  sample: secondary
status:
  description:
    - The cluster's DR status after the module ran (in check mode, the status read before).
    - The summary that M(vaultops.dr.dr_status) returns as RV(vaultops.dr.dr_status#module:status).
  returned: success
  type: dict
  sample:
    mode: secondary
    state: stream-wals
    healthy: true
    cluster_id: 5f8f8d8a-1c3c-ad34-5e80-5d3d7bb05bc6
    known_secondaries: []
    secondaries: []
    raw: {mode: secondary, state: stream-wals, connection_state: ready}
waited:
  description: Seconds spent waiting for the change to show in the status.
  returned: success
  type: float
  sample: 14.0
demoted_primary:
  description:
    - With O(demote_primary), the demotion's result as M(vaultops.dr.dr_primary) returns it (C(changed), C(mode_before),
      C(status) of the old primary, C(waited)).
  returned: when O(demote_primary) is set and the module promoted the cluster
  type: dict
  sample: {changed: true, mode_before: primary, waited: 0.4, status: {mode: secondary, state: idle}}
  version_added: 1.1.0
promoted_at:
  description: When the promote call was answered (seconds since the epoch, the controller's clock).
  returned: when O(wait_for_writes=true) and the module promoted the cluster
  type: float
  sample: 1796112000.25
  version_added: 1.1.0
writes_accepted_at:
  description: When the new primary accepted the write of O(wait_for_writes) (seconds since the epoch).
  returned: when O(wait_for_writes=true) and the module promoted the cluster
  type: float
  sample: 1796112000.61
  version_added: 1.1.0
writes_accepted_after:
  description: Seconds from the promote call's answer to the accepted write.
  returned: when O(wait_for_writes=true) and the module promoted the cluster
  type: float
  sample: 0.36
  version_added: 1.1.0
vault_warnings:
  description:
    - Warnings Vault sent with its answers, for example that the secondary will be unavailable until its
      initial sync completes.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible_collections.vaultops.dr.plugins.module_utils._module import VaultModule  # noqa: E402
from ansible_collections.vaultops.dr.plugins.module_utils._secondary_state import SPEC  # noqa: E402

ARGSPEC = dict(
    # No default: enabling wipes the cluster, so it is never what a forgotten option means.
    state=dict(type="str", required=True, choices=["enabled", "promoted", "primary_updated", "disabled"]),
    activation_token=dict(type="str", no_log=True),
    primary_api_addr=dict(type="str"),
    ca_file=dict(type="str"),
    ca_path=dict(type="str"),
    dr_operation_token=dict(type="str", no_log=True),
    primary_cluster_addr=dict(type="str"),
    update_primary_addrs=dict(type="list", elements="str"),
    force=dict(type="bool", default=False),
    allow_two_primaries=dict(type="bool", default=False),
    wait_for_writes=dict(type="bool", default=False),
    demote_primary=dict(type="str"),
)
MUTUALLY_EXCLUSIVE = [("activation_token", "update_primary_addrs")]


def main():
    module = VaultModule(argument_spec=ARGSPEC, mutually_exclusive=MUTUALLY_EXCLUSIVE,
                         supports_check_mode=True)
    module.run(lambda m: SPEC.run(m.context()))


if __name__ == "__main__":
    main()
