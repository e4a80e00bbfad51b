"""Property tests: the status summary and the health judgement take any shape Vault (or a proxy, or a future
release) might answer, and never raise; the decided failure type is the only exception the wait loop gives."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.vaultops.dr.plugins.module_utils import _replication as dr
from ansible_collections.vaultops.dr.plugins.module_utils._errors import ModuleFailure

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=12), st.sampled_from(["nan", "inf", "-inf", "1e400", " 42 ", "true", "696"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)
# Keys the code reads, with any values, plus arbitrary other keys.
KEYS = ["mode", "state", "connection_state", "cluster_id", "known_secondaries", "secondaries", "primaries",
        "last_remote_wal", "last_wal", "last_dr_wal", "merkle_root", "corrupted_merkle_tree", "primary_cluster_addr",
        "known_primary_cluster_addrs"]
modes = st.sampled_from(["primary", "secondary", "dr-primary", "disabled", "bootstrapping", "PRIMARY ", "x"])
entries = st.dictionaries(st.sampled_from(["node_id", "connection_status", "clock_skew_ms", "api_address",
                                           "cluster_address", "last_heartbeat_duration_ms"]), values, max_size=6)
status_data = st.one_of(
    values,
    st.fixed_dictionaries({}, optional={
        **{k: values for k in KEYS},
        "mode": st.one_of(modes, values),
        "secondaries": st.one_of(st.lists(st.one_of(entries, values), max_size=3), values),
        "primaries": st.one_of(st.lists(st.one_of(entries, values), max_size=3), values),
        "known_secondaries": st.one_of(st.lists(st.one_of(st.text(max_size=4), values), max_size=3), values),
    }),
)
ids = st.lists(st.one_of(st.text(max_size=4), st.sampled_from(["dc2", "b"])), max_size=3)


@SETTINGS
@given(status_data, ids)
def test_summarise_never_raises_and_has_the_contract_shape(data, expected):
    summary = dr.summarise(data, expected)
    assert set(summary) == {"mode", "state", "healthy", "cluster_id", "known_secondaries", "secondaries", "raw"}
    assert summary["mode"] in dr.MODES
    assert isinstance(summary["healthy"], bool)
    assert summary["state"] is None or isinstance(summary["state"], str)
    assert summary["cluster_id"] is None or isinstance(summary["cluster_id"], str)
    assert all(isinstance(s, str) for s in summary["known_secondaries"])
    assert all(isinstance(s, dict) for s in summary["secondaries"])
    # Healthy only in the two modes that can be.
    assert not summary["healthy"] or summary["mode"] in ("primary", "secondary")


@SETTINGS
@given(status_data, ids)
def test_judgements_and_descriptions_never_raise(data, expected):
    summary = dr.summarise(data, expected)
    assert isinstance(dr.is_healthy(data, expected), bool)
    assert isinstance(dr.describe(summary), str)
    assert isinstance(dr.is_syncing(summary), bool)
    assert isinstance(dr.primary_connected(summary), bool)
    assert isinstance(dr.follows(summary, "https://a:8201"), bool)
    dr.primary_api_addr(summary)
    dr.wal_position(summary["raw"])
    lag, equal = dr.catch_up_lag(summary, summary)
    assert lag is None or lag >= 0
    assert isinstance(equal, bool)
    for sid in expected:
        if isinstance(data, dict):
            assert isinstance(dr.secondary_connected(data, sid), bool)


@SETTINGS
@given(values)
def test_as_int_gives_an_int_or_none(value):
    result = dr.as_int(value)
    assert result is None or isinstance(result, int)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(status_data, min_size=1, max_size=4))
def test_wait_for_fails_only_with_the_decided_type(answers):
    clock = {"now": 0.0}
    seq = iter(answers)

    def read():
        return dr.summarise(next(seq, answers[-1]))

    def sleep(seconds):
        clock["now"] += seconds

    try:
        summary, waited = dr.wait_for(read, lambda s: s["healthy"], 5, interval=2, clock=lambda: clock["now"],
                                      sleep=sleep, first_interval=0.2)
    except ModuleFailure as exc:
        assert "Timed out after 5s" in exc.msg
    else:
        assert summary["healthy"] and waited <= 5


@pytest.mark.parametrize("value,expected", [("nan", None), ("inf", None), (float("inf"), None), ("1e400", None),
                                            (" 42 ", 42), (True, 1)])
def test_as_int_edge_cases(value, expected):
    assert dr.as_int(value) == expected
