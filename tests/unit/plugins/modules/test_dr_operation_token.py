"""dr_operation_token through main(): the ceremony on a DR secondary, cancel, and disposal."""

from __future__ import annotations

import base64
import json

import pytest
import responses
from ceremony_fakes import GENERATION_ERROR_CASES, URL, FakeCeremonyServer, new_shares, stub_generation_error
from conftest import BASE_ARGS, fixture, run_module

from ansible_collections.vaultops.dr.plugins.module_utils import _token_generation as tg
from ansible_collections.vaultops.dr.plugins.modules import dr_operation_token as module

pytestmark = pytest.mark.usefixtures("fake_time")


STATUS = URL + "/v1/sys/replication/dr/status"
DELETE = URL + "/v1/sys/replication/dr/secondary/operation-token/delete"
LOOKUP = URL + "/v1/auth/token/lookup-self"
REVOKE = URL + "/v1/auth/token/revoke-self"
OP_TOKEN = "hvs.CAESIOpTokenToDispose0123456789"
TOKEN = "hvs.CAESIJk3xG9mN2pQrStUvWxY"


def secondary(vault, shares, **kw):
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_secondary"))
    return FakeCeremonyServer(vault, "sys/replication/dr/secondary/generate-operation-token", token=TOKEN, shares=shares, **kw)


def args(**kw):
    out = dict(BASE_ARGS)
    out.update(kw)
    return out


def assert_no_secret(result, *secret_values, allowed=("token", "otp")):
    """No secret anywhere in the result except under the documented secret keys."""
    visible = {k: v for k, v in result.items() if k not in allowed}
    text = json.dumps(visible)
    for value in secret_values:
        assert value not in text


def test_one_run(vault):
    shares = new_shares()
    server = secondary(vault, shares)
    keys = [s.hex() for s in shares[:3]]
    result = run_module(module, args(key_shares=keys), diff=True)
    assert result["changed"] and result["complete"] and result["token"] == TOKEN
    assert result["status"]["mode"] == "secondary" and result["status"]["raw"]["secondary_id"] == "dr-b"
    assert "otp" not in result and result["vault_warnings"] == []
    assert result["diff"]["before"]["started"] is False and result["diff"]["after"]["progress"] == 3
    assert_no_secret(result, TOKEN, BASE_ARGS["token"], server.sent("PUT", "/attempt")[0][2]["otp"], *keys)


def test_three_key_holders(vault):
    shares = new_shares()
    secondary(vault, shares)
    first = run_module(module, args(key_shares=[shares[0].hex()]))
    assert first["changed"] and first["progress"] == 1 and not first["complete"] and len(first["otp"]) == 28
    second = run_module(module, args(key_shares=[base64.b64encode(shares[1]).decode()], nonce=first["nonce"]))
    assert second["changed"] and second["progress"] == 2 and "otp" not in second
    again = run_module(module, args(key_shares=[shares[1].hex()], nonce=first["nonce"]))
    assert again["changed"] is False and again["shares_already_provided"] == 1 and again["progress"] == 2
    last = run_module(module, args(key_shares=[shares[2].hex()], nonce=first["nonce"], otp=first["otp"]))
    assert last["complete"] and last["token"] == TOKEN
    assert "otp" not in last


def test_empty_survey_answers_count_as_not_given(vault):
    shares = new_shares()
    server = secondary(vault, shares)
    first = run_module(module, args(key_shares=[shares[0].hex()], nonce="", otp="", pgp_key=""))
    assert first["changed"] and first["progress"] == 1 and len(first["otp"]) == 28
    assert len(server.sent("PUT", "/attempt")) == 1


def test_wrong_nonce_says_which_attempt_runs(vault):
    shares = new_shares()
    server = secondary(vault, shares)
    nonce = server.started(otp=tg.generate_otp(28), provided=shares[:1])
    result = run_module(module, args(key_shares=[shares[1].hex()], nonce="00000000-1111-2222-3333-444444444444"))
    assert result["failed"] and nonce in result["msg"] and "1 of 3" in result["msg"]
    assert result["status"]["mode"] == "secondary"
    assert not server.sent("PUT") and not server.sent("DELETE")


