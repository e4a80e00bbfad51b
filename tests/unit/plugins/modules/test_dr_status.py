"""dr_status through main(), against recorded Vault answers."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from urllib3.exceptions import NewConnectionError

from ansible_collections.vaultops.dr.plugins.modules import dr_status
from conftest import BASE_ARGS, fixture, run_module, status

pytestmark = pytest.mark.usefixtures("fake_time")

URL = BASE_ARGS["url"]
STATUS = "sys/replication/dr/status"
SUMMARY_KEYS = ("mode", "state", "healthy", "cluster_id", "known_secondaries", "secondaries")


def run(args=None, **kw):
    return run_module(dr_status, dict(BASE_ARGS, **(args or {})), **kw)


@pytest.mark.parametrize("check_mode", [False, True])
def test_returns_summary_at_top_level_and_as_status(vault, check_mode):
    status(vault, "status_primary_strings")
    result = run(check_mode=check_mode)
    assert result["changed"] is False and result["waited"] == 0
    for key in SUMMARY_KEYS:
        assert result[key] == result["status"][key]
    assert result["mode"] == "primary" and result["healthy"] is True
    assert result["secondaries"][0]["replication_primary_canary_age_ms"] == 696
    assert result["status"]["raw"] == fixture("status_primary_strings")["data"]
    assert result["vault_warnings"] == []
    assert "X-Vault-Token" not in vault.calls[0].request.headers  # unauthenticated
    assert BASE_ARGS["token"] not in json.dumps(result)


def test_works_without_any_token(vault):
    status(vault, "status_secondary")
    args = dict(BASE_ARGS)
    args.pop("token")
    result = run_module(dr_status, args)
    assert result["mode"] == "secondary" and result["healthy"] is True


def test_legacy_mode_normalised(vault):
    status(vault, "status_primary_legacy")
    assert run()["mode"] == "primary"


def test_expect_secondaries_issued_but_not_connected_is_unhealthy(vault):
    status(vault, "status_primary_token_issued")
    result = run({"expect_secondaries": ["dc2"]})
    assert result["known_secondaries"] == ["dc2"] and result["healthy"] is False


def test_wait_for_healthy_with_expected_secondary(vault, fake_time):
    status(vault, "status_primary_token_issued", "status_primary_token_issued", "status_primary_strings")
    result = run({"wait_for_healthy": True, "expect_secondaries": ["dc2"], "wait_interval": 3})
    assert result["healthy"] is True and result["waited"] == 6
    assert fake_time["sleeps"] == [3, 3]


def test_wait_for_mode_through_412_and_503(vault):
    vault.add(responses.GET, vault.base + STATUS, status=412, json=fixture("error_412"))
    vault.add(responses.GET, vault.base + STATUS, status=503, json=fixture("error_503"))
    status(vault, "status_demoted", "status_primary_fresh")
    result = run({"wait_for_mode": "primary"})
    assert result["mode"] == "primary"


def test_wait_for_mode_and_healthy_together(vault):
    status(vault, "status_secondary_syncing", "status_secondary")
    result = run({"wait_for_mode": "secondary", "wait_for_healthy": True})
    assert result["state"] == "stream-wals" and result["healthy"]


def test_wait_times_out_with_last_status(vault):
    status(vault, "status_secondary_troubled")
    result = run({"wait_for_healthy": True, "wait_timeout": 30, "wait_interval": 10})
    assert result["failed"] is True
    assert "Timed out after 30s waiting for healthy on %s" % URL in result["msg"]
    assert "state idle, connection_state transient_failure" in result["msg"]
    assert result["status"]["mode"] == "secondary" and result["waited"] == 30


def test_wait_for_disabled_mode_times_out(vault):
    status(vault, "status_primary")
    result = run({"wait_for_mode": "disabled", "wait_timeout": 10})
    assert result["failed"] and "waiting for mode disabled" in result["msg"] and "mode primary" in result["msg"]


def test_unknown_mode(vault):
    vault.add(responses.GET, vault.base + STATUS, json={"data": {"mode": "something-new"}})
    result = run()
    assert result["mode"] == "unknown" and result["healthy"] is False


def test_connection_refused(vault):
    vault.add(responses.GET, vault.base + STATUS, body=requests.exceptions.ConnectionError(
        NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")))
    result = run()
    assert result["failed"] and "got no answer" in result["msg"]


def test_oss_server_without_dr(vault):
    vault.add(responses.GET, vault.base + STATUS, status=404, json={"errors": ["1 error occurred:\n\t* unsupported path\n\n"]})
    result = run({"wait_for_mode": "primary"})
    assert result["failed"] and "DR replication needs Vault Enterprise" in result["msg"]
    assert result["http_status"] == 404


PRIMARY_STATUS = "https://primary.test:8200/v1/" + STATUS


def _with_wal(name, **fields):
    body = fixture(name)
    body["data"].update(fields)
    return body


def test_catch_up_waits_until_the_secondary_has_the_primarys_wal(vault, fake_time):
    for received in (90, 90, 100):  # the first read, then one per round of the wait
        vault.add("GET", vault.base + STATUS, json=_with_wal("status_secondary", last_remote_wal=received,
                                                             merkle_root="m%d" % received))
    for _i in range(2):
        vault.add("GET", PRIMARY_STATUS, json=_with_wal("status_primary", last_wal=100, last_dr_wal=100, merkle_root="m100"))
    result = run({"catch_up_with": "https://primary.test:8200", "wait_interval": 1})
    assert result["wal_lag"] == 0 and result["primary_wal"] == 100 and result["waited"] == 1
    assert all(c.request.method == "GET" for c in vault.calls)
    assert all("X-Vault-Token" not in c.request.headers for c in vault.calls if "primary.test" in c.request.url)


def test_catch_up_with_lag_allowed_ignores_merkle_roots(vault, fake_time):
    vault.add("GET", PRIMARY_STATUS, json=_with_wal("status_primary", last_wal=105, last_dr_wal=105, merkle_root="x"))
    vault.add("GET", vault.base + STATUS, json=_with_wal("status_secondary", last_remote_wal=100, merkle_root="y"))
    vault.add("GET", vault.base + STATUS, json=_with_wal("status_secondary", last_remote_wal=100, merkle_root="y"))
    result = run({"catch_up_with": "https://primary.test:8200", "max_wal_lag": 5})
    assert result["wal_lag"] == 5 and result["waited"] == 0


def test_catch_up_with_a_cluster_that_is_not_a_primary_fails_at_once(vault, fake_time):
    vault.add("GET", vault.base + STATUS, json=fixture("status_secondary"))
    vault.add("GET", PRIMARY_STATUS, json=fixture("status_demoted"))
    result = run({"catch_up_with": "https://primary.test:8200"})
    assert result["failed"] and "is not a DR primary" in result["msg"] and fake_time["sleeps"] == []
    # The failover role goes on when that cluster is a freshly demoted primary: it needs that cluster's status.
    assert result["catch_up_primary"]["mode"] == "secondary" and result["catch_up_primary"]["state"] == "idle"


def test_version_is_read_from_seal_status(vault):
    status(vault, "status_primary")
    vault.add("GET", vault.base + "sys/seal-status", json={"sealed": False, "version": "1.15.2+ent"})
    assert run()["version"] == "1.15.2+ent"


# -- plaintext and unchecked TLS never pass silently (issue 20) ------------------------------------------
def test_plain_http_and_unchecked_tls_are_warned_about(vault, module_warnings):
    vault.add(responses.GET, "http://vault.test:8200/v1/" + STATUS, json=fixture("status_primary"))
    run({"url": "http://vault.test:8200"})
    assert [w for w in module_warnings() if "plain http://" in w and "https://" in w]
    status(vault, "status_primary")
    run({"validate_certs": False})
    assert [w for w in module_warnings() if "validate_certs=false for " + URL in w]
    assert not [w for w in module_warnings() if BASE_ARGS["token"] in w]


def test_checked_https_gives_no_transport_warning(vault, module_warnings):
    status(vault, "status_primary")
    run()
    assert not [w for w in module_warnings() if "http://" in w or "validate_certs" in w]


def test_a_redirect_outside_nodes_fails_naming_the_location_and_sends_nothing_there(vault):
    vault.add(responses.GET, vault.base + STATUS, status=307, headers={"Location": "https://elsewhere.test:1/v1/" + STATUS})
    result = run({"retries": 0})
    assert result["failed"] is True and result["http_status"] == 307
    text = json.dumps(result)
    assert "https://elsewhere.test:1/v1/" + STATUS in text and "nodes" in text
    assert len(vault.calls) == 1
