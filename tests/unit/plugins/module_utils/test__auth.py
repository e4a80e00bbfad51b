"""Authenticator: token, approle, userpass, none; lazy logins at the HTTP layer."""

from __future__ import annotations

import json

import pytest
import responses

from ansible_collections.vaultops.dr.plugins.module_utils._auth import AuthError, Authenticator
from ansible_collections.vaultops.dr.plugins.module_utils._client import VaultClient, VaultError

URL = "https://vault.test:8200"
SECRET_ID = "b7c3f0d2-secret-id-value-0003"
PASSWORD = "correct-horse-battery-staple"
LOGIN_TOKEN = "hvs.CAESILoggedInToken0004"


def login_answer(token=LOGIN_TOKEN):
    return {"auth": {"client_token": token, "policies": ["dr-admin"], "lease_duration": 3600, "renewable": True},
            "data": None, "warnings": None, "wrap_info": None}


def bound(**kw):
    auth = Authenticator(**kw)
    client = auth.bind(VaultClient(URL, retries=0))
    return auth, client


def test_token_method_sends_the_token(vault):
    vault.add(responses.GET, vault.base + "sys/x", json={})
    auth, client = bound(method="token", token="hvs.given")
    client.read("sys/x")
    assert vault.calls[0].request.headers["X-Vault-Token"] == "hvs.given"
    assert auth.token(required=False) and not auth.logged_in


def test_token_method_without_token_fails_only_when_needed(vault):
    vault.add(responses.GET, vault.base + "sys/replication/dr/status", json={"data": {"mode": "secondary"}})
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/disable", status=204)
    _auth, client = bound(method="token", token=None)
    client.read("sys/replication/dr/status", auth="none")
    client.write("sys/replication/dr/secondary/disable", data={"dr_operation_token": "x"}, auth="optional")
    with pytest.raises(AuthError) as err:
        client.read("sys/y")
    assert "VAULT_TOKEN" in str(err.value)
    assert len(vault.calls) == 2


def test_none_method_never_sends_a_token_and_refuses_required(vault):
    vault.add(responses.GET, vault.base + "sys/z", json={})
    auth, client = bound(method="none", token="hvs.ignored")
    client.read("sys/z", auth="optional")
    assert "X-Vault-Token" not in vault.calls[0].request.headers
    with pytest.raises(AuthError) as err:
        auth.token(required=True)
    assert "auth_method is none" in str(err.value)


def test_approle_logs_in_lazily_once(vault):
    vault.add(responses.POST, vault.base + "auth/approle/login", json=login_answer())
    vault.add(responses.GET, vault.base + "sys/replication/dr/status", json={"data": {"mode": "primary"}})
    vault.add(responses.POST, vault.base + "sys/replication/dr/primary/demote", status=204)
    auth, client = bound(method="approle", role_id="role-1", secret_id=SECRET_ID)
    client.read("sys/replication/dr/status", auth="none")
    assert len(vault.calls) == 1 and not auth.logged_in  # no login for an unauthenticated read
    client.write("sys/replication/dr/primary/demote")
    client.write("sys/replication/dr/primary/demote")
    login = vault.calls[1].request
    assert login.url.endswith("/v1/auth/approle/login")
    assert json.loads(login.body) == {"role_id": "role-1", "secret_id": SECRET_ID}
    assert "X-Vault-Token" not in login.headers
    assert vault.calls[2].request.headers["X-Vault-Token"] == LOGIN_TOKEN
    assert [c.request.url.rsplit("/", 1)[-1] for c in vault.calls].count("login") == 1
    assert auth.logged_in


def test_approle_without_secret_id_and_custom_mount(vault):
    vault.add(responses.POST, vault.base + "auth/ci-approle/login", json=login_answer())
    auth, _client = bound(method="approle", role_id="role-1", mount_point="/ci-approle/")
    assert auth.token() == LOGIN_TOKEN
    assert json.loads(vault.calls[0].request.body) == {"role_id": "role-1"}


def test_optional_does_not_log_in(vault):
    auth, _client = bound(method="approle", role_id="role-1", secret_id=SECRET_ID)
    assert auth.token(required=False) is None
    assert len(vault.calls) == 0


def test_userpass_login(vault):
    vault.add(responses.POST, vault.base + "auth/userpass/login/ops", json=login_answer())
    auth, _client = bound(method="userpass", username="ops", password=PASSWORD)
    assert auth.token() == LOGIN_TOKEN
    assert json.loads(vault.calls[0].request.body) == {"password": PASSWORD}


def test_failed_login_never_shows_the_secret(vault):
    vault.add(responses.POST, vault.base + "auth/userpass/login/ops", status=400, json={"errors": ["invalid username or password"]})
    auth, _client = bound(method="userpass", username="ops", password=PASSWORD)
    with pytest.raises(AuthError) as err:
        auth.token()
    message = str(err.value)
    assert "refused (invalid username or password)" in message and "check username and password" in message
    assert PASSWORD not in message


def test_login_server_trouble_stays_a_vault_error(vault):
    vault.add(responses.POST, vault.base + "auth/approle/login", status=500, json={"errors": ["internal error"]})
    auth, _client = bound(method="approle", role_id="role-1", secret_id=SECRET_ID)
    with pytest.raises(VaultError) as err:
        auth.token()
    assert err.value.status == 500 and SECRET_ID not in str(err.value)


def test_login_answer_without_token(vault):
    vault.add(responses.POST, vault.base + "auth/approle/login", json={"auth": None})
    auth, _client = bound(method="approle", role_id="role-1", secret_id=SECRET_ID)
    with pytest.raises(AuthError) as err:
        auth.token()
    assert "no client token" in str(err.value) and SECRET_ID not in str(err.value)


def test_unknown_method():
    with pytest.raises(AuthError):
        Authenticator(method="kerberos")


def test_token_ignored_for_login_methods():
    auth = Authenticator(method="approle", token="hvs.stray", role_id="r")
    assert auth.token(required=False) is None