def test_check_mode_sends_no_write(vault):
    shares = new_shares()
    server = secondary(vault, shares)
    result = run_module(module, args(key_shares=[s.hex() for s in shares[:3]]), check_mode=True)
    assert result["changed"] and "token" not in result and "otp" not in result
    assert {c[0] for c in server.calls} == {"GET"}


def test_vault_token_sent_when_given_and_not_otherwise(vault):
    shares = new_shares()
    server = secondary(vault, shares)
    run_module(module, args(key_shares=[shares[0].hex()]))
    assert {c[3] for c in server.calls} == {BASE_ARGS["token"]}
    server.reset()
    server.calls.clear()
    no_token = {k: v for k, v in args(key_shares=[shares[0].hex()]).items() if k != "token"}
    assert run_module(module, no_token)["progress"] == 1
    assert {c[3] for c in server.calls} == {None}


@pytest.mark.parametrize("status_fixture,mode", [("optoken_status_primary", "primary"), ("optoken_status_disabled", "disabled")])
def test_present_refused_off_a_dr_secondary(vault, status_fixture, mode):
    vault.add(responses.GET, STATUS, json=fixture(status_fixture))
    result = run_module(module, args(key_shares=[new_shares(1)[0].hex()]))
    assert result["failed"] and "generated on a DR secondary" in result["msg"] and mode in result["msg"]
    assert len(vault.calls) == 1


def test_wrong_share_fails_at_threshold(vault):
    shares = new_shares()
    secondary(vault, shares)
    wrong = new_shares(1)[0].hex()
    result = run_module(module, args(key_shares=[shares[0].hex(), shares[1].hex(), wrong]))
    assert result["failed"] and "at least one share is wrong" in result["msg"]
    assert result["progress"] == 0 and result["started"] is True
    assert wrong not in json.dumps(result)


@pytest.mark.parametrize("stage,status,text,expect", [c for c in GENERATION_ERROR_CASES if "recovery mode" not in c[3]])
def test_generation_errors_fail_clearly(vault, stage, status, text, expect):
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_secondary"))
    stub_generation_error(vault, tg.DR_OPERATION_TOKEN, stage, status, text)
    share = new_shares(1)[0].hex()
    result = run_module(module, args(key_shares=[share]))
    assert result["failed"] and expect in result["msg"] and result["http_status"] == status
    assert share not in json.dumps(result)


def test_pgp_with_gnupg_home(vault, pgp):
    shares = new_shares()
    secondary(vault, shares, gnupg_home=pgp["home"])
    result = run_module(module, args(key_shares=[s.hex() for s in shares[:3]], pgp_key=pgp["armor"],
                                     gnupg_home=pgp["home"], pgp_passphrase=pgp["passphrase"]))
    assert result["complete"] and result["token"] == TOKEN and result["pgp_fingerprint"] == pgp["fingerprint"]
    assert_no_secret(result, TOKEN, pgp["passphrase"])


# -- expected_pgp_fingerprint: the holder's own idea of the coordinator's key -------------------

OTHER_FPR = "0123456789abcdef0123456789abcdef01234567"  # whoever swapped the template's pgp_key


def spaced(fpr):
    """A fingerprint as `gpg --fingerprint` prints it: upper case, groups of four."""
    return " ".join(fpr.upper()[i:i + 4] for i in range(0, len(fpr), 4))


@pytest.mark.parametrize("check_mode", [False, True])
def test_expected_fingerprint_refuses_an_attempt_encrypting_to_another_key(vault, pgp, check_mode):
    shares = new_shares()
    server = secondary(vault, shares)
    nonce = server.started(fingerprint=OTHER_FPR, provided=shares[:1])
    mine = shares[1].hex()
    result = run_module(module, args(key_shares=[mine], nonce=nonce, expected_pgp_fingerprint=spaced(pgp["fingerprint"])),
                        check_mode=check_mode)
    assert result["failed"] and OTHER_FPR in result["msg"] and pgp["fingerprint"] in result["msg"]
    assert "No key share was sent" in result["msg"] and nonce in result["msg"]
    assert result["expected_pgp_fingerprint"] == pgp["fingerprint"] and result["pgp_fingerprint"] == OTHER_FPR
    assert not server.sent("PUT") and not server.sent("DELETE") and len(server.provided) == 1
    assert_no_secret(result, mine)


