#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dr_batch_token
short_description: Keep a batch DR operation token ready, with its policy and token role, on a Vault DR primary
version_added: 1.0.0
description:
  - Runs against the DR primary (or a cluster with DR disabled that will become one). Makes sure of three things,
    each read first and written only when it differs, then reports a diff.
  - An ACL policy O(policy_name) with C(update) on C(sys/replication/dr/secondary/promote) and
    C(sys/replication/dr/secondary/update-primary), and on integrated storage also C(read) and C(update) on
    C(sys/storage/raft/autopilot/state) (HashiCorp's recipe).
  - A token role O(role_name) that makes batch tokens (C(token_type=batch)), orphan and not renewable, allowed
    only that policy.
  - A batch token from that role with TTL O(ttl), minted unless O(current_token) is given and still good (a batch
    token carrying the policy whose remaining TTL, looked up on this cluster with C(auth/token/lookup), is above
    O(min_ttl)); then the module reports the remaining TTL and mints nothing.
  - The token replicates to every DR secondary, where M(vaultops.dr.dr_secondary) uses it as
    O(vaultops.dr.dr_secondary#module:dr_operation_token) to promote or update-primary. Batch tokens cannot be
    renewed or revoked; rotate them before the TTL ends by running this module regularly with O(current_token).
author:
  - vaultops.dr contributors (@vaultops)
options:
  policy_name:
    description:
      - Name of the ACL policy.
    type: str
    default: vaultops-dr-operation
  role_name:
    description:
      - Name of the token role under C(auth/token/roles/).
    type: str
    default: vaultops-dr-operation
  ttl:
    description:
      - TTL of a newly minted token, as a Vault duration (V(168h), V(8h), V(30m)) or seconds. It must be longer
        than O(min_ttl). Vault caps it at the system's (or the token mount's) maximum TTL.
    type: str
    default: 168h
  min_ttl:
    description:
      - A O(current_token) with this much TTL left, or less, is replaced by a new one.
    type: str
    default: 48h
  current_token:
    description:
      - The batch DR operation token in use. When it is a valid batch token carrying O(policy_name) with more than
        O(min_ttl) left, no token is minted.
      - It is looked up on this cluster (DR secondaries refuse token lookups).
    type: str
  integrated_storage:
    description:
      - Whether the cluster uses integrated storage (raft), which adds the autopilot rule to the policy.
      - Unset, the module asks C(sys/storage/raft/configuration), which only integrated storage serves.
    type: bool
extends_documentation_fragment:
  - vaultops.dr.connection
  - vaultops.dr.auth
  - vaultops.dr.attributes
  - vaultops.dr.attributes.STATE_MODULE
  - vaultops.dr.wait.IGNORED
attributes:
  diff_mode:
    details: The diff shows the policy text, the role's managed fields and the token's type and TTL before and after.
  idempotent:
    support: partial
    details:
      - Policy and role are idempotent. A token is minted on every run that has no good O(current_token); pass the
        token in use (for example from the AWX credential it is stored in) to make a re-run change nothing.
notes:
  - The Vault token needs to read and write C(sys/policies/acl/<policy_name>) and C(auth/token/roles/<role_name>),
    C(update) on C(auth/token/lookup) and C(auth/token/create/<role_name>), for example an admin token on the primary.
  - RV(token) is a secret. Register the result with C(no_log=true) and store the token in an AWX credential or
    Ansible Vault.
  - Against a DR secondary the module fails before any write; run it against the primary.
seealso:
  - module: vaultops.dr.dr_secondary
  - module: vaultops.dr.dr_operation_token
  - name: Vault token auth method API
    description: Token roles (C(auth/token/roles)), C(auth/token/create/:role_name) and C(auth/token/lookup).
    link: https://developer.hashicorp.com/vault/api-docs/auth/token
  - name: Vault DR replication API
    description: Promote and update-primary, which take the token as C(dr_operation_token).
    link: https://developer.hashicorp.com/vault/api-docs/system/replication/replication-dr
"""

EXAMPLES = r"""
- name: Make sure a batch DR operation token is ready (mint one when the one in use has 48h or less left)
  vaultops.dr.dr_batch_token:
    url: https://vault-a.example.com:8200
    token: "{{ vault_admin_token }}"
    ttl: 168h
    min_ttl: 48h
    current_token: "{{ dr_batch_token | default(omit) }}"
  register: batch
  no_log: true

- name: Promote B with it in a failover (B already holds A's token store)
  vaultops.dr.dr_secondary:
    url: https://vault-b.example.com:8200
    state: promoted
    dr_operation_token: "{{ batch.token | default(dr_batch_token) }}"
  no_log: true
"""

RETURN = r"""
token:
  description:
    - The new batch token; a secret.
    - Only returned when one was minted in this run (never in check mode, never when O(current_token) is kept).
  returned: when minted
  type: str
  sample: hvb.AAAAAQ...
minted:
  description: Whether a new token was minted (in check mode, whether one would be).
  returned: success
  type: bool
reason:
  description: Why a token was minted or the current one kept.
  returned: success
  type: str
  sample: "keep it: the current token is a batch token with policy vaultops-dr-operation and 140h left, above min_ttl 48h"
ttl:
  description: Seconds of TTL of the minted token, or left on the kept O(current_token).
  returned: when minted or kept
  type: int
  sample: 604800
expire_time:
  description: When the minted or kept token expires (UTC, ISO 8601).
  returned: when minted or kept
  type: str
  sample: "2026-12-08T10:11:00Z"
token_type:
  description: The type of the minted token (always V(batch)).
  returned: when minted
  type: str
policies:
  description: The policies of the minted token (Vault adds V(default)).
  returned: when minted
  type: list
  elements: str
policy:
  description: The policy's C(name), its C(rules) (HCL) and whether it C(changed).
  returned: success
  type: dict
role:
  description: The token role's C(name), the managed fields and whether it C(changed).
  returned: success
  type: dict
integrated_storage:
  description: Whether the policy has the integrated-storage (autopilot) rule.
  returned: success
  type: bool
status:
  description:
    - The cluster's DR status, read before any write.
    - The summary that M(vaultops.dr.dr_status) returns as RV(vaultops.dr.dr_status#module:status).
  returned: success
  type: dict
vault_warnings:
  description: Warnings Vault sent with its answers.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible_collections.vaultops.dr.plugins.module_utils._batch_token import run  # noqa: E402
from ansible_collections.vaultops.dr.plugins.module_utils._module import VaultModule  # noqa: E402

ARGSPEC = dict(
    policy_name=dict(type="str", default="vaultops-dr-operation"),
    role_name=dict(type="str", default="vaultops-dr-operation"),
    ttl=dict(type="str", default="168h"),
    min_ttl=dict(type="str", default="48h"),
    current_token=dict(type="str", no_log=True),
    integrated_storage=dict(type="bool"),
)


def main():
    module = VaultModule(argument_spec=ARGSPEC, supports_check_mode=True)
    module.run(lambda m: run(m.context()))


if __name__ == "__main__":
    main()
