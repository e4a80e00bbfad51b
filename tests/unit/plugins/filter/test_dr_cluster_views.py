# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dr_cluster_views: the list form of dr_cluster_view, for one run_once step over every host."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from conftest import fixture

from ansible_collections.vaultops.dr.plugins.filter.dr_cluster_view import dr_cluster_view
from ansible_collections.vaultops.dr.plugins.filter.dr_cluster_views import dr_cluster_views

ANSWERED = {"changed": False, "failed": False, **fixture("status_primary")}
NO_ANSWER = {"failed": True, "msg": "GET sys/replication/dr/status on https://c:8200 got no answer"}


def test_each_result_becomes_what_dr_cluster_view_makes_of_it():
    results, addrs = [ANSWERED, NO_ANSWER], ["https://a:8201", ""]
    assert dr_cluster_views(results, addrs) == [dr_cluster_view(r, a) for r, a in zip(results, addrs)]


def test_without_addresses_every_cluster_has_none():
    assert dr_cluster_views([ANSWERED]) == [dr_cluster_view(ANSWERED, "")]


def test_a_list_of_addresses_that_does_not_match_is_refused():
    with pytest.raises(AnsibleFilterError, match="2 results but 1 cluster_addrs"):
        dr_cluster_views([ANSWERED, NO_ANSWER], ["https://a:8201"])