def test_expected_fingerprint_refuses_an_otp_attempt(vault, pgp):
    shares = new_shares()
    server = secondary(vault, shares)
    nonce = server.started(otp=tg.generate_otp(28), provided=shares[:1])
    result = run_module(module, args(key_shares=[shares[1].hex()], nonce=nonce, expected_pgp_fingerprint=pgp["fingerprint"]))
    assert result["failed"] and "OTP" in result["msg"] and pgp["fingerprint"] in result["msg"]
    assert not server.sent("PUT") and len(server.provided) == 1


def test_expected_fingerprint_refuses_to_start_with_another_key(vault, pgp):
    shares = new_shares()
    server = secondary(vault, shares)
    result = run_module(module, args(key_shares=[shares[0].hex()], pgp_key=pgp["armor"], expected_pgp_fingerprint=OTHER_FPR))
    assert result["failed"] and OTHER_FPR in result["msg"] and pgp["fingerprint"] in result["msg"]
    assert "Nothing was started" in result["msg"]
    assert not server.sent("PUT") and not server.nonce


def test_expected_fingerprint_refuses_to_start_with_an_otp(vault, pgp):
    shares = new_shares()
    server = secondary(vault, shares)
    result = run_module(module, args(key_shares=[shares[0].hex()], expected_pgp_fingerprint=pgp["fingerprint"]))
    assert result["failed"] and "No pgp_key was given" in result["msg"] and pgp["fingerprint"] in result["msg"]
    assert not server.sent("PUT")


def test_expected_fingerprint_refuses_when_the_server_reports_another_key(vault, pgp):
    """The start answer names another key than the one sent (a proxy in between): the attempt this run
    started gets no share, and the message says how to cancel it."""

    class Swapping(FakeCeremonyServer):
        def _attempt_put(self, request):
            answer = super()._attempt_put(request)
            self.fingerprint = OTHER_FPR
            return (answer[0], answer[1], json.dumps(dict(json.loads(answer[2]), pgp_fingerprint=OTHER_FPR)))

    shares = new_shares()
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_secondary"))
    server = Swapping(vault, "sys/replication/dr/secondary/generate-operation-token", token=TOKEN, shares=shares)
    result = run_module(module, args(key_shares=[shares[0].hex()], pgp_key=pgp["armor"],
                                     expected_pgp_fingerprint=pgp["fingerprint"]))
    assert result["failed"] and result["changed"] is True and OTHER_FPR in result["msg"]
    assert "state=canceled nonce=%s" % server.nonce in result["msg"]
    assert len(server.sent("PUT", "/attempt")) == 1 and not server.sent("PUT", "/update")


def test_expected_fingerprint_matching_the_attempt_feeds_it(vault, pgp):
    shares = new_shares()
    server = secondary(vault, shares, gnupg_home=pgp["home"])
    expected = spaced(pgp["fingerprint"])
    first = run_module(module, args(key_shares=[shares[0].hex()], pgp_key=pgp["b64"], expected_pgp_fingerprint=expected))
    assert first["changed"] and first["progress"] == 1 and first["pgp_fingerprint"] == pgp["fingerprint"]
    # Later holders name the attempt by nonce only; the template's key does not matter to them.
    second = run_module(module, args(key_shares=[shares[1].hex()], nonce=first["nonce"], expected_pgp_fingerprint=expected))
    last = run_module(module, args(key_shares=[shares[2].hex()], nonce=first["nonce"], gnupg_home=pgp["home"],
                                   pgp_passphrase=pgp["passphrase"], expected_pgp_fingerprint="0x" + pgp["fingerprint"]))
    assert second["progress"] == 2 and last["complete"] and last["token"] == TOKEN
    assert len(server.sent("PUT", "/update")) == 3


@pytest.mark.parametrize("value", ["ABCD1234ABCD1234", "0123456789abcdef0123456789abcdef0123456z", "not a fingerprint"])
def test_expected_fingerprint_must_be_a_full_one(vault, value):
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_secondary"))
    result = run_module(module, args(key_shares=[new_shares(1)[0].hex()], expected_pgp_fingerprint=value))
    assert result["failed"] and "full PGP fingerprint" in result["msg"] and value not in result["msg"]
    assert [c.request.url for c in vault.calls] == [STATUS]  # nothing but the DR status was read


