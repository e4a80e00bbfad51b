# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dr_cluster_views
short_description: Turn the registered dr_status results of several clusters into their cluster views
version_added: 1.1.0
description:
  - The list form of P(vaultops.dr.dr_cluster_view#filter), for one C(run_once) step over every host instead of a
    step per host (each host's step loads the collection's filters in a worker of its own).
  - Each result becomes C({answered, error, mode, healthy, raw, cluster_addr, version}), in order.
options:
  _input:
    description: The registered M(vaultops.dr.dr_status) results, one per cluster.
    type: list
    elements: dict
    required: true
  cluster_addrs:
    description: Each cluster's C(vault_cluster_addr), in the same order (an empty string where it has none).
    type: list
    elements: str
    default: []
author:
  - vaultops.dr contributors (@vaultops)
"""

EXAMPLES = r"""
- name: Keep every cluster's view, by host
  ansible.builtin.set_fact:
    dr_views: >-
      {{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'dr')
              | vaultops.dr.dr_cluster_views(ansible_play_hosts_all | map('extract', hostvars)
                                             | map(attribute='vault_cluster_addr', default='') | list))) }}
  run_once: true
"""

RETURN = r"""
_value:
  description: The cluster views, in the order of the input; C(answered) is false for a cluster that did not answer.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.vaultops.dr.plugins.module_utils._failover_plan import cluster_view  # noqa: E402


def dr_cluster_views(results, cluster_addrs=None):
    """`results | vaultops.dr.dr_cluster_views(cluster_addrs)`."""
    results = list(results)
    addrs = list(cluster_addrs or [])
    if addrs and len(addrs) != len(results):
        raise AnsibleFilterError("vaultops.dr.dr_cluster_views: %d results but %d cluster_addrs; give one address per "
                                 "result (an empty string where a cluster has none)." % (len(results), len(addrs)))
    addrs = addrs or [""] * len(results)
    return [cluster_view(result, addr or "") for result, addr in zip(results, addrs)]


class FilterModule:
    def filters(self):
        return {"dr_cluster_views": dr_cluster_views}
