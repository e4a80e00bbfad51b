# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dr_cluster_view
short_description: Turn a registered dr_status result into the cluster view the failover plan and topology take
version_added: 1.0.0
description:
  - A result of M(vaultops.dr.dr_status) (registered with C(failed_when=false), so a cluster that does not answer
    gives a failed result) becomes C({answered, error, mode, healthy, raw, cluster_addr, version}).
options:
  _input:
    description: The registered M(vaultops.dr.dr_status) result.
    type: dict
    required: true
  cluster_addr:
    description: The cluster's C(vault_cluster_addr), by which secondaries name the primary they follow.
    type: str
    default: ""
author:
  - vaultops.dr contributors (@vaultops)
"""

EXAMPLES = r"""
- name: Read the DR status, whether the cluster answers or not
  vaultops.dr.dr_status:
    url: "{{ vault_addr }}"
  register: dr
  failed_when: false

- name: Keep the cluster's view
  ansible.builtin.set_fact:
    dr_view: "{{ dr | vaultops.dr.dr_cluster_view(vault_cluster_addr) }}"
"""

RETURN = r"""
_value:
  description: The cluster view; its C(answered) is false for a cluster that did not answer.
  type: dict
"""

from ansible_collections.vaultops.dr.plugins.module_utils._failover_plan import cluster_view  # noqa: E402


def dr_cluster_view(result, cluster_addr=""):
    """`registered | vaultops.dr.dr_cluster_view(vault_cluster_addr)`."""
    return cluster_view(result, cluster_addr)


class FilterModule:
    def filters(self):
        return {"dr_cluster_view": dr_cluster_view}