def test_otp_and_pgp_key_exclusive(vault):
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_secondary"))
    result = run_module(module, args(otp="a" * 28, pgp_key="AAAA"))
    assert result["failed"] and "mutually exclusive" in result["msg"]
    assert [c.request.url for c in vault.calls] == [STATUS]  # nothing but the DR status was read


# -- state=canceled -------------------------------------------------------------------------

def test_cancel(vault):
    shares = new_shares()
    server = secondary(vault, shares)
    nonce = server.started(otp=tg.generate_otp(28), provided=shares[:2])
    assert run_module(module, args(state="canceled"), check_mode=True)["changed"] is True
    assert server.nonce == nonce
    result = run_module(module, args(state="canceled", nonce=nonce), diff=True)
    assert result["changed"] and result["diff"]["before"]["progress"] == 2 and result["diff"]["after"]["started"] is False
    assert run_module(module, args(state="canceled"))["changed"] is False
    assert len(server.sent("DELETE")) == 1


def test_cancel_on_a_primary_is_no_change(vault):
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_primary"))
    result = run_module(module, args(state="canceled"))
    assert result["changed"] is False and result["started"] is False and len(vault.calls) == 1


# -- state=absent --------------------------------------------------------------------------

def test_absent_on_secondary_deletes(vault):
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_secondary"))
    vault.add(responses.POST, DELETE, status=204)
    result = run_module(module, args(state="absent", dr_operation_token=OP_TOKEN))
    assert result["changed"] and "operation-token/delete" in result["disposal"]
    call = vault.calls[-1].request
    assert json.loads(call.body) == {"dr_operation_token": OP_TOKEN}
    assert "X-Vault-Token" not in call.headers  # authenticated by the op token itself
    assert_no_secret(result, OP_TOKEN, allowed=())


@pytest.mark.parametrize("status,errors", [(403, ["permission denied"]), (400, ["invalid DR operation token"])])
def test_absent_on_secondary_invalid_token_is_no_change(vault, status, errors):
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_secondary"))
    vault.add(responses.POST, DELETE, json={"errors": errors}, status=status)
    result = run_module(module, args(state="absent", dr_operation_token=OP_TOKEN))
    assert result["changed"] is False and "not valid" in result["disposal"]


def test_absent_on_secondary_other_error_fails(vault):
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_secondary"))
    vault.add(responses.POST, DELETE, json={"errors": ["internal error"]}, status=500)
    result = run_module(module, args(state="absent", dr_operation_token=OP_TOKEN))
    assert result["failed"] and "HTTP 500" in result["msg"] and OP_TOKEN not in json.dumps(result)


def test_absent_on_secondary_check_mode(vault):
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_secondary"))
    result = run_module(module, args(state="absent", dr_operation_token=OP_TOKEN), check_mode=True)
    assert result["changed"] and len(vault.calls) == 1


def test_absent_after_promotion_revokes_as_token(vault):
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_primary"))
    vault.add(responses.GET, LOOKUP, json=fixture("optoken_lookup_self_service"))
    vault.add(responses.POST, REVOKE, status=204)
    result = run_module(module, args(state="absent", dr_operation_token=OP_TOKEN), diff=True)
    assert result["changed"] and "revoke-self" in result["disposal"]
    assert [c.request.headers.get("X-Vault-Token") for c in vault.calls[1:]] == [OP_TOKEN, OP_TOKEN]
    assert result["diff"] == {"before": {"dr_operation_token": "valid"}, "after": {"dr_operation_token": "invalid"}}


def test_absent_after_promotion_check_mode_does_not_revoke(vault):
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_primary"))
    vault.add(responses.GET, LOOKUP, json=fixture("optoken_lookup_self_service"))
    result = run_module(module, args(state="absent", dr_operation_token=OP_TOKEN), check_mode=True)
    assert result["changed"] and not [c for c in vault.calls if c.request.url == REVOKE]


