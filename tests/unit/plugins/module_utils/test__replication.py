"""_replication at the HTTP layer: status summary, health judgement, wait loop, DR calls."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from urllib3.exceptions import NewConnectionError

from ansible_collections.vaultops.dr.plugins.module_utils import _replication as dr
from ansible_collections.vaultops.dr.plugins.module_utils._client import (
    VaultClient,
    VaultConnectionError,
    VaultError,
)
from ansible_collections.vaultops.dr.plugins.module_utils._errors import ModuleFailure
from conftest import fixture

pytestmark = pytest.mark.usefixtures("fake_time")

URL = "https://vault.test:8200"
STATUS = "sys/replication/dr/status"
SECRET = "hvs.CAESIFwrappedActivationTokenSecretValue0000001"
OP_TOKEN = "hvb.AAAAAQOperationTokenSecretValue00000002"


@pytest.fixture
def client():
    return VaultClient(URL, retries=2, token_source=lambda required=True: "hvs.unit-test-token")


def status(vault, name, **kw):
    vault.add(responses.GET, vault.base + STATUS, json=fixture(name), **kw)


def posts(vault):
    return [c for c in vault.calls if c.request.method == "POST"]


def refused():
    return requests.exceptions.ConnectionError(NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused"))


# -- mode normalisation and coercion --------------------------------------------------------
@pytest.mark.parametrize("raw, mode", [
    ("primary", "primary"), ("dr-primary", "primary"), ("DR-Primary ", "primary"),
    ("secondary", "secondary"), ("disabled", "disabled"), ("bootstrapping", "bootstrapping"),
    ("performance-primary", "unknown"), ("", "unknown"), (None, "unknown"), (3, "unknown"),
])
def test_normalise_mode(raw, mode):
    assert dr.normalise_mode(raw) == mode


@pytest.mark.parametrize("raw, value", [("696", 696), (" 0 ", 0), (12, 12), (1.9, 1), ("1.5", 1), ("n/a", None), (None, None)])
def test_as_int_coerces_string_numbers(raw, value):
    assert dr.as_int(raw) == value


@pytest.mark.parametrize("raw, value", [(True, True), ("true", True), ("False", False), ("false", False), (0, False), (None, False)])
def test_as_bool(raw, value):
    assert dr.as_bool(raw) is value


# -- summaries of recorded answers -------------------------------------------------------------
def test_summary_of_primary_has_the_contract_keys():
    data = fixture("status_primary")["data"]
    s = dr.summarise(data, ["dc2"])
    assert set(s) == {"mode", "state", "healthy", "cluster_id", "known_secondaries", "secondaries", "raw"}
    assert s["mode"] == "primary" and s["state"] == "running" and s["healthy"] is True
    assert s["cluster_id"] == data["cluster_id"] and s["known_secondaries"] == ["dc2"]
    assert s["raw"] == data


def test_summary_coerces_newer_string_fields_and_keeps_raw_untouched():
    data = fixture("status_primary_strings")["data"]
    s = dr.summarise(data, ["dc2"])
    sec = s["secondaries"][0]
    assert sec["clock_skew_ms"] == 0 and sec["replication_primary_canary_age_ms"] == 696
    assert sec["last_heartbeat_duration_ms"] == 0
    assert s["raw"]["secondaries"][0]["replication_primary_canary_age_ms"] == "696"
    assert s["healthy"] is True


def test_legacy_dr_primary_is_a_primary():
    body = fixture("status_primary_legacy")
    assert body["mode"] == "dr-primary"
    s = dr.summarise(body["data"])
    assert s["mode"] == "primary" and s["healthy"] is True
    assert s["secondaries"] == [] and s["known_secondaries"] == []


def test_legacy_flat_answer_without_data_envelope(vault, client):
    legacy = dict(fixture("status_primary_legacy"))
    legacy.pop("data")
    vault.add(responses.GET, vault.base + STATUS, json=legacy)
    s = dr.read_status(client)
    assert s["mode"] == "primary"


@pytest.mark.parametrize("name, mode, healthy", [
    ("status_primary", "primary", True),
    ("status_primary_strings", "primary", True),
    ("status_primary_fresh", "primary", True),
    ("status_secondary", "secondary", True),
    ("status_secondary_troubled", "secondary", False),
    ("status_secondary_syncing", "secondary", False),
    ("status_demoted", "secondary", False),
    ("status_disabled", "disabled", False),
    ("status_bootstrapping", "bootstrapping", False),
])
def test_health_of_each_recorded_situation(name, mode, healthy):
    s = dr.summarise(fixture(name)["data"])
    assert (s["mode"], s["healthy"]) == (mode, healthy)


def test_missing_or_odd_status_is_unknown_and_unhealthy():
    for data in (None, {}, {"mode": "performance-secondary", "state": "stream-wals"}):
        s = dr.summarise(data)
        assert s["mode"] == "unknown" and s["healthy"] is False
        assert s["known_secondaries"] == [] and s["secondaries"] == []


# -- the health judgement ----------------------------------------------------------------------
def test_known_id_is_not_connected():
    """A token issued for dc2 puts it in known_secondaries at once; that is not a connection."""
    data = fixture("status_primary_token_issued")["data"]
    assert "dc2" in dr.summarise(data)["known_secondaries"]
    assert dr.secondary_connected(data, "dc2") is False
    assert dr.summarise(data, ["dc2"])["healthy"] is False
    assert dr.summarise(data)["healthy"] is True  # nothing expected: a running primary


def test_expected_secondary_must_be_connected():
    data = fixture("status_primary")["data"]
    assert dr.summarise(data, ["dc2"])["healthy"] is True
    assert dr.summarise(data, ["dc2", "dc3"])["healthy"] is False


def test_connection_status_compared_case_insensitively():
    data = fixture("status_primary")["data"]
    data["secondaries"][0]["connection_status"] = "Connected"
    assert dr.summarise(data, ["dc2"])["healthy"] is True


def test_older_primary_without_secondaries_list_judges_by_known_ids():
    data = fixture("status_primary")["data"]
    del data["secondaries"]
    assert dr.summarise(data, ["dc2"])["healthy"] is True
    assert dr.summarise(data, ["dc3"])["healthy"] is False


@pytest.mark.parametrize("change", [{"state": "idle"}, {"state": "shutdown"}, {"corrupted_merkle_tree": True},
                                    {"corrupted_merkle_tree": "true"}, {"state": None}])
def test_primary_not_running_or_corrupted_is_unhealthy(change):
    data = dict(fixture("status_primary")["data"], **change)
    assert dr.summarise(data)["healthy"] is False


def test_secondary_ready_connection_counts_without_stream_wals():
    data = dict(fixture("status_secondary")["data"], state="running", connection_state="ready")
    assert dr.summarise(data)["healthy"] is True


@pytest.mark.parametrize("state", ["merkle-sync", "merkle-diff", "connecting"])
def test_secondary_still_syncing_is_unhealthy_even_with_ready_connection(state):
    """drlab (and Vault) may say connection_state ready while the initial sync runs."""
    data = dict(fixture("status_secondary")["data"], state=state, connection_state="ready")
    assert dr.summarise(data)["healthy"] is False


def test_secondary_with_disconnected_primary_is_unhealthy():
    data = fixture("status_secondary")["data"]
    data["primaries"][0]["connection_status"] = "disconnected"
    assert dr.summarise(data)["healthy"] is False


def test_secondary_transient_failure_is_unhealthy_even_if_streaming():
    data = dict(fixture("status_secondary")["data"], connection_state="transient_failure")
    assert dr.summarise(data)["healthy"] is False


def test_follows_compares_every_primary_address():
    s = dr.summarise(fixture("status_secondary")["data"])
    assert dr.follows(s, "https://10.0.1.11:8201/")
    assert dr.follows(s, "HTTPS://10.0.1.11:8201")
    assert not dr.follows(s, "https://10.0.3.11:8201")
    data = fixture("status_secondary")["data"]
    data["known_primary_cluster_addrs"], data["primary_cluster_addr"] = [], ""
    assert dr.follows(dr.summarise(data), "https://10.0.1.11:8201")  # from primaries[].cluster_address
    troubled = dr.summarise(fixture("status_secondary_troubled")["data"])
    assert not dr.follows(troubled, "https://10.0.1.11:8201")  # following, but not healthy


@pytest.mark.parametrize("name, syncing", [("status_secondary_syncing", True), ("status_bootstrapping", True),
                                           ("status_secondary", False), ("status_demoted", False),
                                           ("status_secondary_troubled", False), ("status_primary", False)])
def test_is_syncing(name, syncing):
    assert dr.is_syncing(dr.summarise(fixture(name)["data"])) is syncing


def test_describe_names_mode_state_and_peers():
    text = dr.describe(dr.summarise(fixture("status_secondary_troubled")["data"]))
    assert "mode secondary" in text and "state idle" in text and "transient_failure" in text
    assert "https://10.0.1.11:8201" in text and "not healthy" in text
    text = dr.describe(dr.summarise(fixture("status_primary_token_issued")["data"]))
    assert "dc2 disconnected" in text
    assert dr.describe(None) == "no status could be read"


# -- reading status ---------------------------------------------------------------------------
def test_read_status_is_unauthenticated(vault, client):
    status(vault, "status_secondary")
    s = dr.read_status(client)
    assert s["mode"] == "secondary" and s["healthy"]
    assert "X-Vault-Token" not in vault.calls[0].request.headers


def test_read_status_retries_412_then_succeeds(vault, client, fake_time):
    vault.add(responses.GET, vault.base + STATUS, status=412, json=fixture("error_412"))
    status(vault, "status_primary_fresh")
    assert dr.read_status(client)["mode"] == "primary"
    assert len(vault.calls) == 2 and fake_time["sleeps"]


def test_read_status_retries_503_then_succeeds(vault, client):
    vault.add(responses.GET, vault.base + STATUS, status=503, json=fixture("error_503"))
    vault.add(responses.GET, vault.base + STATUS, status=503, json=fixture("error_503"))
    status(vault, "status_primary_fresh")
    assert dr.read_status(client)["mode"] == "primary"
    assert len(vault.calls) == 3


def test_read_status_connection_refused(vault, client):
    vault.add(responses.GET, vault.base + STATUS, body=refused())
    with pytest.raises(VaultConnectionError) as err:
        dr.read_status(client)
    assert err.value.status is None and "Connection refused" in str(err.value)
    assert len(vault.calls) == 3  # first try + 2 retries


# -- the wait loop ----------------------------------------------------------------------------
def test_wait_for_returns_summary_and_time_waited(vault, client, fake_time):
    status(vault, "status_secondary_syncing")
    status(vault, "status_secondary_syncing")
    status(vault, "status_secondary")
    summary, waited = dr.wait_for(lambda: dr.read_status(client), lambda s: s["healthy"], 60, interval=5)
    assert summary["healthy"] and waited == 10
    assert fake_time["sleeps"] == [5, 5]


def test_wait_for_immediately_true_does_not_sleep(vault, client, fake_time):
    status(vault, "status_primary")
    _summary, waited = dr.wait_for(lambda: dr.read_status(client), lambda s: s["mode"] == "primary", 60)
    assert waited == 0 and fake_time["sleeps"] == []


def test_wait_for_times_out_showing_last_status(vault, client, fake_time):
    status(vault, "status_secondary_troubled")
    with pytest.raises(ModuleFailure) as err:
        dr.wait_for(lambda: dr.read_status(client), lambda s: s["healthy"], 30, interval=10,
                    what="a healthy DR secondary", where=URL)
    msg = err.value.msg
    assert "Timed out after 30s waiting for a healthy DR secondary on %s" % URL in msg
    assert "last status seen: mode secondary, state idle, connection_state transient_failure" in msg
    assert "wait_timeout" in msg
    assert err.value.result["status"]["mode"] == "secondary"
    assert sum(fake_time["sleeps"]) == 30


def test_wait_for_rides_out_transient_errors(vault, client):
    vault.add(responses.GET, vault.base + STATUS, body=refused())
    vault.add(responses.GET, vault.base + STATUS, body=refused())
    vault.add(responses.GET, vault.base + STATUS, body=refused())
    vault.add(responses.GET, vault.base + STATUS, status=503, json=fixture("error_503"))
    vault.add(responses.GET, vault.base + STATUS, status=503, json=fixture("error_503"))
    vault.add(responses.GET, vault.base + STATUS, status=503, json=fixture("error_503"))
    status(vault, "status_primary_fresh")
    summary, _waited = dr.wait_for(lambda: dr.read_status(client), lambda s: s["mode"] == "primary", 300)
    assert summary["mode"] == "primary"


def test_wait_for_timeout_reports_last_error(vault, client):
    vault.add(responses.GET, vault.base + STATUS, status=503, json=fixture("error_503"))
    with pytest.raises(ModuleFailure) as err:
        dr.wait_for(lambda: dr.read_status(client), lambda s: True, 10, interval=5)
    assert "last error: GET sys/replication/dr/status on %s answered HTTP 503: Vault is sealed" % URL in err.value.msg


def test_wait_for_stops_on_errors_waiting_cannot_cure(vault, client, fake_time):
    vault.add(responses.GET, vault.base + STATUS, status=404, json={"errors": ["unsupported path"]})
    with pytest.raises(VaultError) as err:
        dr.wait_for(lambda: dr.read_status(client), lambda s: True, 300)
    assert err.value.status == 404 and fake_time["sleeps"] == []


# -- DR calls: what is sent, and the answers real servers give ------------------------------------
def body_of(call):
    return json.loads(call.request.body) if call.request.body else None


@pytest.mark.parametrize("answer", [dict(status=204), dict(status=200, json=fixture("enable_primary_warnings"))])
def test_enable_primary_accepts_204_and_200_with_warnings(vault, client, answer):
    vault.add(responses.POST, vault.base + "sys/replication/dr/primary/enable", **answer)
    resp = dr.enable_primary(client, "https://lb.example.com:8201")
    assert resp.status == answer["status"]
    assert body_of(vault.calls[0]) == {"primary_cluster_addr": "https://lb.example.com:8201"}
    assert vault.calls[0].request.headers["X-Vault-Token"] == "hvs.unit-test-token"
    if answer["status"] == 200:
        assert client.warnings == fixture("enable_primary_warnings")["warnings"]


def test_enable_primary_sends_no_empty_options(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/primary/enable", status=204)
    dr.enable_primary(client)
    assert body_of(vault.calls[0]) == {}


@pytest.mark.parametrize("fn, path", [(dr.demote_primary, "demote"), (dr.disable_primary, "disable")])
def test_demote_and_disable_primary(vault, client, fn, path):
    vault.add(responses.POST, vault.base + "sys/replication/dr/primary/" + path, status=204)
    fn(client)
    assert vault.calls[0].request.method == "POST"


def test_post_refused_with_412_is_sent_again(vault, client):
    """412 means the server did not act: sending the POST again is safe."""
    path = vault.base + "sys/replication/dr/secondary/promote"
    vault.add(responses.POST, path, status=412, json=fixture("error_412"))
    vault.add(responses.POST, path, status=200, json=fixture("promote_warnings"))
    resp = dr.promote_secondary(client, OP_TOKEN)
    assert resp.status == 200 and len(posts(vault)) == 2


def test_post_refused_with_503_is_sent_again(vault, client):
    path = vault.base + "sys/replication/dr/secondary/promote"
    vault.add(responses.POST, path, status=503, json={"errors": ["local node not active but active cluster node not found"]})
    vault.add(responses.POST, path, status=204)
    assert dr.promote_secondary(client, OP_TOKEN, force=True).status == 204
    assert body_of(vault.calls[-1]) == {"dr_operation_token": OP_TOKEN, "force": True}


def test_400_with_errors_is_raised_with_vault_errors_and_no_secret(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/promote", status=400,
              json=fixture("error_400_op_token"))
    with pytest.raises(VaultError) as err:
        dr.promote_secondary(client, OP_TOKEN)
    assert err.value.status == 400 and err.value.errors == ["DR operation token was not provided"]
    assert OP_TOKEN not in str(err.value)
    assert len(posts(vault)) == 1


def test_connection_refused_on_post_is_retried_because_never_sent(vault, client):
    path = vault.base + "sys/replication/dr/primary/demote"
    vault.add(responses.POST, path, body=refused())
    vault.add(responses.POST, path, status=204)
    assert dr.demote_primary(client).status == 204


def test_secondary_endpoints_send_vault_token_only_when_at_hand(vault):
    """On a DR secondary the op token authenticates; no login is attempted for a Vault token."""
    asked = []

    def source(required=True):
        asked.append(required)
        return None

    anon = VaultClient(URL, retries=0, token_source=source)
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/disable", status=204)
    dr.disable_secondary(anon, OP_TOKEN)
    assert asked == [False]
    assert "X-Vault-Token" not in vault.calls[0].request.headers
    assert body_of(vault.calls[0]) == {"dr_operation_token": OP_TOKEN}


def test_update_primary_body(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/update-primary", status=204)
    dr.update_primary(client, OP_TOKEN, activation_token=SECRET, primary_api_addr="https://b:8200", ca_file="/ca.pem")
    assert body_of(vault.calls[0]) == {"dr_operation_token": OP_TOKEN, "token": SECRET,
                                       "primary_api_addr": "https://b:8200", "ca_file": "/ca.pem"}


def test_update_primary_with_addrs(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/update-primary", status=204)
    dr.update_primary(client, OP_TOKEN, update_primary_addrs=["https://b:8201"])
    assert body_of(vault.calls[0]) == {"dr_operation_token": OP_TOKEN, "update_primary_addrs": ["https://b:8201"]}


def test_enable_secondary_body_and_warning(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/enable", json=fixture("enable_secondary_warnings"))
    resp = dr.enable_secondary(client, SECRET, ca_file="/etc/vault/ca.pem")
    assert resp.status == 200 and "initial sync" in client.warnings[0]
    assert body_of(vault.calls[0]) == {"token": SECRET, "ca_file": "/etc/vault/ca.pem"}


def test_secondary_token_wrapped(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/primary/secondary-token", json=fixture("secondary_token_wrapped"))
    issued = dr.issue_secondary_token(client, "dc2", "30m")
    assert issued == {"token": SECRET, "ttl": 1800, "creation_time": "2026-11-22T18:10:00.56961496Z", "id": "dc2"}
    assert vault.calls[0].request.method == "POST"
    assert body_of(vault.calls[0]) == {"id": "dc2", "ttl": "30m"}


def test_secondary_token_public_key_flow(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/primary/secondary-token", json=fixture("secondary_token_public_key"))
    key = fixture("generate_public_key")["data"]["secondary_public_key"]
    issued = dr.issue_secondary_token(client, "dc2", None, key)
    assert issued["token"] == fixture("secondary_token_public_key")["data"]["token"]
    assert issued["ttl"] == 1800
    assert body_of(vault.calls[0]) == {"id": "dc2", "secondary_public_key": key}


def test_secondary_token_without_token_in_answer_fails(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/primary/secondary-token", status=204)
    with pytest.raises(ModuleFailure) as err:
        dr.issue_secondary_token(client, "dc2")
    assert "without an activation token" in err.value.msg


def test_revoke_secondary(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/primary/revoke-secondary", status=204)
    dr.revoke_secondary(client, "dc2")
    assert body_of(vault.calls[0]) == {"id": "dc2"}


# -- lost answers: read status, never replay ------------------------------------------------------
def lost():
    return requests.exceptions.ReadTimeout("HTTPSConnectionPool(host='vault.test', port=8200): Read timed out. (read timeout=5)")


def test_lost_answer_confirmed_by_status(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/promote", body=lost())
    status(vault, "status_primary_fresh")
    resp = dr.promote_secondary(client, OP_TOKEN)
    assert isinstance(resp, dr.ConfirmedByStatus) and "was not sent again" in resp.note
    assert len(posts(vault)) == 1


def test_a_load_balancers_503_after_the_promotion_is_settled_by_status_not_replayed(vault, client):
    # issue 20: before, the client sent the promotion again on any 503
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/promote", status=503,
              body="<html><body><h1>503 Service Unavailable</h1></body></html>", content_type="text/html")
    status(vault, "status_primary_fresh")
    resp = dr.promote_secondary(client, OP_TOKEN)
    assert isinstance(resp, dr.ConfirmedByStatus) and len(posts(vault)) == 1


def test_lost_answer_not_shown_in_status_fails_without_replay(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/primary/enable", body=lost())
    status(vault, "status_disabled")
    with pytest.raises(ModuleFailure) as err:
        dr.enable_primary(client)
    assert len(posts(vault)) == 1
    assert "was lost" in err.value.msg and "mode disabled" in err.value.msg
    assert err.value.result["status"]["mode"] == "disabled"


def test_lost_answer_and_status_unreadable(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/disable", body=lost())
    vault.add(responses.GET, vault.base + STATUS, body=refused())
    with pytest.raises(ModuleFailure) as err:
        dr.disable_secondary(client, OP_TOKEN)
    assert "whether it took effect is unknown" in err.value.msg
    assert OP_TOKEN not in err.value.msg
    assert len(posts(vault)) == 1


def test_lost_secondary_token_with_id_now_known_says_force(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/primary/secondary-token", body=lost())
    status(vault, "status_primary_token_issued")
    with pytest.raises(ModuleFailure) as err:
        dr.issue_secondary_token(client, "dc2")
    assert "force=true" in err.value.msg and len(posts(vault)) == 1


def test_lost_secondary_token_with_id_unknown_says_run_again(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/primary/secondary-token", body=lost())
    status(vault, "status_primary_fresh")
    with pytest.raises(ModuleFailure) as err:
        dr.issue_secondary_token(client, "dc2")
    assert "no token was issued" in err.value.msg and len(posts(vault)) == 1


def test_lost_update_primary_confirmed_only_with_the_address(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/update-primary", body=lost())
    status(vault, "status_secondary")
    resp = dr.update_primary(client, OP_TOKEN, activation_token=SECRET, primary_cluster_addr="https://10.0.1.11:8201")
    assert isinstance(resp, dr.ConfirmedByStatus)


def test_lost_update_primary_without_address_cannot_be_confirmed(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/update-primary", body=lost())
    status(vault, "status_secondary")
    with pytest.raises(ModuleFailure) as err:
        dr.update_primary(client, OP_TOKEN, activation_token=SECRET)
    assert "single-use" in err.value.msg
    assert SECRET not in err.value.msg and OP_TOKEN not in err.value.msg


def test_lost_secondary_enable_confirmed_while_bootstrapping(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/enable", body=lost())
    status(vault, "status_bootstrapping")
    assert isinstance(dr.enable_secondary(client, SECRET), dr.ConfirmedByStatus)
    assert len(posts(vault)) == 1


def test_lost_revoke_confirmed_when_id_gone(vault, client):
    vault.add(responses.POST, vault.base + "sys/replication/dr/primary/revoke-secondary", body=lost())
    status(vault, "status_primary_fresh")
    assert isinstance(dr.revoke_secondary(client, "dc2"), dr.ConfirmedByStatus)


# -- helpers for modules -------------------------------------------------------------------------
def test_fail_for_names_module_state_cluster_and_vault_errors():
    err = VaultError("POST", "sys/replication/dr/secondary/promote", status=400,
                     errors=["DR operation token was not provided"], url=URL)
    failure = dr.fail_for("dr_secondary", "state=promoted", URL, err, "Check dr_operation_token.")
    assert failure.msg.startswith("dr_secondary state=promoted on %s: POST sys/replication/dr/secondary/promote" % URL)
    assert "HTTP 400" in failure.msg and failure.msg.endswith("Check dr_operation_token.")
    assert failure.result == {"http_status": 400, "vault_errors": ["DR operation token was not provided"]}


def test_diff_shape():
    assert dr.diff("disabled", "primary") == {"before": {"mode": "disabled"}, "after": {"mode": "primary"}}


def test_a_secondary_that_never_received_a_wal_is_not_healthy():
    data = dict(fixture("status_secondary")["data"], last_remote_wal=0)
    assert dr.is_healthy(data) is False
    data["last_remote_wal"] = "0"
    assert dr.is_healthy(data) is False
    data["last_remote_wal"] = 1
    assert dr.is_healthy(data) is True
