# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: failover_plan
short_description: Decide what a DR failover still has to do, from every cluster's present status
version_added: 1.0.0
description:
  - The decision the M(vaultops.dr.dr_status)-reading C(vaultops.dr.failover) role makes before any write. Given each
    cluster's DR status and version, it says whether the failover is planned, unplanned or resumed, which cluster to
    demote, whether to promote the target, which clusters to re-attach, where each DR operation token comes from, and
    why it refuses (two primaries, an unreachable primary under O(mode=auto), a target that is not a healthy secondary).
  - Deciding from the present state is what makes a failover resumable and a completed one a no-op.
options:
  _input:
    description:
      - Host name to C({answered, error, mode, healthy, raw, cluster_addr, version}), where C(raw) is the DR status
        C(data) the cluster answered.
    type: dict
    required: true
  target:
    description: The host to promote.
    type: str
    required: true
  mode:
    description: V(auto), V(planned) or V(unplanned), as the role's C(failover_mode).
    type: str
    default: auto
  allow_two_primaries:
    description: As the role's C(failover_allow_two_primaries).
    type: bool
    default: false
  reattach:
    description: As the role's C(failover_reattach).
    type: bool
    default: true
  activation:
    description: V(wrapped) or V(public_key).
    type: str
    default: wrapped
  batch_token:
    description: Whether a batch DR operation token was given.
    type: bool
    default: false
  given_tokens:
    description: Hosts that have a DR operation token of their own.
    type: list
    elements: str
    default: []
  key_shares:
    description: How many key shares were given for ceremonies.
    type: int
    default: 0
  max_wal_lag:
    description: As the role's C(failover_max_wal_lag).
    type: int
    default: 0
  hooks:
    description: C({drain, fence, traffic}) task file paths, for the plan's text.
    type: dict
    default: {}
  snapshot_dir:
    description: As the role's C(failover_snapshot_dir).
    type: str
    default: ""
author:
  - vaultops.dr contributors (@vaultops)
"""

EXAMPLES = r"""
- name: Show what a failover to b would do
  ansible.builtin.debug:
    msg: "{{ (clusters | vaultops.dr.failover_plan('b', mode='planned', key_shares=3)).steps }}"
"""

RETURN = r"""
_value:
  description: The plan; C(refuse) is a non-empty message when the failover must not start.
  type: dict
"""

from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.vaultops.dr.plugins.module_utils._failover_plan import PlanError, plan  # noqa: E402


def failover_plan(clusters, target, **options):
    """`clusters | vaultops.dr.failover_plan(target, mode=..., ...)`."""
    if not isinstance(clusters, dict):
        raise AnsibleFilterError("vaultops.dr.failover_plan: expected a dict of host → status, got %s"
                                 % type(clusters).__name__)
    try:
        return plan(clusters, target, **options)
    except (PlanError, TypeError) as exc:
        raise AnsibleFilterError("vaultops.dr.failover_plan: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {"failover_plan": failover_plan}
