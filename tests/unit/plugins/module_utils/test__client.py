"""VaultClient at the HTTP layer: headers, Vault's envelopes, errors, and which requests are sent again."""

from __future__ import annotations

import json
import time

import pytest
import requests
import responses
from urllib3.exceptions import NewConnectionError

from ansible_collections.vaultops.dr.plugins.module_utils import _client as client_module
from ansible_collections.vaultops.dr.plugins.module_utils._client import (
    VaultAnswerLost,
    VaultClient,
    VaultConnectionError,
    VaultError,
    VaultRedirectRefused,
    VaultResponse,
)
from conftest import fixture

URL = "https://vault.test:8200"
TOKEN = "hvs.unit-test-token"
SECRET = "hvs.CAESIFwrappedActivationTokenSecretValue0000001"


@pytest.fixture(autouse=True)
def sleeps(monkeypatch):
    seen = []
    monkeypatch.setattr(time, "sleep", seen.append)
    return seen


def make(retries=2, token=TOKEN, **kw):
    return VaultClient(URL, retries=retries, token_source=(lambda required=True: token), **kw)


def refused():
    return requests.exceptions.ConnectionError(NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused"))


def timed_out():
    return requests.exceptions.ReadTimeout("HTTPSConnectionPool(host='vault.test', port=8200): Read timed out. (read timeout=5)")


# -- headers and auth modes -------------------------------------------------------------------
def test_auth_modes_decide_the_token_header(vault):
    vault.add(responses.GET, vault.base + "sys/x", json={"data": {}})
    asked = []

    def source(required=True):
        asked.append(required)
        return TOKEN if required else None

    c = VaultClient(URL, token_source=source)
    c.read("sys/x")
    c.read("sys/x", auth="optional")
    c.read("sys/x", auth="none")
    headers = [call.request.headers for call in vault.calls]
    assert headers[0]["X-Vault-Token"] == TOKEN
    assert "X-Vault-Token" not in headers[1] and "X-Vault-Token" not in headers[2]
    assert asked == [True, False]  # auth="none" never asks for a token


def test_explicit_token_namespace_and_wrap_ttl_headers(vault):
    vault.add(responses.POST, vault.base + "sys/y", status=204)
    c = make(namespace="team-a")
    c.write("sys/y", data={"a": 1}, token="hvb.other", wrap_ttl="5m")
    h = vault.calls[0].request.headers
    assert h["X-Vault-Token"] == "hvb.other" and h["X-Vault-Namespace"] == "team-a" and h["X-Vault-Wrap-TTL"] == "5m"
    assert json.loads(vault.calls[0].request.body) == {"a": 1}


@pytest.mark.parametrize("path, sent", [
    ("sys/replication/dr/status", False), ("sys/replication/dr/secondary/promote", False),
    ("sys/generate-root/attempt", False), ("sys/generate-recovery-token/update", False), ("sys/health", False),
    ("sys/seal-status", False), ("/sys/leader", False), ("auth/approle/login", True), ("sys/policies/acl/x", True),
    ("sys/healthz", True), ("secret/data/sys/health", True)])
def test_namespace_header_never_on_root_namespace_paths(vault, path, sent):
    vault.add(responses.GET, vault.base + path.lstrip("/"), json={"data": {}})
    make(namespace="team-a").read(path, auth="none")
    assert ("X-Vault-Namespace" in vault.calls[0].request.headers) is sent


def test_url_trailing_slash_and_leading_path_slash(vault):
    vault.add(responses.GET, vault.base + "sys/replication/dr/status", json=fixture("status_disabled"))
    c = VaultClient(URL + "/", retries=0)
    assert c.read("/sys/replication/dr/status", auth="none").data == {"mode": "disabled"}


def test_ca_cert_and_validate_certs_set_verify():
    assert VaultClient(URL, ca_cert="/tmp/ca.pem").session.verify == "/tmp/ca.pem"
    assert VaultClient(URL, validate_certs=False, ca_cert="/tmp/ca.pem").session.verify is False


# -- answers ---------------------------------------------------------------------------------
def test_204_has_no_body_and_no_data(vault):
    vault.add(responses.POST, vault.base + "sys/replication/dr/primary/demote", status=204)
    resp = make().write("sys/replication/dr/primary/demote")
    assert (resp.status, resp.body, resp.data, resp.warnings) == (204, None, {}, [])


def test_200_with_warnings_collected_once(vault):
    vault.add(responses.POST, vault.base + "sys/replication/dr/primary/enable", json=fixture("enable_primary_warnings"))
    c = make()
    first = c.write("sys/replication/dr/primary/enable")
    c.write("sys/replication/dr/primary/enable")
    assert first.status == 200 and first.warnings == fixture("enable_primary_warnings")["warnings"]
    assert c.warnings == first.warnings  # not repeated


def test_data_envelope_or_flat_body():
    assert VaultResponse(200, {"data": {"mode": "primary"}, "mode": "dr-primary"}).data == {"mode": "primary"}
    assert VaultResponse(200, {"started": True, "nonce": "n"}).data == {"started": True, "nonce": "n"}
    assert VaultResponse(200, ["not", "a", "dict"]).body is None


def test_wrapped_answer_keeps_wrap_info(vault):
    vault.add(responses.POST, vault.base + "sys/replication/dr/primary/secondary-token", json=fixture("secondary_token_wrapped"))
    resp = make().write("sys/replication/dr/primary/secondary-token", data={"id": "dc2"})
    assert resp.body["wrap_info"]["token"] == SECRET and resp.data == resp.body  # data is null


def test_472_from_a_dr_secondary_is_an_answer_not_an_error(vault):
    vault.add(responses.GET, vault.base + "sys/health", status=472, json={"replication_dr_mode": "secondary"})
    resp = make().read("sys/health", auth="none")
    assert resp.status == 472 and resp.data["replication_dr_mode"] == "secondary"


def test_write_count_counts_state_changing_requests(vault):
    vault.add(responses.GET, vault.base + "sys/a", json={})
    vault.add(responses.POST, vault.base + "sys/a", status=204)
    vault.add(responses.DELETE, vault.base + "sys/a", status=204)
    c = make()
    c.read("sys/a")
    c.write("sys/a")
    c.delete("sys/a")
    assert c.write_count == 2


# -- errors ----------------------------------------------------------------------------------
def test_400_with_errors(vault):
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/disable", status=400,
              json=fixture("error_400_not_secondary"))
    with pytest.raises(VaultError) as err:
        make().write("sys/replication/dr/secondary/disable", data={"dr_operation_token": SECRET})
    e = err.value
    assert (e.status, e.errors, e.method, e.path) == (400, ["Not a DR secondary."], "POST", "sys/replication/dr/secondary/disable")
    assert str(e) == "POST sys/replication/dr/secondary/disable on %s answered HTTP 400: Not a DR secondary." % URL
    assert SECRET not in str(e)
    assert e.has_error("not a dr secondary") and not e.has_error("sealed")


