# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.vaultops.dr.plugins.filter.dr_cluster_view import dr_cluster_view
from ansible_collections.vaultops.dr.plugins.filter.dr_follows import FilterModule, dr_follows

PRIMARY = "https://b.example:8201"


def registered(mode="secondary", healthy=True, **raw):
    return {"changed": False, "mode": mode, "healthy": healthy, "status": {"raw": dict(mode=mode, **raw)}}


@pytest.mark.parametrize("raw", [
    {"known_primary_cluster_addrs": [PRIMARY]},
    {"known_primary_cluster_addrs": ["HTTPS://B.example:8201/"]},
    {"primary_cluster_addr": PRIMARY},
    {"primaries": [{"cluster_address": PRIMARY}]},
])
def test_a_healthy_secondary_naming_the_primary_follows_it(raw):
    assert dr_follows(registered(**raw), PRIMARY) is True
    # The same judgement on the cluster view the plan takes.
    assert dr_follows(dr_cluster_view(registered(**raw)), PRIMARY) is True


@pytest.mark.parametrize("result, addr", [
    (registered(known_primary_cluster_addrs=["https://a.example:8201"]), PRIMARY),
    (registered(healthy=False, known_primary_cluster_addrs=[PRIMARY]), PRIMARY),
    (registered(mode="primary", known_primary_cluster_addrs=[PRIMARY]), PRIMARY),
    (registered(known_primary_cluster_addrs=[PRIMARY]), ""),
    ({"failed": True, "msg": "connection refused"}, PRIMARY),
    ({}, PRIMARY),
    (None, PRIMARY),
    ("secondary", PRIMARY),
])
def test_anything_else_does_not(result, addr):
    assert dr_follows(result, addr) is False


def test_the_filter_is_registered():
    assert FilterModule().filters()["dr_follows"] is dr_follows
