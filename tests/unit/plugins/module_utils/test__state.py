"""The state skeleton: every module's decision table walked exhaustively through main(), and the guards."""

from __future__ import annotations

import json
import re

import pytest
import responses

from ansible_collections.vaultops.dr.plugins.module_utils import _replication as dr
from ansible_collections.vaultops.dr.plugins.module_utils._primary_state import SPEC as PRIMARY_SPEC
from ansible_collections.vaultops.dr.plugins.module_utils._secondary_state import SPEC as SECONDARY_SPEC
from ansible_collections.vaultops.dr.plugins.module_utils._secondary_token_state import SPEC as TOKEN_SPEC
from ansible_collections.vaultops.dr.plugins.module_utils._state import ACT, NO_CHANGE, NOT_NOW, Refuse, decide
from ansible_collections.vaultops.dr.plugins.modules import dr_primary, dr_secondary, dr_secondary_token
from conftest import BASE_ARGS, fixture, run_module, status, writes

pytestmark = pytest.mark.usefixtures("fake_time")

OP_TOKEN = "hvb.AAAAAQOperationTokenSecretValue00000002"
ACTIVATION = "hvs.CAESIFwrappedActivationTokenSecretValue0000001"
# One recorded status per mode; the secondary follows no primary, so no guard is involved in the walk.
STATUS_OF = {"primary": "status_primary", "secondary": "status_demoted", "disabled": "status_disabled",
             "bootstrapping": "status_bootstrapping", "unknown": None}
UNKNOWN = {"data": {"mode": "some-future-mode", "state": "weird"}}

MODULES = {
    "dr_primary": (dr_primary, PRIMARY_SPEC, lambda state: {"state": state}),
    "dr_secondary": (dr_secondary, SECONDARY_SPEC,
                     lambda state: {"state": state, "dr_operation_token": OP_TOKEN,
                                    **({"activation_token": ACTIVATION} if state in ("enabled", "primary_updated") else {})}),
    # dc2 is known to status_primary (so absent revokes it), dc9 is not (so present issues it).
    "dr_secondary_token": (dr_secondary_token, TOKEN_SPEC,
                           lambda state: {"state": state, "id": "dc2" if state == "absent" else "dc9"}),
}


def states_of(module):
    return module.ARGSPEC["state"]["choices"]


CASES = [(name, state, mode) for name, (module, _spec, _args) in MODULES.items()
         for state in states_of(module) for mode in dr.MODES]


def queue_status(vault, mode):
    if STATUS_OF[mode]:
        status(vault, STATUS_OF[mode])
    else:
        vault.add(responses.GET, vault.base + dr.STATUS_PATH, json=UNKNOWN)


@pytest.mark.parametrize("name,state,mode", CASES)
def test_every_table_entry_through_main(vault, name, state, mode):
    """Each (asked state, current mode) gives the table's outcome: no change without a write, a write, or a
    refusal that says what to do, before any write."""
    module, spec, args = MODULES[name]
    outcome = decide(spec.table, state, mode)
    queue_status(vault, mode)
    vault.add(responses.POST, vault.base + dr.PRIMARY + "secondary-token", json=fixture("secondary_token_wrapped"))
    vault.add(responses.POST, re.compile(re.escape(vault.base) + "sys/replication/dr/.*"), status=204)
    result = run_module(module, dict(BASE_ARGS, wait=False, **args(state)))
    if isinstance(outcome, Refuse):
        assert result.get("failed") and outcome.todo in result["msg"], result
        assert "%s %s on %s" % (name, spec.asked(dict(args(state), url=BASE_ARGS["url"])), BASE_ARGS["url"]) in result["msg"]
        assert "vaultops.dr." in outcome.todo or "wait until" in outcome.todo
        assert writes(vault) == []
    elif outcome == NO_CHANGE:
        assert not result.get("failed") and result["changed"] is False and writes(vault) == [], result
    else:
        assert outcome == ACT
        assert not result.get("failed") and result["changed"] is True and writes(vault), result
    for secret in (OP_TOKEN, ACTIVATION, BASE_ARGS["token"]):
        assert secret not in json.dumps({k: v for k, v in result.items() if k != "token"})


@pytest.mark.parametrize("name", MODULES)
def test_tables_name_only_known_states_and_modes(name):
    module, spec, _args = MODULES[name]
    for state, mode in spec.table:
        assert state in states_of(module) and mode in dr.MODES
    # Whatever a table leaves out is refused with the "wait until" how-to.
    for state in states_of(module):
        if (state, "unknown") not in spec.table:
            assert decide(spec.table, state, "unknown") is NOT_NOW


def test_every_mode_the_normaliser_gives_is_in_the_walk():
    assert {dr.normalise_mode(m) for m in ("dr-primary", "primary", "secondary", "disabled", "bootstrapping", "x")} \
        <= set(dr.MODES)


# -- guard: two primaries ---------------------------------------------------------------------
OLD_PRIMARY_STATUS = "https://10.0.1.11:8200/v1/" + dr.STATUS_PATH
PROMOTE = {"state": "promoted", "dr_operation_token": OP_TOKEN}


def promote(args=None, **kw):
    return run_module(dr_secondary, dict(BASE_ARGS, **dict(PROMOTE, **(args or {}))), **kw)