def test_error_without_json_keeps_text(vault):
    vault.add(responses.GET, vault.base + "sys/b", status=502, body="Bad Gateway from proxy")
    with pytest.raises(VaultError) as err:
        make(retries=0).read("sys/b")
    assert err.value.errors == ["Bad Gateway from proxy"] and err.value.status == 502


def test_error_without_body(vault):
    vault.add(responses.GET, vault.base + "sys/c", status=404)
    with pytest.raises(VaultError) as err:
        make().read("sys/c")
    assert "answered HTTP 404: no error text" in str(err.value)


# -- retries ---------------------------------------------------------------------------------
def test_per_request_budget_of_zero_sends_once_and_leaves_the_client_default(vault):
    vault.add(responses.PUT, vault.base + "sys/once", status=503, json=fixture("error_503"))
    vault.add(responses.PUT, vault.base + "sys/twice", status=503, json=fixture("error_503"))
    c = make(retries=2)
    with pytest.raises(VaultError) as err:
        c.write("sys/once", data={}, method="PUT", retries=0)
    assert err.value.status == 503 and len(vault.calls) == 1
    with pytest.raises(VaultError):
        c.write("sys/twice", data={}, method="PUT")
    assert len(vault.calls) == 1 + 3 and c.retries == 2


# Vault's refusals that prove it did not act (the _vault_errors NOT_ACTED texts), with the status Vault sends
VAULT_REFUSALS = [
    (412, "required index state not present"),
    (429, 'request path "sys/d": rate limit quota exceeded'),
    (503, "Vault is sealed"),
    (503, "local node not active but active cluster node not found"),
    (503, "Vault is in standby mode"),
]


