"""dr_secondary_token through main(), against recorded Vault answers."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from urllib3.exceptions import NewConnectionError

from ansible_collections.vaultops.dr.plugins.modules import dr_secondary_token
from conftest import BASE_ARGS, fixture, run_module, status, writes

pytestmark = pytest.mark.usefixtures("fake_time")

URL = BASE_ARGS["url"]
STATUS = "sys/replication/dr/status"
TOKEN_PATH = "sys/replication/dr/primary/secondary-token"
REVOKE_PATH = "sys/replication/dr/primary/revoke-secondary"
ACTIVATION = fixture("secondary_token_wrapped")["wrap_info"]["token"]


def run(args, **kw):
    return run_module(dr_secondary_token, dict(BASE_ARGS, **args), **kw)


def test_check_mode_issue_reports_change_without_token_or_write(vault):
    status(vault, "status_primary_fresh")
    result = run({"id": "dc2"}, check_mode=True, diff=True)
    assert result["changed"] is True and "token" not in result
    assert result["diff"] == {"before": {"id": "dc2", "known": False, "known_secondaries": []},
                              "after": {"id": "dc2", "known": True, "known_secondaries": ["dc2"]}}
    assert writes(vault) == []


def test_issue_wrapped_token(vault):
    status(vault, "status_primary_fresh", "status_primary_token_issued")
    vault.add(responses.POST, vault.base + TOKEN_PATH, json=fixture("secondary_token_wrapped"))
    result = run({"id": "dc2", "ttl": "15m"}, diff=True)
    assert result["changed"] is True
    assert result["token"] == ACTIVATION and result["ttl"] == 1800 and result["id"] == "dc2"
    assert result["creation_time"] == "2026-11-22T18:10:00.56961496Z"
    assert result["status"]["known_secondaries"] == ["dc2"]
    [post] = writes(vault)
    assert post.request.method == "POST"  # must be POST, never GET with ?id=
    assert json.loads(post.request.body) == {"id": "dc2", "ttl": "15m"}
    assert post.request.headers["X-Vault-Token"] == BASE_ARGS["token"]
    assert BASE_ARGS["token"] not in json.dumps(result)


def test_issue_public_key_flow(vault):
    status(vault, "status_primary_fresh", "status_primary_token_issued")
    vault.add(responses.POST, vault.base + TOKEN_PATH, json=fixture("secondary_token_public_key"))
    result = run({"id": "dc2", "secondary_public_key": "BFmH0bnAj1V8xgkf2F2p7Jv7hjz2C7H9X6jGZ3c8Lx0="})
    assert result["token"] == fixture("secondary_token_public_key")["data"]["token"]
    assert json.loads(writes(vault)[0].request.body)["secondary_public_key"].startswith("BFmH")


@pytest.mark.parametrize("check_mode", [True, False])
def test_known_id_is_no_change_and_no_token(vault, check_mode):
    """Known means a token was issued, even if the secondary never connected."""
    status(vault, "status_primary_token_issued")
    result = run({"id": "dc2"}, check_mode=check_mode, diff=True)
    assert result["changed"] is False and "token" not in result
    assert result["diff"]["before"] == result["diff"]["after"] == {"id": "dc2", "known": True}
    assert writes(vault) == []


def test_second_run_is_idempotent(vault):
    status(vault, "status_primary_fresh", "status_primary_token_issued")
    vault.add(responses.POST, vault.base + TOKEN_PATH, json=fixture("secondary_token_wrapped"))
    assert run({"id": "dc2"})["changed"] is True
    again = run({"id": "dc2"})
    assert again["changed"] is False and "token" not in again and len(writes(vault)) == 1


def test_force_revokes_then_issues(vault):
    status(vault, "status_primary_token_issued")
    vault.add(responses.POST, vault.base + REVOKE_PATH, status=204)
    vault.add(responses.POST, vault.base + TOKEN_PATH, json=fixture("secondary_token_wrapped"))
    result = run({"id": "dc2", "force": True})
    assert result["changed"] is True and result["token"] == ACTIVATION
    assert [c.request.url.rsplit("/", 1)[-1] for c in writes(vault)] == ["revoke-secondary", "secondary-token"]
    assert json.loads(writes(vault)[0].request.body) == {"id": "dc2"}


def test_force_check_mode_writes_nothing(vault):
    status(vault, "status_primary_token_issued")
    result = run({"id": "dc2", "force": True}, check_mode=True)
    assert result["changed"] is True and writes(vault) == []


def test_force_on_unknown_id_only_issues(vault):
    status(vault, "status_primary_fresh", "status_primary_token_issued")
    vault.add(responses.POST, vault.base + TOKEN_PATH, json=fixture("secondary_token_wrapped"))
    run({"id": "dc2", "force": True})
    assert [c.request.url.rsplit("/", 1)[-1] for c in writes(vault)] == ["secondary-token"]


def test_absent_revokes_known_id(vault):
    status(vault, "status_primary", "status_primary_fresh")
    vault.add(responses.POST, vault.base + REVOKE_PATH, status=204)
    result = run({"id": "dc2", "state": "absent"}, diff=True)
    assert result["changed"] is True and "token" not in result
    assert result["diff"] == {"before": {"id": "dc2", "known": True, "known_secondaries": ["dc2"]},
                              "after": {"id": "dc2", "known": False, "known_secondaries": []}}
    assert result["status"]["known_secondaries"] == []


@pytest.mark.parametrize("name", ["status_primary_fresh", "status_disabled"])
def test_absent_unknown_id_is_no_change(vault, name):
    status(vault, name)
    assert run({"id": "dc2", "state": "absent"})["changed"] is False
    assert writes(vault) == []


@pytest.mark.parametrize("name, mode", [("status_secondary", "secondary"), ("status_disabled", "disabled"),
                                        ("status_demoted", "secondary")])
def test_issue_on_non_primary_fails_with_guidance(vault, name, mode):
    status(vault, name)
    result = run({"id": "dc2"})
    assert result["failed"] is True
    assert result["msg"].startswith("dr_secondary_token id=dc2 state=present on %s: the cluster is mode %s" % (URL, mode))
    assert "issued and revoked on the DR primary only" in result["msg"]
    assert writes(vault) == []


def test_403_says_sudo_is_needed(vault):
    status(vault, "status_primary_fresh")
    vault.add(responses.POST, vault.base + TOKEN_PATH, status=403, json=fixture("error_403"))
    result = run({"id": "dc2"})
    assert result["failed"] and "HTTP 403" in result["msg"] and "sudo" in result["msg"]
    assert result["http_status"] == 403


def test_400_with_errors(vault):
    status(vault, "status_primary_fresh")
    vault.add(responses.POST, vault.base + TOKEN_PATH, status=400, json={"errors": ["invalid ttl"]})
    result = run({"id": "dc2", "ttl": "9000h"})  # a duration Vault may refuse (beyond its max TTL)
    assert result["failed"] and "dr_secondary_token id=dc2 state=present on %s" % URL in result["msg"]
    assert result["vault_errors"] == ["invalid ttl"]


def test_412_then_success(vault):
    status(vault, "status_primary_fresh", "status_primary_token_issued")
    vault.add(responses.POST, vault.base + TOKEN_PATH, status=412, json=fixture("error_412"))
    vault.add(responses.POST, vault.base + TOKEN_PATH, json=fixture("secondary_token_wrapped"))
    assert run({"id": "dc2"})["token"] == ACTIVATION


def test_200_with_warnings_on_revoke(vault):
    status(vault, "status_primary", "status_primary_fresh")
    vault.add(responses.POST, vault.base + REVOKE_PATH, json={"warnings": ["secondary dc2 was connected"], "data": None})
    result = run({"id": "dc2", "state": "absent"})
    assert result["changed"] and result["vault_warnings"] == ["secondary dc2 was connected"]


def test_lost_answer_is_not_replayed_and_says_force(vault):
    status(vault, "status_primary_fresh", "status_primary_token_issued")
    vault.add(responses.POST, vault.base + TOKEN_PATH, body=requests.exceptions.ReadTimeout("Read timed out."))
    result = run({"id": "dc2"})
    assert result["failed"] and "force=true" in result["msg"]
    assert len(writes(vault)) == 1


def test_issue_does_not_wait(vault, fake_time):
    status(vault, "status_primary_fresh")
    vault.add(responses.POST, vault.base + TOKEN_PATH, json=fixture("secondary_token_wrapped"))
    result = run({"id": "dc2", "wait_timeout": 10})
    assert result["changed"] and result["token"] == ACTIVATION and fake_time["sleeps"] == []


def test_revoke_waits_until_the_id_is_gone(vault, fake_time):
    status(vault, "status_primary", "status_primary", "status_primary_fresh")
    vault.add(responses.POST, vault.base + REVOKE_PATH, status=204)
    result = run({"id": "dc2", "state": "absent"})
    assert result["status"]["known_secondaries"] == [] and fake_time["sleeps"] == [2]


def test_revoke_wait_timeout(vault):
    status(vault, "status_primary")
    vault.add(responses.POST, vault.base + REVOKE_PATH, status=204)
    result = run({"id": "dc2", "state": "absent", "wait_timeout": 10})
    assert result["failed"] and "waiting for id dc2 to be gone" in result["msg"]
    assert len(writes(vault)) == 1


def test_no_wait_reads_status_once(vault):
    status(vault, "status_primary", "status_primary")
    vault.add(responses.POST, vault.base + REVOKE_PATH, status=204)
    result = run({"id": "dc2", "state": "absent", "wait": False})
    assert result["changed"] and [c.request.method for c in vault.calls] == ["GET", "POST", "GET"]


def test_connection_refused(vault):
    vault.add(responses.GET, vault.base + STATUS, body=requests.exceptions.ConnectionError(
        NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")))
    result = run({"id": "dc2"})
    assert result["failed"] and "got no answer" in result["msg"] and "Check url" in result["msg"]
    assert writes(vault) == []


def test_503_then_success(vault):
    status(vault, "status_primary_fresh", "status_primary_token_issued")
    vault.add(responses.POST, vault.base + TOKEN_PATH, status=503, json=fixture("error_503"))
    vault.add(responses.POST, vault.base + TOKEN_PATH, json=fixture("secondary_token_wrapped"))
    result = run({"id": "dc2"})
    assert result["changed"] and result["token"] == ACTIVATION and len(writes(vault)) == 2
