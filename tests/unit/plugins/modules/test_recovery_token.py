"""recovery_token through main(): the ceremony on a server in recovery mode."""

from __future__ import annotations

import json

import pytest
import responses
from ceremony_fakes import URL, FakeCeremonyServer, new_shares
from conftest import BASE_ARGS, fixture, run_module

from ansible_collections.vaultops.dr.plugins.module_utils import _token_generation as tg
from ansible_collections.vaultops.dr.plugins.modules import recovery_token as module

pytestmark = pytest.mark.usefixtures("fake_time")


ATTEMPT = URL + "/v1/sys/generate-recovery-token/attempt"
TOKEN = "hvr.CAESIBnMv4kT7yQxW2eRtYuI"


def server(vault, shares):
    return FakeCeremonyServer(vault, "sys/generate-recovery-token", token=TOKEN, shares=shares)


def args(**kw):
    out = dict(BASE_ARGS)
    out.update(kw)
    return out


def test_one_run(vault):
    shares = new_shares()
    srv = server(vault, shares)
    keys = [s.hex() for s in shares[:3]]
    result = run_module(module, args(key_shares=keys), diff=True)
    assert result["changed"] and result["complete"] and result["token"] == TOKEN and result["otp_length"] == 28
    assert "status" not in result  # recovery mode serves no DR status
    assert {c[3] for c in srv.calls} == {None}  # unauthenticated endpoints: the Vault token is never sent
    visible = json.dumps({k: v for k, v in result.items() if k != "token"})
    assert TOKEN not in visible and not any(k in visible for k in keys)
    assert srv.sent("PUT", "/attempt")[0][2]["otp"] not in visible


def test_two_holders(vault):
    shares = new_shares()
    server(vault, shares)
    first = run_module(module, args(key_shares=[s.hex() for s in shares[:2]]))
    assert first["progress"] == 2 and first["otp"]
    last = run_module(module, args(key_shares=[shares[2].hex()], nonce=first["nonce"], otp=first["otp"]))
    assert last["token"] == TOKEN


def test_expected_fingerprint_refuses_an_attempt_encrypting_to_another_key(vault):
    shares = new_shares()
    srv = server(vault, shares)
    nonce = srv.started(fingerprint="ab" * 20, provided=shares[:1])
    expected = "CD" * 20
    result = run_module(module, args(key_shares=[shares[1].hex()], nonce=nonce, expected_pgp_fingerprint=expected))
    assert result["failed"] and "ab" * 20 in result["msg"] and "cd" * 20 in result["msg"]
    assert not srv.sent("PUT") and len(srv.provided) == 1


def test_not_in_recovery_mode(vault):
    vault.add(responses.GET, ATTEMPT, json=fixture("recovery_not_in_recovery_mode"), status=404)
    result = run_module(module, args(key_shares=[new_shares(1)[0].hex()]))
    assert result["failed"] and "not running in recovery mode" in result["msg"] and result["http_status"] == 404


def test_not_in_recovery_mode_asked_without_token(vault):
    vault.add(responses.GET, ATTEMPT, json={"errors": ["permission denied"]}, status=403)
    result = run_module(module, {k: v for k, v in args(key_shares=[new_shares(1)[0].hex()]).items() if k != "token"})
    assert result["failed"] and "not running in recovery mode" in result["msg"] and "token is invalid" not in result["msg"]


def test_already_unsealed(vault):
    vault.add(responses.GET, ATTEMPT, json=fixture("recovery_attempt_idle"))
    vault.add(responses.PUT, ATTEMPT, json={"errors": ["attempted to generate recovery operation token when already unsealed"]}, status=400)
    result = run_module(module, args(key_shares=[new_shares(1)[0].hex()]))
    assert result["failed"] and "already unsealed" in result["msg"] and "recovery mode" in result["msg"]


def test_check_mode_and_nothing_to_do(vault):
    shares = new_shares()
    srv = server(vault, shares)
    assert run_module(module, args(key_shares=[shares[0].hex()]), check_mode=True)["changed"] is True
    assert run_module(module, args())["changed"] is False
    assert {c[0] for c in srv.calls} == {"GET"}


def test_cancel(vault):
    shares = new_shares()
    srv = server(vault, shares)
    srv.started(otp=tg.generate_otp(28), provided=shares[:1])
    assert run_module(module, args(state="canceled"))["changed"] is True
    assert run_module(module, args(state="canceled"))["changed"] is False
    assert len(srv.sent("DELETE")) == 1


def test_absent_is_not_a_state_here(vault):
    result = run_module(module, args(state="absent"))
    assert result["failed"] and "state" in result["msg"]