@pytest.mark.parametrize("status,text", VAULT_REFUSALS)
def test_transient_status_then_success_for_reads_and_writes(vault, status, text, sleeps):
    for method in (responses.GET, responses.POST):
        vault.add(method, vault.base + "sys/d", status=status, json={"errors": [text]})
        vault.add(method, vault.base + "sys/d", json={"data": {"ok": True}})
    c = make()
    assert c.read("sys/d").data == {"ok": True}
    assert c.write("sys/d").data == {"ok": True}
    assert len(vault.calls) == 4 and sleeps == [1.0, 1.0]


def test_transient_status_until_retries_run_out(vault, sleeps):
    vault.add(responses.POST, vault.base + "sys/e", status=503, json=fixture("error_503"))
    with pytest.raises(VaultError) as err:
        make(retries=3).write("sys/e")
    assert err.value.status == 503 and len(vault.calls) == 4
    assert sleeps == [1.0, 2.0, 4.0]  # exponential back-off


def test_backoff_is_capped(vault, sleeps):
    vault.add(responses.GET, vault.base + "sys/f", status=503, json=fixture("error_503"))
    with pytest.raises(VaultError):
        make(retries=6).read("sys/f")
    assert max(sleeps) == 10


def test_retries_zero_sends_once(vault):
    vault.add(responses.GET, vault.base + "sys/g", status=412, json=fixture("error_412"))
    with pytest.raises(VaultError):
        make(retries=0).read("sys/g")
    assert len(vault.calls) == 1


def test_connection_refused_is_retried_then_reported(vault):
    vault.add(responses.POST, vault.base + "sys/h", body=refused())
    with pytest.raises(VaultConnectionError) as err:
        make(retries=2).write("sys/h", data={"token": SECRET})
    assert len(vault.calls) == 3 and err.value.status is None
    assert "got no answer" in str(err.value) and "Connection refused" in str(err.value)
    assert SECRET not in str(err.value)


def test_read_timeout_on_a_read_is_retried(vault):
    vault.add(responses.GET, vault.base + "sys/i", body=timed_out())
    vault.add(responses.GET, vault.base + "sys/i", json={"data": {"mode": "primary"}})
    assert make().read("sys/i").data == {"mode": "primary"}


def test_lost_answer_to_a_write_is_never_replayed(vault):
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/enable", body=timed_out())
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/enable", status=204)
    with pytest.raises(VaultAnswerLost) as err:
        make(retries=3).write("sys/replication/dr/secondary/enable", data={"token": SECRET})
    assert len(vault.calls) == 1
    assert "ReadTimeout" in str(err.value) and SECRET not in str(err.value)