@pytest.mark.parametrize("check_mode", [True, False])
def test_promote_refused_while_the_primary_is_connected_and_active(vault, check_mode):
    status(vault, "status_secondary")
    vault.add(responses.GET, OLD_PRIMARY_STATUS, json=fixture("status_primary"))
    result = promote(check_mode=check_mode)
    assert result["failed"] and "two active DR primaries" in result["msg"]
    assert "https://10.0.1.11:8201" in result["msg"] and "answers as an active primary" in result["msg"]
    assert "allow_two_primaries=true" in result["msg"] and "dr_primary state=demoted" in result["msg"]
    assert writes(vault) == [] and OP_TOKEN not in json.dumps(result)


def test_promote_refused_when_the_connected_primary_does_not_answer_the_controller(vault):
    status(vault, "status_secondary")  # nothing registered for the old primary: the controller cannot reach it
    result = promote()
    assert result["failed"] and "did not answer the controller" in result["msg"] and writes(vault) == []


def test_promote_goes_on_when_the_connected_primary_was_demoted(vault):
    status(vault, "status_secondary", "status_primary_fresh")
    vault.add(responses.GET, OLD_PRIMARY_STATUS, json=fixture("status_demoted"))
    vault.add(responses.POST, vault.base + dr.SECONDARY + "promote", status=204)
    result = promote()
    assert result["changed"] is True and len(writes(vault)) == 1


def test_allow_two_primaries_promotes_without_asking_the_primary(vault):
    status(vault, "status_secondary", "status_primary_fresh")
    vault.add(responses.POST, vault.base + dr.SECONDARY + "promote", status=204)
    result = promote({"allow_two_primaries": True})
    assert result["changed"] is True
    assert not [c for c in vault.calls if c.request.url.startswith("https://10.0.1.11")]


def test_a_disconnected_primary_does_not_block(vault):
    status(vault, "status_secondary_troubled", "status_primary_fresh")
    vault.add(responses.POST, vault.base + dr.SECONDARY + "promote", status=204)
    assert promote()["changed"] is True


def test_demotion_is_not_guarded(vault):
    status(vault, "status_primary", "status_demoted")
    vault.add(responses.POST, vault.base + dr.PRIMARY + "demote", status=204)
    assert run_module(dr_primary, dict(BASE_ARGS, state="demoted"))["changed"] is True


# -- guard: cutting off a connected secondary ------------------------------------------------------
def reissue(args=None, **kw):
    return run_module(dr_secondary_token, dict(BASE_ARGS, id="dc2", force=True, **(args or {})), **kw)


@pytest.mark.parametrize("check_mode", [True, False])
def test_forced_reissue_of_a_connected_secondary_is_refused(vault, check_mode):
    status(vault, "status_primary")  # dc2 known and connected
    result = reissue(check_mode=check_mode)
    assert result["failed"] and "secondary dc2 is connected" in result["msg"] and "allow_cut_off=true" in result["msg"]
    assert writes(vault) == []


def test_allow_cut_off_reissues(vault):
    status(vault, "status_primary")
    vault.add(responses.POST, vault.base + dr.PRIMARY + "revoke-secondary", status=204)
    vault.add(responses.POST, vault.base + dr.PRIMARY + "secondary-token", json=fixture("secondary_token_wrapped"))
    result = reissue({"allow_cut_off": True}, diff=True)
    assert result["changed"] is True and len(writes(vault)) == 2 and result["token"]
    assert result["diff"]["after"]["activation"] == "revoked and issued again"


def test_forced_reissue_of_a_disconnected_secondary_needs_no_option(vault):
    data = fixture("status_primary")
    data["data"]["secondaries"][0]["connection_status"] = "disconnected"
    vault.add(responses.GET, vault.base + dr.STATUS_PATH, json=data)
    vault.add(responses.POST, vault.base + dr.PRIMARY + "revoke-secondary", status=204)
    vault.add(responses.POST, vault.base + dr.PRIMARY + "secondary-token", json=fixture("secondary_token_wrapped"))
    assert reissue()["changed"] is True


# -- waits poll fast first -------------------------------------------------------------------------
def test_primary_wait_polls_from_a_fifth_of_a_second(vault, fake_time):
    status(vault, "status_disabled", "status_disabled", "status_disabled", "status_disabled", "status_disabled",
           "status_disabled", "status_primary")
    vault.add(responses.POST, vault.base + dr.PRIMARY + "enable", status=204)
    result = run_module(dr_primary, dict(BASE_ARGS, state="enabled"))
    assert result["changed"] is True
    assert fake_time["sleeps"] == [0.2, 0.4, 0.8, 1.6, 2]


def test_secondary_wait_that_cannot_succeed_fails_at_once(vault, fake_time):
    status(vault, "status_disabled", "status_primary")
    vault.add(responses.POST, vault.base + dr.SECONDARY + "enable", status=204)
    result = run_module(dr_secondary, dict(BASE_ARGS, state="enabled", activation_token=ACTIVATION))
    assert result["failed"] and "cannot succeed" in result["msg"] and "now a DR primary" in result["msg"]
    assert fake_time["sleeps"] == []
