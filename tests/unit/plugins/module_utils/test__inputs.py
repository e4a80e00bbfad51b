"""Bad input is refused before any request, naming the option and the fix, never echoing a secret."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from ansible_collections.vaultops.dr.plugins.module_utils._client import VaultConnectionError, VaultError
from ansible_collections.vaultops.dr.plugins.module_utils._errors import explain
from ansible_collections.vaultops.dr.plugins.modules import (
    dr_batch_token,
    dr_operation_token,
    dr_primary,
    dr_secondary,
    dr_secondary_token,
    dr_status,
    recovery_token,
)
from conftest import BASE_ARGS, fixture, run_module

pytestmark = pytest.mark.usefixtures("fake_time")

TOKEN_LIKE = "hvs.CAESIJustSomeSecretTokenValue000000000001"
PRIVATE_KEY = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQdGBGVsecretsecret\n-----END PGP PRIVATE KEY BLOCK-----"


def refused(vault, module, args, *needles, secret=None):
    result = run_module(module, dict(BASE_ARGS, **args))
    assert result.get("failed"), result
    for needle in needles:
        assert needle in result["msg"], result["msg"]
    assert len(vault.calls) == 0, "a request was sent"
    if secret:
        assert secret not in json.dumps(result)
    assert "Unexpected error" not in result["msg"] and "Traceback" not in json.dumps(result)
    return result


@pytest.mark.parametrize("option,value,needle", [
    ("timeout", 0, "timeout must be between 1 and 3600"),
    ("timeout", 99999, "timeout must be between 1 and 3600"),
    ("retries", -1, "retries must be between 0 and 20"),
    ("wait_timeout", -5, "wait_timeout must be between 0 and 86400"),
])
def test_numbers_out_of_range(vault, option, value, needle):
    refused(vault, dr_primary, {option: value}, needle)


def test_ranges_apply_to_every_module(vault):
    for module, extra in ((dr_status, {}), (dr_secondary_token, {"id": "dc2"}), (dr_batch_token, {}),
                          (dr_operation_token, {}), (recovery_token, {})):
        refused(vault, module, dict(extra, timeout=0), "timeout must be between")


def test_dr_status_numbers(vault):
    refused(vault, dr_status, {"wait_interval": 0}, "wait_interval must be between 1")
    refused(vault, dr_status, {"max_wal_lag": -1}, "max_wal_lag must be between 0")


@pytest.mark.parametrize("ttl", ["forever", "-5m", "30 minutes", "0"])
def test_bad_ttl(vault, ttl):
    refused(vault, dr_secondary_token, {"id": "dc2", "ttl": ttl}, "ttl must be")


def test_missing_ca_cert_file(vault, tmp_path):
    refused(vault, dr_primary, {"ca_cert": str(tmp_path / "nope.pem")}, "ca_cert", "does not exist")


def test_ca_cert_dir_is_accepted(vault, tmp_path):
    vault.add(responses.GET, vault.base + "sys/replication/dr/status", json=fixture("status_primary"))
    assert not run_module(dr_status, dict(BASE_ARGS, ca_cert=str(tmp_path))).get("failed")


def test_token_in_the_url_field_is_not_echoed(vault):
    refused(vault, dr_status, {"url": TOKEN_LIKE}, "url holds what looks like a token", secret=TOKEN_LIKE)


def test_url_without_scheme(vault):
    refused(vault, dr_status, {"url": "vault.example.com:8200"}, "url must be an address like https://")


@pytest.mark.parametrize("option", ["primary_api_addr", "primary_cluster_addr"])
def test_token_in_an_address_option(vault, option):
    refused(vault, dr_secondary, {"state": "enabled", option: TOKEN_LIKE}, option + " holds what looks like a token",
            secret=TOKEN_LIKE)


def test_address_list_items(vault):
    refused(vault, dr_secondary, {"state": "primary_updated", "update_primary_addrs": ["https://b:8201", TOKEN_LIKE]},
            "update_primary_addrs[1] holds", secret=TOKEN_LIKE)
    refused(vault, dr_secondary, {"state": "primary_updated", "update_primary_addrs": []},
            "update_primary_addrs is an empty list")


def test_private_key_where_a_public_key_belongs(vault):
    refused(vault, dr_secondary_token, {"id": "dc2", "secondary_public_key": PRIVATE_KEY},
            "secondary_public_key holds a private key", secret="secretsecret")


@pytest.mark.parametrize("sid,needle", [("", "must be a DR secondary id"), ("dc 2", "must be a DR secondary id"),
                                        (TOKEN_LIKE, "looks like a Vault token")])
def test_secondary_ids(vault, sid, needle):
    refused(vault, dr_secondary_token, {"id": sid}, needle, secret=TOKEN_LIKE if sid == TOKEN_LIKE else None)


def test_expect_secondaries_items(vault):
    refused(vault, dr_status, {"expect_secondaries": ["dc2", "bad id"]}, "expect_secondaries[1] must be")


# -- what the server says, explained ---------------------------------------------------------------
def test_http_against_tls():
    err = VaultError("GET", "sys/replication/dr/status", status=400,
                     errors=["Client sent an HTTP request to an HTTPS server."], url="http://v:8200")
    assert "use https://" in explain(err)


@pytest.mark.parametrize("reason,needle", [
    ("SSLError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate",
     "set ca_cert to the CA"),
    ("SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)", "TLS listener"),
    ("SSLError: hostname mismatch, certificate is not valid for 'x'", "does not name the host"),
    # what Python 3.11 with OpenSSL 3 says (measured against a local TLS server with another name's certificate)
    ("SSLError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: IP address mismatch, certificate is not "
     "valid for '127.0.0.1'. (_ssl.c:1006)", "does not name the host"),
])
def test_tls_failures(reason, needle):
    assert needle in explain(VaultConnectionError("GET", "sys/replication/dr/status", url="https://v:8200",
                                                  reason=reason))


@pytest.mark.parametrize("code", [403, 404])
def test_server_without_the_dr_api(vault, code):
    vault.add(responses.GET, vault.base + "sys/replication/dr/status", status=code,
              json={"errors": ["permission denied"] if code == 403 else ["unsupported path"]})
    vault.add(responses.GET, vault.base + "sys/seal-status", json={"sealed": False, "version": "2.1.0"})
    result = run_module(dr_primary, dict(BASE_ARGS))
    assert result["failed"] and "does not serve the DR replication API" in result["msg"]
    assert "token is invalid" not in result["msg"] and result["http_status"] == code


def test_recovery_mode(vault):
    vault.add(responses.GET, vault.base + "sys/replication/dr/status", status=404, json={"errors": []})
    vault.add(responses.GET, vault.base + "sys/seal-status", status=404, json={"errors": []})
    result = run_module(dr_status, dict(BASE_ARGS))
    assert result["failed"] and "recovery mode" in result["msg"] and "vaultops.dr.recovery_token" in result["msg"]


def test_sealed(vault):
    vault.add(responses.GET, vault.base + "sys/replication/dr/status", status=503, json=fixture("error_503"))
    result = run_module(dr_status, dict(BASE_ARGS, retries=0))
    assert result["failed"] and "Unseal the cluster" in result["msg"]


def test_spent_activation_token_on_update_primary_leads_with_the_activation_token(vault):
    vault.add(responses.GET, vault.base + "sys/replication/dr/status", json=fixture("status_demoted"))
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/update-primary", status=400,
              json={"errors": ["wrapping token is not valid or does not exist"]})
    result = run_module(dr_secondary, dict(BASE_ARGS, state="primary_updated", dr_operation_token="hvb.x" * 5,
                                           activation_token=TOKEN_LIKE))
    msg = result["msg"]
    assert result["failed"] and "activation token is spent, expired" in msg and "force=true" in msg
    assert "Check dr_operation_token" not in msg and TOKEN_LIKE not in json.dumps(result)


def test_http_against_a_tls_server_that_drops_it():
    err = VaultConnectionError("GET", "x", url="http://v:8200", reason="ConnectionError: ('Connection aborted.', "
                               "RemoteDisconnected('Remote end closed connection without response'))")
    assert "if it speaks TLS there, use https://" in explain(err)


def test_no_double_full_stop():
    err = VaultError("GET", "x", status=400, errors=["Client sent an HTTP request to an HTTPS server."], url="http://v")
    assert ".." not in explain(err)


def test_connection_refused_is_not_a_tls_problem():
    err = VaultConnectionError("GET", "x", url="https://v:8200", reason="ConnectionError: [Errno 111] Connection refused")
    assert "Check url" in explain(err)


def test_real_ssl_error_reason_from_requests(vault):
    vault.add(responses.GET, vault.base + "sys/replication/dr/status", body=requests.exceptions.SSLError(
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate chain"))
    result = run_module(dr_status, dict(BASE_ARGS, retries=0))
    assert result["failed"] and "set ca_cert to the CA" in result["msg"]