def test_tls_errors_are_not_retried(vault):
    vault.add(responses.GET, vault.base + "sys/j", body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(VaultConnectionError):
        make(retries=3).read("sys/j")
    assert len(vault.calls) == 1


def test_ca_cert_wins_over_requests_ca_bundle_env(vault, monkeypatch):
    # requests would otherwise let REQUESTS_CA_BUNDLE replace session.verify on every request
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    vault.add(responses.GET, vault.base + "sys/v", json={})
    VaultClient(URL, ca_cert="/tmp/lab-ca.pem").read("sys/v")
    VaultClient(URL, validate_certs=False).read("sys/v")
    assert [c.request.req_kwargs["verify"] for c in vault.calls] == ["/tmp/lab-ca.pem", False]


# -- redirects: followed only to url or nodes, never to plaintext (issue 20) -----------------------------
NODE_B = "https://vault-b.test:8200"


def test_redirect_elsewhere_is_not_followed_and_nothing_is_sent_there(vault):
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/promote", status=307,
              headers={"Location": "https://attacker.test:9999/v1/sys/replication/dr/secondary/promote?x=" + SECRET})
    with pytest.raises(VaultRedirectRefused) as err:
        make().write("sys/replication/dr/secondary/promote", data={"dr_operation_token": SECRET})
    assert len(vault.calls) == 1  # never sent to attacker.test (responses would refuse an unregistered URL)
    msg = str(err.value)
    assert "https://attacker.test:9999/v1/sys/replication/dr/secondary/promote" in msg and SECRET not in msg
    assert "nodes" in msg and err.value.status == 307


def test_redirect_from_https_to_http_is_refused_even_to_a_listed_node(vault):
    vault.add(responses.GET, vault.base + "sys/replication/dr/status", status=307,
              headers={"Location": "http://vault-b.test:8200/v1/sys/replication/dr/status"})
    with pytest.raises(VaultRedirectRefused) as err:
        make(nodes=["http://vault-b.test:8200", NODE_B]).read("sys/replication/dr/status")
    assert len(vault.calls) == 1 and "plaintext" in str(err.value)


def test_307_to_a_listed_node_keeps_the_method_body_and_token(vault):
    vault.add(responses.POST, vault.base + "sys/replication/dr/secondary/promote", status=307,
              headers={"Location": NODE_B + "/v1/sys/replication/dr/secondary/promote"})
    vault.add(responses.POST, NODE_B + "/v1/sys/replication/dr/secondary/promote", json={"data": {}})
    make(nodes=[NODE_B + "/"]).write("sys/replication/dr/secondary/promote", data={"dr_operation_token": SECRET})
    follow = vault.calls[1].request
    assert follow.method == "POST" and json.loads(follow.body) == {"dr_operation_token": SECRET}
    assert follow.headers["X-Vault-Token"] == TOKEN


def test_default_ports_compare_equal_and_a_relative_location_stays_on_url(vault):
    vault.add(responses.GET, vault.base + "sys/leader", status=307, headers={"Location": "/v1/sys/leader2"})
    vault.add(responses.GET, vault.base + "sys/leader2", status=302,
              headers={"Location": "https://vault-c.test/v1/sys/leader"})
    vault.add(responses.GET, "https://vault-c.test/v1/sys/leader", json={"data": {"is_self": True}})
    assert make(nodes=["https://vault-c.test:443"]).read("sys/leader").data == {"is_self": True}


def test_a_303_would_turn_a_write_into_a_get_and_is_refused(vault):
    vault.add(responses.POST, vault.base + "sys/x", status=303, headers={"Location": vault.base + "sys/y"})
    with pytest.raises(VaultRedirectRefused) as err:
        make().write("sys/x", data={})
    assert len(vault.calls) == 1 and "GET" in str(err.value)


def test_a_redirect_loop_ends(vault):
    vault.add(responses.GET, vault.base + "sys/loop", status=307, headers={"Location": vault.base + "sys/loop"})
    with pytest.raises(VaultError) as err:
        make(retries=0).read("sys/loop")
    assert len(vault.calls) == 4 and "redirects" in str(err.value)


# -- a write refused only when Vault says so; anything else is a lost answer (issue 20) ---------------
LB_PAGE = "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>"


