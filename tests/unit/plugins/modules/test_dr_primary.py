"""dr_primary through main(), against recorded Vault answers."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from urllib3.exceptions import NewConnectionError

from ansible_collections.vaultops.dr.plugins.modules import dr_primary
from conftest import BASE_ARGS, fixture, run_module, status, writes

pytestmark = pytest.mark.usefixtures("fake_time")

URL = BASE_ARGS["url"]
STATUS = "sys/replication/dr/status"
PRIMARY = "sys/replication/dr/primary/"


def run(args=None, **kw):
    return run_module(dr_primary, dict(BASE_ARGS, **(args or {})), **kw)


def no_secrets(result):
    assert BASE_ARGS["token"] not in json.dumps(result)


# -- enabled ---------------------------------------------------------------------------------
def test_enable_check_mode_reports_change_and_writes_nothing(vault):
    status(vault, "status_disabled")
    result = run({"state": "enabled"}, check_mode=True, diff=True)
    assert result["changed"] is True and result["mode_before"] == "disabled"
    assert result["diff"] == {"before": {"mode": "disabled", "state": None}, "after": {"mode": "primary", "state": "running"}}
    assert result["status"]["mode"] == "disabled"
    assert writes(vault) == []
    no_secrets(result)


def test_enable_with_200_and_warnings_waits_until_running(vault, fake_time, module_warnings):
    status(vault, "status_disabled", "status_disabled", "status_primary_fresh")
    vault.add(responses.POST, vault.base + PRIMARY + "enable", json=fixture("enable_primary_warnings"))
    result = run({"primary_cluster_addr": "https://lb.example.com:8201"}, diff=True)
    assert result["changed"] is True and result["mode_before"] == "disabled"
    assert result["status"]["mode"] == "primary" and result["status"]["state"] == "running"
    assert result["vault_warnings"] == fixture("enable_primary_warnings")["warnings"]
    assert "Vault: " + result["vault_warnings"][0] in module_warnings()
    assert result["diff"]["after"] == {"mode": "primary", "state": "running"}
    assert result["waited"] > 0
    [post] = writes(vault)
    assert json.loads(post.request.body) == {"primary_cluster_addr": "https://lb.example.com:8201"}
    assert post.request.headers["X-Vault-Token"] == BASE_ARGS["token"]
    no_secrets(result)


def test_enable_with_204(vault):
    status(vault, "status_disabled", "status_primary_fresh")
    vault.add(responses.POST, vault.base + PRIMARY + "enable", status=204)
    result = run()
    assert result["changed"] is True and result["vault_warnings"] == []
    assert result["status"]["mode"] == "primary"


@pytest.mark.parametrize("name", ["status_primary", "status_primary_strings", "status_primary_legacy", "status_primary_fresh"])
@pytest.mark.parametrize("check_mode", [True, False])
def test_enable_on_primary_is_no_change_and_no_write(vault, name, check_mode):
    status(vault, name)
    result = run({"state": "enabled"}, check_mode=check_mode, diff=True)
    assert result["changed"] is False and result["mode_before"] == "primary"
    assert result["diff"] == {"before": {"mode": "primary"}, "after": {"mode": "primary"}}
    assert writes(vault) == [] and len(vault.calls) == 1


def test_enable_then_second_run_is_idempotent(vault):
    status(vault, "status_disabled", "status_primary_fresh")
    vault.add(responses.POST, vault.base + PRIMARY + "enable", status=204)
    assert run()["changed"] is True
    assert len(writes(vault)) == 1
    again = run()
    assert again["changed"] is False and len(writes(vault)) == 1


def test_enable_on_primary_with_other_cluster_addr_warns(vault, module_warnings):
    body = fixture("status_primary")
    body["data"]["primary_cluster_addr"] = "https://old-lb:8201"
    vault.add(responses.GET, vault.base + STATUS, json=body)
    result = run({"primary_cluster_addr": "https://new-lb:8201"})
    assert result["changed"] is False and writes(vault) == []
    assert any("https://old-lb:8201" in w for w in module_warnings())


@pytest.mark.parametrize("name", ["status_secondary", "status_demoted", "status_secondary_troubled"])
def test_enable_on_secondary_fails_with_guidance(vault, name):
    status(vault, name)
    result = run({"state": "enabled"})
    assert result["failed"] is True
    msg = result["msg"]
    assert msg.startswith("dr_primary state=enabled on %s: the cluster is mode secondary" % URL)
    assert "promote it with vaultops.dr.dr_secondary state=promoted" in msg
    assert result["mode_before"] == "secondary" and writes(vault) == []
    no_secrets(result)


def test_enable_on_bootstrapping_fails_saying_wait(vault):
    status(vault, "status_bootstrapping")
    result = run()
    assert result["failed"] and "mode bootstrapping" in result["msg"] and "wait until" in result["msg"]


def test_enable_412_then_success(vault):
    status(vault, "status_disabled", "status_primary_fresh")
    vault.add(responses.POST, vault.base + PRIMARY + "enable", status=412, json=fixture("error_412"))
    vault.add(responses.POST, vault.base + PRIMARY + "enable", status=204)
    result = run()
    assert result["changed"] is True and len(writes(vault)) == 2


def test_enable_503_then_success(vault):
    status(vault, "status_disabled", "status_primary_fresh")
    vault.add(responses.POST, vault.base + PRIMARY + "enable", status=503, json=fixture("error_503"))
    vault.add(responses.POST, vault.base + PRIMARY + "enable", status=200, json=fixture("enable_primary_warnings"))
    assert run()["changed"] is True


def test_enable_400_fails_with_vault_errors(vault):
    status(vault, "status_disabled")
    vault.add(responses.POST, vault.base + PRIMARY + "enable", status=400,
              json={"errors": ["DR Replication is a Vault Enterprise feature"]})
    result = run()
    assert result["failed"] is True
    assert result["msg"].startswith("dr_primary state=enabled on %s: POST %senable" % (URL, PRIMARY))
    assert "HTTP 400: DR Replication is a Vault Enterprise feature" in result["msg"]
    assert "was mode disabled" in result["msg"]
    assert result["http_status"] == 400 and result["vault_errors"] == ["DR Replication is a Vault Enterprise feature"]
    no_secrets(result)


def test_connection_refused(vault):
    vault.add(responses.GET, vault.base + STATUS, body=requests.exceptions.ConnectionError(
        NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")))
    result = run()
    assert result["failed"] is True and "got no answer" in result["msg"] and "Check url" in result["msg"]
    assert result["http_status"] is None


def test_enable_without_token_fails_on_auth_not_on_status(vault):
    status(vault, "status_disabled")
    args = dict(BASE_ARGS)
    args.pop("token")
    result = run_module(dr_primary, args)
    assert result["failed"] and "needs a Vault token" in result["msg"]
    assert writes(vault) == []


def test_no_wait_reads_status_once_after_the_change(vault):
    status(vault, "status_disabled", "status_primary_fresh")
    vault.add(responses.POST, vault.base + PRIMARY + "enable", status=204)
    result = run({"wait": False})
    assert result["changed"] and result["status"]["mode"] == "primary" and result["waited"] == 0
    assert [c.request.method for c in vault.calls] == ["GET", "POST", "GET"]


def test_wait_timeout_names_last_status(vault):
    status(vault, "status_disabled")
    vault.add(responses.POST, vault.base + PRIMARY + "enable", status=204)
    result = run({"wait_timeout": 20})
    assert result["failed"] and "Timed out after 20s waiting for mode primary, state running" in result["msg"]
    assert "last status seen: mode disabled" in result["msg"]
    assert len(writes(vault)) == 1


def test_lost_answer_confirmed_by_status_warns_and_reports_change(vault, module_warnings):
    status(vault, "status_disabled", "status_primary_fresh")
    vault.add(responses.POST, vault.base + PRIMARY + "enable", body=requests.exceptions.ReadTimeout("Read timed out."))
    result = run()
    assert result["changed"] is True and len(writes(vault)) == 1
    assert any("was lost" in w and "not sent again" in w for w in module_warnings())


# -- demoted ---------------------------------------------------------------------------------
def test_demote_check_mode(vault):
    status(vault, "status_primary")
    result = run({"state": "demoted"}, check_mode=True, diff=True)
    # The diff names the secondaries that lose their primary.
    assert result["changed"] and result["diff"] == {"before": {"mode": "primary", "known_secondaries": ["dc2"]},
                                                    "after": {"mode": "secondary", "known_secondaries": []}}
    assert writes(vault) == []


def test_demote_waits_for_secondary(vault):
    status(vault, "status_primary", "status_primary", "status_demoted")
    vault.add(responses.POST, vault.base + PRIMARY + "demote", json=fixture("promote_warnings"))
    result = run({"state": "demoted"})
    assert result["changed"] and result["status"]["mode"] == "secondary" and result["mode_before"] == "primary"
    assert result["vault_warnings"]


@pytest.mark.parametrize("name", ["status_demoted", "status_secondary"])
def test_demote_on_secondary_is_no_change(vault, name):
    status(vault, name)
    for check_mode in (True, False):
        assert run({"state": "demoted"}, check_mode=check_mode)["changed"] is False
    assert writes(vault) == []


def test_demote_on_disabled_fails(vault):
    status(vault, "status_disabled")
    result = run({"state": "demoted"})
    assert result["failed"] and "only a DR primary can be demoted" in result["msg"]
    assert "dr_primary state=demoted on %s" % URL in result["msg"]


# -- disabled --------------------------------------------------------------------------------
def test_disable_primary(vault):
    status(vault, "status_primary", "status_disabled")
    vault.add(responses.POST, vault.base + PRIMARY + "disable", status=204)
    result = run({"state": "disabled"}, diff=True)
    assert result["changed"] and result["status"]["mode"] == "disabled"
    assert result["diff"] == {"before": {"mode": "primary", "known_secondaries": ["dc2"]},
                              "after": {"mode": "disabled", "known_secondaries": []}}


def test_disable_on_disabled_is_no_change(vault):
    status(vault, "status_disabled")
    assert run({"state": "disabled"})["changed"] is False
    assert writes(vault) == []


def test_disable_on_secondary_fails_pointing_to_dr_secondary(vault):
    status(vault, "status_secondary")
    result = run({"state": "disabled"})
    assert result["failed"]
    assert "dr_primary state=disabled on %s" % URL in result["msg"]
    assert "vaultops.dr.dr_secondary state=disabled" in result["msg"]
    assert writes(vault) == []
