# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dr_topology
short_description: Draw a DR set as text, each primary with the clusters that follow it
version_added: 1.0.0
description:
  - Lines of text, one per cluster; each DR primary comes first with the secondaries that follow it drawn under it
    (C(├──), C(└──)), then every other cluster with what it follows.
  - The failover role prints the topology before and after with it, and its rescue the topology it found.
options:
  _input:
    description: Host name to cluster view, as M(vaultops.dr.dr_cluster_view#filter) makes them.
    type: dict
    required: true
author:
  - vaultops.dr contributors (@vaultops)
"""

EXAMPLES = r"""
- name: Show the DR set
  ansible.builtin.debug:
    msg: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'dr_view'))) | vaultops.dr.dr_topology }}"
"""

RETURN = r"""
_value:
  description: The lines, for example V(a  [primary, running, v1.15.2+ent]) then V(└── b  [secondary, stream-wals, v1.15.2+ent]).
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.vaultops.dr.plugins.module_utils._failover_plan import topology  # noqa: E402


def dr_topology(clusters):
    """`clusters | vaultops.dr.dr_topology`."""
    if not isinstance(clusters, dict):
        raise AnsibleFilterError("vaultops.dr.dr_topology: expected a dict of host → cluster view, got %s"
                                 % type(clusters).__name__)
    return topology(clusters)


class FilterModule:
    def filters(self):
        return {"dr_topology": dr_topology}