@pytest.mark.parametrize("status,kw", [
    (503, {"body": LB_PAGE, "content_type": "text/html"}),
    (502, {"body": ""}),
    (504, {"body": "upstream timed out"}),
    (503, {"json": {"errors": ["busy"]}}),  # an errors body, but nothing in it proves Vault did not act
    (429, {"json": {"message": "slow down"}}),
])
def test_a_write_answered_by_something_else_is_a_lost_answer_never_replayed(vault, status, kw):
    vault.add(responses.POST, vault.base + "sys/auth/token/create/dr-batch", status=status, **kw)
    with pytest.raises(VaultAnswerLost) as err:
        make(retries=3).write("sys/auth/token/create/dr-batch", data={"ttl": "168h"})
    assert len(vault.calls) == 1 and err.value.status == status
    assert "may answer so after Vault acted" in str(err.value)


@pytest.mark.parametrize("status", [502, 504])
def test_a_read_answered_502_or_504_is_retried(vault, status):
    vault.add(responses.GET, vault.base + "sys/replication/dr/status", status=status, body="bad gateway")
    vault.add(responses.GET, vault.base + "sys/replication/dr/status", json={"data": {"mode": "primary"}})
    assert make().read("sys/replication/dr/status").data == {"mode": "primary"}


# -- TLS: only a handshake failure means nothing was sent (issue 20) -------------------------------
def test_a_tls_eof_after_sending_a_write_is_a_lost_answer(vault):
    eof = requests.exceptions.SSLError("[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol")
    vault.add(responses.POST, vault.base + "sys/replication/dr/primary/demote", body=eof)
    with pytest.raises(VaultAnswerLost):
        make(retries=3).write("sys/replication/dr/primary/demote", data={})
    assert len(vault.calls) == 1


def test_a_tls_eof_on_a_read_is_retried(vault):
    eof = requests.exceptions.SSLError("EOF occurred in violation of protocol (_ssl.c:2427)")
    vault.add(responses.GET, vault.base + "sys/k", body=eof)
    vault.add(responses.GET, vault.base + "sys/k", json={"data": {}})
    make().read("sys/k")
    assert len(vault.calls) == 2


def test_a_handshake_failure_on_a_write_means_never_sent(vault):
    bad = requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get "
                                       "local issuer certificate (_ssl.c:1006)")
    vault.add(responses.POST, vault.base + "sys/l", body=bad)
    with pytest.raises(VaultConnectionError) as err:
        make(retries=3).write("sys/l", data={})
    assert len(vault.calls) == 1 and not isinstance(err.value, VaultAnswerLost)


# -- bounded answers (issue 20) ---------------------------------------------------------------------
def test_an_answer_over_the_size_cap_is_not_read_whole(vault, monkeypatch):
    monkeypatch.setattr(client_module, "MAX_BODY_BYTES", 100 * 1024)
    vault.add(responses.GET, vault.base + "sys/big", body=b"x" * (300 * 1024))
    with pytest.raises(VaultError) as err:
        make().read("sys/big")
    assert "larger than 102400 bytes" in str(err.value) and len(vault.calls) == 1


def test_each_attempt_has_a_total_deadline(vault, monkeypatch):
    clock = iter(range(0, 1000, 2))  # every look at the clock: 2 s later (a server that trickles its answer)
    monkeypatch.setattr(client_module.time, "monotonic", lambda: float(next(clock)))
    vault.add(responses.GET, vault.base + "sys/slow", body=b"x" * (400 * 1024))
    with pytest.raises(VaultConnectionError) as err:
        make(retries=0, timeout=5).read("sys/slow")
    assert "longer than timeout=5s" in str(err.value)


def test_a_long_list_of_vault_errors_is_cut_in_the_message(vault):
    vault.add(responses.GET, vault.base + "sys/many", status=400, json={"errors": ["e%d" % i for i in range(40)] + ["x" * 5000]})
    with pytest.raises(VaultError) as err:
        make().read("sys/many")
    msg = str(err.value)
    assert "e0; e1; e2; e3; e4 (and 36 more)" in msg and len(msg) < 400
    assert len(err.value.errors) == 41  # the whole list stays on the exception (returned as vault_errors)