def test_absent_after_promotion_invalid_token_is_no_change(vault):
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_primary"))
    vault.add(responses.GET, LOOKUP, json={"errors": ["permission denied"]}, status=403)
    result = run_module(module, args(state="absent", dr_operation_token=OP_TOKEN))
    assert result["changed"] is False and len(vault.calls) == 2


def test_absent_batch_token_cannot_be_revoked(vault):
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_primary"))
    vault.add(responses.GET, LOOKUP, json=fixture("optoken_lookup_self_batch"))
    result = run_module(module, args(state="absent", dr_operation_token=OP_TOKEN))
    assert result["failed"] and "batch token" in result["msg"] and "27900" in result["msg"]


def test_absent_needs_the_token(vault):
    result = run_module(module, args(state="absent"))
    assert result["failed"] and "dr_operation_token" in result["msg"]


# -- issue 12: state=absent revokes only what it can tell is a DR operation token -------------

def test_absent_never_touches_the_modules_own_token(vault):
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_secondary"))
    result = run_module(module, args(state="absent", dr_operation_token=BASE_ARGS["token"]))
    assert result["failed"] and "the token this module authenticates with" in result["msg"] and "left alone" in result["msg"]
    assert [c.request.url for c in vault.calls] == [STATUS]
    assert BASE_ARGS["token"] not in json.dumps(result)


def _lookup(**data):
    body = fixture("optoken_lookup_self_service")
    body["data"].update(data)
    return body


@pytest.mark.parametrize("data,why", [
    ({"policies": ["default", "admin"]}, "its policies are admin, default"),
    ({"policies": ["root", "default"]}, "its policies are default, root"),
    ({"ttl": 3600, "expire_time": "2026-12-02T10:00:00Z", "creation_ttl": 3600}, "it has a TTL"),
    ({"path": "auth/token/create"}, "made by auth/token/create"),
    ({"policies": None}, "cannot be told"),
])
def test_absent_after_promotion_leaves_other_tokens_alone(vault, data, why):
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_primary"))
    vault.add(responses.GET, LOOKUP, json=_lookup(**data))
    for check_mode in (True, False):
        result = run_module(module, args(state="absent", dr_operation_token=OP_TOKEN), check_mode=check_mode)
        assert result["failed"] and why in result["msg"] and "left alone" in result["msg"], result["msg"]
        assert OP_TOKEN not in json.dumps(result)
    assert not [c for c in vault.calls if c.request.url == REVOKE]


def test_recovery_mode_server_explained(vault):
    vault.add(responses.GET, STATUS, json={"errors": []}, status=404)
    vault.add(responses.GET, URL + "/v1/sys/generate-recovery-token/attempt", json=fixture("optoken_attempt_idle"))
    result = run_module(module, args(key_shares=[new_shares(1)[0].hex()]))
    assert result["failed"] and "recovery mode" in result["msg"] and "vaultops.dr.recovery_token" in result["msg"]
    assert "Nothing was changed" in result["msg"] and not [c for c in vault.calls if c.request.method != "GET"]


def test_sealed_secondary_explained(vault):
    vault.add(responses.GET, STATUS, json={"errors": ["Vault is sealed"]}, status=503)
    result = run_module(module, args(key_shares=[new_shares(1)[0].hex()], retries=0))
    assert result["failed"] and "Unseal the cluster" in result["msg"] and result["http_status"] == 503
    assert not [c for c in vault.calls if c.request.method != "GET"]


def test_pgp_key_is_no_log():
    """A private key pasted as pgp_key must never be echoed (invocation at -vvv, results)."""
    from ansible_collections.vaultops.dr.plugins.module_utils._token_generation import CEREMONY_ARGSPEC

    assert CEREMONY_ARGSPEC["pgp_key"]["no_log"] is True


def test_private_key_as_pgp_key_refused(vault, pgp):
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_secondary"))
    result = run_module(module, args(key_shares=[new_shares(1)[0].hex()], pgp_key=pgp["private_armor"]))
    assert result["failed"] and "private" in result["msg"].lower()
    text = json.dumps(result)
    assert not any(line in text for line in pgp["private_armor"].splitlines() if len(line) > 20)
    assert not [c for c in vault.calls if c.request.method != "GET"]  # refused before any write
