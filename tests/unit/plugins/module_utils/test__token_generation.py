"""The key-share ceremony engine: OTPs, decoding, key shares, PGP, and the ceremony against a
stateful stand-in for the server side of the token-generation endpoints."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import uuid

import pytest
import responses
from ceremony_fakes import GENERATION_ERROR_CASES, FakeCeremonyServer, new_shares, stub_generation_error, xor_encode
from conftest import fixture

from ansible_collections.vaultops.dr.plugins.module_utils import _pgp
from ansible_collections.vaultops.dr.plugins.module_utils import _token_generation as tg
from ansible_collections.vaultops.dr.plugins.module_utils._client import VaultClient
from ansible_collections.vaultops.dr.plugins.module_utils._module import ModuleFailure

pytestmark = pytest.mark.usefixtures("fake_time")

URL = "https://vault.test:8200"
NONCE_RE = r"[0-9a-f-]{36}"

# Decode vectors, computed independently (plain Python XOR) from real-looking tokens.
VECTORS = [
    ("s.H8sS0q6bQm2EYrnXYcTjxqvu", "Xq2vK7pLmN3bR8sT1uV4wYzA0c", "K196TjhkQD1bLGIPYH0qJl8tD1cjMwIwRhY"),
    ("hvs.CAESIJk3xG9mN2pQrStUvWxY", "a1B2c3D4e5F6g7H8i9J0kLmNoPqR", "CUcxHCByAWcsfy0FH3BxVScLOmEZHxkbGQcJCw"),
    ("hvr.CAESIBnMv4kT7yQxW2eRtYuI", "ZyXwVuTsRqPoNmLkJiHgFeDcBa98", "Mg8qWRU0ESAbMz4iOFknP30QGR8RVyExNjhMcQ"),
]
LEGACY_VECTOR = ("5b4a9e0c-3f1d-4c2a-8e7b-9d6f1a2b3c4d", "AAECAwQFBgcICQoLDA0ODw==", "W0ucDzsYSi2GcpdkFiYyQg==")


@pytest.fixture
def client():
    return VaultClient(URL, retries=2, timeout=5, token_source=lambda required=True: "hvs.auth-token")


def dr_server(vault, shares, **kw):
    kw.setdefault("token", "hvs.CAESIJk3xG9mN2pQrStUvWxY")
    return FakeCeremonyServer(vault, "sys/replication/dr/secondary/generate-operation-token", shares=shares, **kw)


def hexes(shares):
    return [s.hex() for s in shares]


def b64s(shares):
    return [base64.b64encode(s).decode() for s in shares]


# ---------------------------------------------------------------------------------------
# OTPs and decoding
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("token,otp,encoded", VECTORS)
def test_decode_base62_vectors(token, otp, encoded):
    assert tg.decode_token(encoded, otp) == token
    assert tg.decode_token(encoded + "=" * (-len(encoded) % 4), otp) == token  # padded too


def test_decode_legacy_vector_gives_uuid():
    token, otp, encoded = LEGACY_VECTOR
    assert tg.is_legacy_otp(otp)
    assert tg.decode_token(encoded, otp) == token


def test_decode_legacy_docs_sample_is_a_uuid():
    # The API docs' sample encoded_token, with a 16-byte OTP: any pair decodes to a UUID.
    out = tg.decode_token("FPzkNBvwNDeFh4SmGA8c+w==", base64.b64encode(bytes(16)).decode())
    assert str(uuid.UUID(out)) == out


@pytest.mark.parametrize("prefix,length", [("s.", 26), ("hvs.", 28), ("hvr.", 28), ("hvb.", 28), ("b.", 26), ("r.", 26), ("s.", 24)])
def test_round_trip_with_generated_otp(prefix, length):
    otp = tg.generate_otp(length)
    assert len(otp) == length and set(otp) <= set(tg.BASE62)
    token = prefix + "".join(secrets.choice(tg.BASE62) for _i in range(length - len(prefix)))
    assert not tg.is_legacy_otp(otp)
    assert tg.decode_token(xor_encode(token, otp), otp) == token


def test_legacy_otp_generation_and_round_trip():
    otp = tg.generate_otp(0)
    raw = base64.b64decode(otp)
    assert len(raw) == 16 and tg.is_legacy_otp(otp)
    token = uuid.uuid4()
    encoded = base64.b64encode(bytes(a ^ b for a, b in zip(token.bytes, raw))).decode()
    assert tg.decode_token(encoded, otp) == str(token)
    assert tg.generate_otp(None) != otp


def test_generated_otps_differ():
    assert len({tg.generate_otp(28) for _i in range(50)}) == 50


def test_decode_with_wrong_otp_fails_without_echoing_it():
    token, otp, encoded = VECTORS[1]
    wrong = "Z" * 28
    with pytest.raises(tg.TokenGenerationError) as err:
        tg.decode_token(encoded, wrong)
    assert "not the one" in str(err.value) and wrong not in str(err.value) and token not in str(err.value)


@pytest.mark.parametrize("encoded,otp,text", [
    ("K196TjhkQD1bLGIPYH0qJl8tD1cjMwIwRhY", "abc", "must be equal"),
    ("not base64 !!", "Xq2vK7pLmN3bR8sT1uV4wYzA0c", "not base64"),
    ("", "abc", "encoded_token is empty"),
    ("K196", "", "otp is empty"),
    ("K196TjhkQD1bLGIPYH0qJl8tD1cjMwIwRhY", "AAECAwQFBgcICQoLDA0ODw==", "16"),
])
def test_decode_errors(encoded, otp, text):
    with pytest.raises(tg.TokenGenerationError, match=text):
        tg.decode_token(encoded, otp)


def test_validate_otp():
    tg.validate_otp("a" * 28, 28)
    tg.validate_otp("AAECAwQFBgcICQoLDA0ODw==", 0)
    with pytest.raises(tg.TokenGenerationError, match="exactly 28"):
        tg.validate_otp("a" * 26, 28)
    with pytest.raises(tg.TokenGenerationError, match="base62"):
        tg.validate_otp("a" * 27 + "+", 28)
    with pytest.raises(tg.TokenGenerationError, match="16 bytes"):
        tg.validate_otp("a" * 26, 0)


# ---------------------------------------------------------------------------------------
# Key shares
# ---------------------------------------------------------------------------------------

def test_dedupe_shares_across_encodings():
    shares = new_shares(3)
    given = [shares[0].hex(), base64.b64encode(shares[0]).decode(), shares[1].hex().upper(), shares[1].hex(), b64s(shares)[2]]
    unique, dropped = tg.dedupe_shares(given)
    assert unique == [shares[0].hex(), shares[1].hex().upper(), b64s(shares)[2]]
    assert dropped == 2


def test_invalid_share_named_by_position_not_value():
    bad = "this is not a key share!"
    with pytest.raises(tg.TokenGenerationError) as err:
        tg.dedupe_shares([new_shares(1)[0].hex(), bad])
    assert "item 2" in str(err.value) and bad not in str(err.value)


# ---------------------------------------------------------------------------------------
# PGP
# ---------------------------------------------------------------------------------------

def test_pgp_key_armour_and_base64_agree(pgp):
    b64_from_armor, fpr_a = tg.normalize_pgp_key(pgp["armor"])
    b64_from_b64, fpr_b = tg.normalize_pgp_key(pgp["b64"])
    assert b64_from_armor == b64_from_b64 == pgp["b64"]
    assert fpr_a == fpr_b == pgp["fingerprint"]
    # base64 wrapped over lines, as `base64` prints it
    wrapped = "\n".join(pgp["b64"][i:i + 76] for i in range(0, len(pgp["b64"]), 76))
    assert tg.normalize_pgp_key(wrapped)[0] == pgp["b64"]


def test_pgp_armour_checksum_damage_detected(pgp):
    lines = pgp["armor"].splitlines()
    body_index = next(i for i, line in enumerate(lines) if line and not line.startswith("-----") and ":" not in line)
    line = lines[body_index]
    lines[body_index] = ("B" if line[0] != "B" else "C") + line[1:]
    with pytest.raises(tg.TokenGenerationError, match="checksum|packet|truncated|version"):
        tg.normalize_pgp_key("\n".join(lines))


def test_private_key_refused(pgp):
    with pytest.raises(tg.TokenGenerationError, match="(?i)private"):
        tg.normalize_pgp_key(pgp["private_armor"])


@pytest.mark.parametrize("bad,text", [("", "empty"), ("!!!", "neither"), (base64.b64encode(b"hello").decode(), "not an OpenPGP key")])
def test_garbage_pgp_keys(bad, text):
    with pytest.raises(tg.TokenGenerationError, match=text):
        tg.normalize_pgp_key(bad)


def test_gnupg_round_trip(pgp):
    import gnupg

    gpg = gnupg.GPG(gnupghome=pgp["home"])
    token = "hvs.CAESIPgpRoundTripTokenValue1"
    ciphertext = gpg.encrypt(token.encode(), pgp["fingerprint"], armor=False, always_trust=True)
    assert ciphertext.ok
    home = tg.GnuPG(pgp["home"], pgp["passphrase"])
    assert home.has_secret_key(pgp["fingerprint"])
    assert not home.has_secret_key("0" * 40)
    assert home.decrypt(base64.b64encode(ciphertext.data).decode()) == token


def test_gnupg_home_missing():
    with pytest.raises(tg.TokenGenerationError, match="not a directory"):
        tg.GnuPG("/nonexistent/gnupg-home")


def test_gnupg_library_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(_pgp, "HAS_GNUPG", False)
    monkeypatch.setattr(_pgp, "GNUPG_IMPORT_ERROR", ImportError("No module named 'gnupg'"))
    with pytest.raises(tg.TokenGenerationError, match="python-gnupg"):
        tg.GnuPG(str(tmp_path))


# ---------------------------------------------------------------------------------------
# The ceremony
# ---------------------------------------------------------------------------------------

def ceremony(client, family=tg.DR_OPERATION_TOKEN, check_mode=False):
    warnings = []
    return tg.Ceremony(client, family, check_mode=check_mode, warn=warnings.append), warnings


def secrets_absent(result, *values):
    text = json.dumps(result) if not isinstance(result, str) else result
    for value in values:
        assert value not in text, "a secret leaked"


def test_one_run_three_shares(vault, client):
    shares = new_shares()
    server = dr_server(vault, shares)
    c, warnings = ceremony(client)
    result = c.present(key_shares=hexes(shares[:3]))
    assert result["changed"] and result["complete"]
    assert result["token"] == server.token
    assert "otp" not in result  # complete: the OTP is of no further use
    assert result["shares_submitted"] == 3
    start = server.sent("PUT", "/attempt")[0]
    assert len(start[2]["otp"]) == 28 and set(start[2]["otp"]) <= set(tg.BASE62)
    assert start[3] == "hvs.auth-token"  # the Vault token goes along (2.x requirement)
    updates = server.sent("PUT", "/update")
    assert [u[2]["key"] for u in updates] == hexes(shares[:3])
    assert {u[2]["nonce"] for u in updates} == {result["nonce"]}
    assert result["diff"]["before"]["started"] is False and result["diff"]["after"]["complete"] is True
    secrets_absent(result["diff"], server.token, start[2]["otp"])
    secrets_absent(json.dumps(warnings), *hexes(shares))
    assert not warnings


def test_works_without_a_vault_token(vault):
    shares = new_shares()
    server = dr_server(vault, shares)
    c, _unused = ceremony(VaultClient(URL, retries=0, token_source=lambda required=True: None))
    assert c.present(key_shares=b64s(shares[:3]))["token"] == server.token
    assert {call[3] for call in server.calls} == {None}


def test_more_shares_than_needed_stops_at_threshold(vault, client):
    shares = new_shares()
    server = dr_server(vault, shares)
    c, warnings = ceremony(client)
    result = c.present(key_shares=hexes(shares))
    assert result["complete"] and result["shares_submitted"] == 3 and result["shares_unused"] == 2
    assert len(server.sent("PUT", "/update")) == 3
    assert any("not needed" in w for w in warnings)


def test_duplicate_shares_sent_once(vault, client):
    shares = new_shares()
    server = dr_server(vault, shares)
    c, warnings = ceremony(client)
    result = c.present(key_shares=[shares[0].hex(), b64s(shares)[0], shares[1].hex()])
    assert result["progress"] == 2 and not result["complete"] and result["shares_duplicated"] == 1
    assert len(server.sent("PUT", "/update")) == 2
    assert any("more than once" in w for w in warnings)
    # the module made the OTP and the attempt is not complete: it is handed back, once
    assert len(result["otp"]) == 28 and result["otp"] == server.otp


def test_three_holders_three_runs(vault, client):
    shares = new_shares()
    server = dr_server(vault, shares)
    first = ceremony(client)[0].present(key_shares=[shares[0].hex()])
    assert first["changed"] and first["progress"] == 1 and not first["complete"] and first["otp"]
    second = ceremony(client)[0].present(key_shares=[shares[1].hex()], nonce=first["nonce"])
    assert second["changed"] and second["progress"] == 2 and "otp" not in second and second["nonce"] == first["nonce"]
    third = ceremony(client)[0].present(key_shares=[shares[2].hex()], nonce=first["nonce"], otp=first["otp"])
    assert third["complete"] and third["token"] == server.token
    assert len(server.sent("PUT", "/attempt")) == 1


def test_last_holder_without_otp_gets_encoded_token(vault, client):
    shares = new_shares()
    server = dr_server(vault, shares)
    otp = tg.generate_otp(28)
    nonce = server.started(otp=otp, provided=shares[:2])
    c, warnings = ceremony(client)
    result = c.present(key_shares=[shares[2].hex()], nonce=nonce)
    assert result["complete"] and "token" not in result
    assert tg.decode_token(result["encoded_token"], otp) == server.token
    assert any("decode_token" in w for w in warnings)


def test_share_already_counted_is_no_change(vault, client):
    shares = new_shares()
    server = dr_server(vault, shares)
    nonce = server.started(otp=tg.generate_otp(28), provided=shares[:1])
    c, warnings = ceremony(client)
    result = c.present(key_shares=[shares[0].hex()], nonce=nonce)
    assert result["changed"] is False and result["shares_already_provided"] == 1 and result["progress"] == 1
    assert any("already counted" in w for w in warnings)
    secrets_absent(json.dumps(warnings), shares[0].hex())


def test_running_attempt_needs_its_nonce(vault, client):
    shares = new_shares()
    server = dr_server(vault, shares)
    nonce = server.started(otp=tg.generate_otp(28), provided=shares[:1])
    with pytest.raises(ModuleFailure) as err:
        ceremony(client)[0].present(key_shares=[shares[1].hex()])
    assert nonce in err.value.msg and "nonce=" in err.value.msg and "1 of 3" in err.value.msg
    with pytest.raises(ModuleFailure) as err:
        ceremony(client)[0].present(key_shares=[shares[1].hex()], nonce="11111111-2222-3333-4444-555555555555")
    assert "is not the running" in err.value.msg and nonce in err.value.msg
    assert err.value.result["nonce"] == nonce
    assert not server.sent("PUT") and not server.sent("DELETE")  # nothing submitted, nothing canceled


def test_nonce_of_a_finished_attempt(vault, client):
    dr_server(vault, new_shares())
    with pytest.raises(ModuleFailure, match="is not running"):
        ceremony(client)[0].present(key_shares=[new_shares(1)[0].hex()], nonce="11111111-2222-3333-4444-555555555555")


def test_nothing_to_do(vault, client):
    server = dr_server(vault, new_shares())
    result = ceremony(client)[0].present()
    assert result["changed"] is False and result["started"] is False
    assert server.sent() == [server.calls[0]] and server.calls[0][0] == "GET"


def test_read_only_run_reports_progress(vault, client):
    shares = new_shares()
    server = dr_server(vault, shares)
    nonce = server.started(otp=tg.generate_otp(28), provided=shares[:2])
    result = ceremony(client)[0].present()
    assert result["changed"] is False and result["nonce"] == nonce and result["progress"] == 2


def test_check_mode_never_starts_or_submits(vault, client):
    shares = new_shares()
    server = dr_server(vault, shares)
    result = ceremony(client, check_mode=True)[0].present(key_shares=hexes(shares[:3]))
    assert result["changed"] and result["diff"]["after"]["progress"] == 3
    nonce = server.started(otp=tg.generate_otp(28))
    result = ceremony(client, check_mode=True)[0].present(key_shares=hexes(shares[:1]), nonce=nonce)
    assert result["changed"]
    assert {c[0] for c in server.calls} == {"GET"}


def test_wrong_share_fails_at_threshold(vault, client):
    shares = new_shares()
    server = dr_server(vault, shares)
    wrong = new_shares(1)[0]
    with pytest.raises(ModuleFailure) as err:
        ceremony(client)[0].present(key_shares=[shares[0].hex(), wrong.hex(), shares[1].hex()])
    msg = err.value.msg
    # issue 12: the completing share is not blamed (any counted share may be wrong), no "share N of M"
    # wording, no doubled period; the message says the attempt is open, how to resume or cancel it
    assert "reached its threshold of 3 key shares" in msg and "at least one share is wrong" in msg and "primary" in msg
    assert "any key holder's" in msg and "every key holder must" in msg and " of 3 to " not in msg
    assert "share 3 of 3" not in msg and ".." not in msg
    assert "still open" in msg and ("nonce=%s" % err.value.result["nonce"]) in msg and "state=canceled" in msg
    assert err.value.result["started"] is True and err.value.result["progress"] == 0
    assert err.value.result["http_status"] == 400
    secrets_absent(msg + json.dumps(err.value.result), wrong.hex(), *hexes(shares))
    # the attempt keeps running: the right shares complete it under the same nonce
    nonce = err.value.result["nonce"]
    assert server.nonce == nonce
    result = ceremony(client)[0].present(key_shares=hexes(shares[:3]), nonce=nonce, otp=server.otp)
    assert result["token"] == server.token


def test_lost_answer_counted_continues_without_replay(vault, client, monkeypatch):
    shares = new_shares()
    server = dr_server(vault, shares)
    real_write = client.write
    lost = {"n": 0}

    def flaky_write(path, data=None, **kw):
        resp = real_write(path, data=data, **kw)
        if path.endswith("/update") and lost["n"] == 0:
            lost["n"] += 1
            raise tg.VaultAnswerLost("PUT", path, url=URL, reason="ReadTimeout: read timed out")
        return resp

    monkeypatch.setattr(client, "write", flaky_write)
    c, warnings = ceremony(client)
    result = c.present(key_shares=hexes(shares[:3]))
    assert result["complete"] and result["token"] == server.token
    assert len(server.sent("PUT", "/update")) == 3  # each share exactly once
    assert any("answer was lost" in w for w in warnings)


def test_lost_answer_not_counted_is_not_replayed(vault, client, monkeypatch):
    shares = new_shares()
    server = dr_server(vault, shares)
    real_write = client.write

    def dropping_write(path, data=None, **kw):
        if path.endswith("/update"):
            client.write_count += 1  # sent, but the server never saw it
            raise tg.VaultAnswerLost("PUT", path, url=URL, reason="ConnectionResetError")
        return real_write(path, data=data, **kw)

    monkeypatch.setattr(client, "write", dropping_write)
    with pytest.raises(ModuleFailure) as err:
        ceremony(client)[0].present(key_shares=hexes(shares[:3]))
    assert "not counted" in err.value.msg and "not sent again" in err.value.msg
    assert err.value.result["progress"] == 0 and server.nonce in err.value.msg
    assert not server.sent("PUT", "/update")


def test_lost_answer_of_completing_share(vault, client, monkeypatch):
    shares = new_shares()
    server = dr_server(vault, shares)
    real_write = client.write

    def write(path, data=None, **kw):
        resp = real_write(path, data=data, **kw)
        if path.endswith("/update") and resp.data.get("complete"):
            raise tg.VaultAnswerLost("PUT", path, url=URL, reason="ReadTimeout")
        return resp

    monkeypatch.setattr(client, "write", write)
    with pytest.raises(ModuleFailure, match="cannot be read again"):
        ceremony(client)[0].present(key_shares=hexes(shares[:3]))
    assert len(server.sent("PUT", "/update")) == 3


def test_legacy_server_otp(vault, client):
    shares = new_shares()
    token = str(uuid.uuid4())
    server = dr_server(vault, shares, token=token, otp_length=None)
    result = ceremony(client)[0].present(key_shares=hexes(shares[:3]))
    assert result["otp_length"] == 0 and result["token"] == token
    assert len(base64.b64decode(server.sent("PUT", "/attempt")[0][2]["otp"])) == 16


def test_user_otp_checked_before_sending(vault, client):
    server = dr_server(vault, new_shares())
    with pytest.raises(ModuleFailure, match="exactly 28"):
        ceremony(client)[0].present(key_shares=[new_shares(1)[0].hex()], otp="tooShort")
    assert not server.sent("PUT")


def test_user_otp_used_for_start_and_decode(vault, client):
    shares = new_shares()
    server = dr_server(vault, shares)
    otp = tg.generate_otp(28)
    result = ceremony(client)[0].present(key_shares=hexes(shares[:3]), otp=otp)
    assert server.sent("PUT", "/attempt")[0][2] == {"otp": otp}
    assert result["token"] == server.token and "otp" not in result


def test_pgp_ceremony_decrypted_with_gnupg_home(vault, client, pgp):
    shares = new_shares()
    server = dr_server(vault, shares, gnupg_home=pgp["home"])
    result = ceremony(client)[0].present(key_shares=hexes(shares[:3]), pgp_key=pgp["armor"],
                                         gnupg_home=pgp["home"], pgp_passphrase=pgp["passphrase"])
    assert server.sent("PUT", "/attempt")[0][2] == {"pgp_key": pgp["b64"]}
    assert result["pgp_fingerprint"] == pgp["fingerprint"] and result["token"] == server.token
    assert "otp" not in result


def test_pgp_ceremony_without_gnupg_home_returns_ciphertext(vault, client, pgp):
    import gnupg

    shares = new_shares()
    server = dr_server(vault, shares, gnupg_home=pgp["home"])
    first = ceremony(client)[0].present(key_shares=hexes(shares[:1]), pgp_key=pgp["b64"])
    assert "otp" not in first and first["pgp_fingerprint"] == pgp["fingerprint"]
    # a later holder joins by the same public key, without the nonce
    last = ceremony(client)[0].present(key_shares=hexes(shares[1:3]), pgp_key=pgp["armor"])
    assert last["complete"] and "token" not in last and last["pgp_fingerprint"] == pgp["fingerprint"]
    plain = gnupg.GPG(gnupghome=pgp["home"]).decrypt(base64.b64decode(last["encoded_token"]), passphrase=pgp["passphrase"])
    assert plain.data.decode() == server.token


def test_pgp_private_key_missing_checked_before_shares(vault, client, pgp, tmp_path):
    server = dr_server(vault, new_shares(), gnupg_home=pgp["home"])
    empty_home = tmp_path / "gnupg"
    empty_home.mkdir(mode=0o700)
    with pytest.raises(ModuleFailure, match="holds no private key"):
        ceremony(client)[0].present(key_shares=[new_shares(1)[0].hex()], pgp_key=pgp["b64"], gnupg_home=str(empty_home))
    assert not server.sent("PUT", "/update")
    subprocess.run(["gpgconf", "--homedir", str(empty_home), "--kill", "gpg-agent"], check=False, capture_output=True)


def test_other_pgp_key_than_running_fails(vault, client, pgp):
    shares = new_shares()
    server = dr_server(vault, shares)
    server.started(otp=tg.generate_otp(28))
    with pytest.raises(ModuleFailure, match="not the key of the running"):
        ceremony(client)[0].present(key_shares=[shares[0].hex()], pgp_key=pgp["b64"])


def test_cancel(vault, client):
    shares = new_shares()
    server = dr_server(vault, shares)
    assert ceremony(client)[0].cancel()["changed"] is False
    nonce = server.started(otp=tg.generate_otp(28), provided=shares[:2])
    assert ceremony(client, check_mode=True)[0].cancel()["changed"] is True
    assert server.nonce == nonce
    with pytest.raises(ModuleFailure, match="Nothing was canceled"):
        ceremony(client)[0].cancel(nonce="11111111-2222-3333-4444-555555555555")
    result = ceremony(client)[0].cancel(nonce=nonce)
    assert result["changed"] and result["started"] is False and not server.nonce
    assert result["diff"]["before"]["nonce"] == nonce and result["diff"]["before"]["progress"] == 2
    assert len(server.sent("DELETE")) == 1


# -- every token-generation error text in vault-api-facts.md, mapped to a clear failure -----

@pytest.mark.parametrize("stage,status,text,expect", GENERATION_ERROR_CASES)
def test_error_texts_become_clear_failures(vault, client, stage, status, text, expect):
    family = tg.RECOVERY_TOKEN if "recovery" in expect or "recovery" in text or "unsupported path" in text else tg.DR_OPERATION_TOKEN
    share = new_shares(1)[0].hex()
    stub_generation_error(vault, family, stage, status, text)
    with pytest.raises(ModuleFailure) as err:
        ceremony(client, family)[0].present(key_shares=[share])
    msg = err.value.msg
    assert expect in msg, msg
    assert text.split(";")[0] in msg  # what the cluster answered
    assert ("HTTP %d" % status) in msg and err.value.result["http_status"] == status
    secrets_absent(msg + json.dumps(err.value.result), share)
    # a failed submission is never sent twice
    assert len([c for c in vault.calls if c.request.url.endswith("/update")]) <= 1


def test_op_token_endpoints_without_vault_token_explained(vault):
    vault.add(responses.GET, URL + "/v1/" + tg.DR_OPERATION_TOKEN.attempt_path, json={"errors": ["permission denied"]}, status=403)
    c, _unused = ceremony(VaultClient(URL, retries=0, token_source=lambda required=True: None))
    with pytest.raises(ModuleFailure, match="require a Vault token"):
        c.present(key_shares=[new_shares(1)[0].hex()])


def test_recovery_family_never_sends_a_token(vault, client):
    shares = new_shares()
    server = FakeCeremonyServer(vault, "sys/generate-recovery-token", token="hvr.CAESIBnMv4kT7yQxW2eRtYuI", shares=shares)
    result = ceremony(client, tg.RECOVERY_TOKEN)[0].present(key_shares=b64s(shares[:3]))
    assert result["token"] == server.token
    assert {c[3] for c in server.calls} == {None}


def test_normalize_attempt_flat_and_enveloped():
    flat = fixture("optoken_attempt_running")
    assert tg.normalize_attempt(flat)["nonce"] == flat["nonce"]
    legacy = tg.normalize_attempt(fixture("optoken_attempt_legacy_idle"))
    assert legacy["otp_length"] == 0 and legacy["started"] is False


def test_share_refused_with_503_is_not_resent(vault, client):
    shares = new_shares()
    server = dr_server(vault, shares)
    server.started(otp=tg.generate_otp(28))
    vault.replace(responses.PUT, URL + "/v1/" + tg.DR_OPERATION_TOKEN.update_path,
                  json={"errors": ["Vault is sealed"]}, status=503)
    with pytest.raises(ModuleFailure, match="HTTP 503") as err:
        ceremony(client)[0].present(key_shares=[shares[0].hex()], nonce=server.nonce)
    assert len([c for c in vault.calls if c.request.url.endswith("/update")]) == 1  # the client would retry twice
    assert client.retries == 2  # put back
    assert err.value.result["progress"] == 0


def test_failed_run_hands_back_the_otp_it_made(vault, client):
    shares = new_shares()
    server = dr_server(vault, shares)
    with pytest.raises(ModuleFailure) as err:
        ceremony(client)[0].present(key_shares=[shares[0].hex(), new_shares(1)[0].hex(), shares[1].hex()])
    assert err.value.result["started"] and err.value.result["otp"] == server.otp
    # with it, the holders can finish that very attempt
    result = ceremony(client)[0].present(key_shares=hexes(shares[2:5]), nonce=err.value.result["nonce"],
                                         otp=err.value.result["otp"])
    assert result["token"] == server.token


def test_joining_with_a_wrong_length_otp_fails_before_sending(vault, client):
    shares = new_shares()
    server = dr_server(vault, shares)
    nonce = server.started(otp=tg.generate_otp(28), provided=shares[:2])
    with pytest.raises(ModuleFailure, match="exactly 28"):
        ceremony(client)[0].present(key_shares=[shares[2].hex()], nonce=nonce, otp=tg.generate_otp(26))
    assert not server.sent("PUT") and len(server.provided) == 2


# ---------------------------------------------------------------------------------------
# Issue 12: inputs checked before any request, and failures that say what to do
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad,why", [
    ("", "is empty"),
    ("   ", "is empty"),
    ("abcd ef01", "contains whitespace"),
    ("abc", "odd number of hex digits"),
    ("\u00e9\u00e9\u00e9\u00e9", "non-ASCII"),
    ("%%%%", "neither hex nor base64"),
])
def test_bad_share_refused_before_any_request(vault, client, bad, why):
    good = new_shares(1)[0].hex()
    with pytest.raises(ModuleFailure) as err:
        ceremony(client)[0].present(key_shares=[good, bad])
    msg = err.value.msg
    assert "key_shares item 2" in msg and why in msg and "Nothing was sent" in msg and ".." not in msg
    assert good not in msg and (not bad.strip() or bad not in msg)
    assert not vault.calls


@pytest.mark.parametrize("otp", ["not base62!", " " + "a" * 27, "\u00e9" * 28])
def test_otp_shape_refused_before_any_request(vault, client, otp):
    with pytest.raises(ModuleFailure, match="otp") as err:
        ceremony(client)[0].present(key_shares=[new_shares(1)[0].hex()], otp=otp)
    assert otp.strip() not in err.value.msg and "leave otp out" in err.value.msg
    assert not vault.calls


def test_gnupg_home_missing_refused_before_any_request(vault, client, pgp):
    with pytest.raises(ModuleFailure) as err:
        ceremony(client)[0].present(key_shares=[new_shares(1)[0].hex()], pgp_key=pgp["b64"],
                                    gnupg_home="/nonexistent/gnupg-home")
    assert "gnupg_home /nonexistent/gnupg-home is not a directory" in err.value.msg
    assert "holds the private key" in err.value.msg and not vault.calls


def test_private_key_as_pgp_key_refused_before_any_request(vault, client, pgp):
    with pytest.raises(ModuleFailure, match="(?i)private") as err:
        ceremony(client)[0].present(key_shares=[new_shares(1)[0].hex()], pgp_key=pgp["private_armor"])
    assert not any(line in err.value.msg for line in pgp["private_armor"].splitlines() if len(line) > 20)
    assert not vault.calls


def test_sign_only_pgp_key_refused_before_any_request(vault, client, tmp_path):
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
    subprocess.run(gpg + ["--quick-gen-key", "signer@vaultops.test", "ed25519", "sign", "never"], check=True, capture_output=True)
    armor = subprocess.run(gpg + ["--armor", "--export"], check=True, capture_output=True, text=True).stdout
    fpr = _pgp.pgp_fingerprint(_pgp._dearmor(armor))
    with pytest.raises(ModuleFailure) as err:
        ceremony(client)[0].present(key_shares=[new_shares(1)[0].hex()], pgp_key=armor)
    assert fpr in err.value.msg and "can encrypt" in err.value.msg and "Nothing was sent" in err.value.msg
    assert not vault.calls
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, capture_output=True)


def test_repeated_share_warning_names_the_item(vault, client):
    shares = new_shares()
    server = dr_server(vault, shares)
    nonce = server.started(otp=tg.generate_otp(28), provided=shares[1:2])
    c, warnings = ceremony(client)
    result = c.present(key_shares=[shares[0].hex(), shares[1].hex()], nonce=nonce)
    assert result["shares_submitted"] == 1 and result["shares_already_provided"] == 1
    assert any("key_shares item 2 was already counted" in w for w in warnings)
    assert not any(" of 2" in w for w in warnings)


def test_failure_after_this_run_started_the_attempt_says_it_is_open(vault, client, pgp, tmp_path):
    server = dr_server(vault, new_shares(), gnupg_home=pgp["home"])
    empty_home = tmp_path / "gnupg"
    empty_home.mkdir(mode=0o700)
    with pytest.raises(ModuleFailure) as err:
        ceremony(client)[0].present(key_shares=[new_shares(1)[0].hex()], pgp_key=pgp["b64"], gnupg_home=str(empty_home))
    msg = err.value.msg
    assert "holds no private key" in msg and "still open" in msg and "nonce=%s" % server.nonce in msg
    assert "state=canceled" in msg and ".." not in msg and err.value.result["changed"] is True
    subprocess.run(["gpgconf", "--homedir", str(empty_home), "--kill", "gpg-agent"], check=False, capture_output=True)


@pytest.mark.parametrize("stage,status,text,expect", GENERATION_ERROR_CASES)
def test_error_messages_are_sentences_with_a_next_step(vault, client, stage, status, text, expect):
    family = tg.RECOVERY_TOKEN if "recovery" in expect or "recovery" in text or "unsupported path" in text else tg.DR_OPERATION_TOKEN
    stub_generation_error(vault, family, stage, status, text)
    with pytest.raises(ModuleFailure) as err:
        ceremony(client, family)[0].present(key_shares=[new_shares(1)[0].hex()])
    msg = err.value.msg
    assert ".." not in msg and msg.endswith(".") and "key share 1 of 1" not in msg
    if err.value.result.get("started"):  # read back still open: it says so and how to go on
        assert "still open" in msg and "state=canceled" in msg
    if stage == "update":  # this run made the OTP of the attempt it started: handed back when still open
        assert ("otp" in err.value.result) == bool(err.value.result.get("started"))
    if stage in ("read", "start"):
        assert "nothing was" in msg.lower() or "Nothing was" in msg


def test_wrong_nonce_answered_by_the_server(vault, client):
    shares = new_shares()
    server = dr_server(vault, shares)
    nonce = server.started(otp=tg.generate_otp(28))
    # the attempt changed between this run's read and its submission
    vault.replace(responses.PUT, URL + "/v1/" + tg.DR_OPERATION_TOKEN.update_path, status=400,
                  json={"errors": ['incorrect nonce supplied; nonce for this root generation operation is "%s"' % nonce]})
    with pytest.raises(ModuleFailure) as err:
        ceremony(client)[0].present(key_shares=[shares[0].hex()], nonce=nonce)
    assert "Pass the running attempt's nonce" in err.value.msg and nonce in err.value.msg
    assert len([c for c in vault.calls if c.request.url.endswith("/update")]) == 1
