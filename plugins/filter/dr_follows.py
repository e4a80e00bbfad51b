# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dr_follows
short_description: Whether a cluster is a healthy DR secondary following a given primary
version_added: 1.0.0
description:
  - The one judgement of "this cluster follows that primary" that the failover plan makes, for templates and
    C(when) conditions. True when the cluster is a DR secondary, healthy, and names O(primary_cluster_addr) among
    the primaries its status knows (compared without case or a trailing slash).
  - Takes either a registered M(vaultops.dr.dr_status) result or a cluster view made by
    P(vaultops.dr.dr_cluster_view#filter).
options:
  _input:
    description: A registered M(vaultops.dr.dr_status) result, or a cluster view.
    type: dict
    required: true
  primary_cluster_addr:
    description: The primary's C(vault_cluster_addr). An empty address is followed by no one.
    type: str
    required: true
author:
  - vaultops.dr contributors (@vaultops)
"""

EXAMPLES = r"""
- name: Skip the re-attachment of a cluster that already follows the new primary
  ansible.builtin.set_fact:
    reattached: "{{ registered_status | vaultops.dr.dr_follows(hostvars[target].vault_cluster_addr) }}"
"""

RETURN = r"""
_value:
  description: True when the cluster is a healthy DR secondary following O(primary_cluster_addr).
  type: bool
"""

from ansible_collections.vaultops.dr.plugins.module_utils._failover_plan import cluster_view  # noqa: E402
from ansible_collections.vaultops.dr.plugins.module_utils._replication import follows  # noqa: E402


def dr_follows(status, primary_cluster_addr):
    """`registered | vaultops.dr.dr_follows(primary_cluster_addr)`."""
    if not isinstance(status, dict) or not primary_cluster_addr:
        return False
    # A cluster view carries `raw` already; anything else is a registered dr_status result.
    view = status if "raw" in status and "answered" in status else cluster_view(status)
    if not isinstance(view.get("raw"), dict):
        return False
    return bool(follows(view, str(primary_cluster_addr)))


class FilterModule:
    def filters(self):
        return {"dr_follows": dr_follows}
