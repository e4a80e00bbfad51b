"""Property tests (hypothesis) for the decoder, share parsing, OTP and PGP key input: on any input
the only exception is the decided failure type (TokenGenerationError, or ModuleFailure from the
ceremony's input checks), and the values that parse behave as the server expects."""

from __future__ import annotations

import base64
import inspect
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.vaultops.dr.plugins.module_utils import _ceremony, _key_shares, _otp, _pgp
from ansible_collections.vaultops.dr.plugins.module_utils._errors import ModuleFailure

# No example database (nothing written into the tree), derandomized (the same examples on every run, so
# `make test` never turns red by chance), a fixed budget that keeps `make units` fast.
settings.register_profile("vaultops", max_examples=100, deadline=None, database=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("vaultops")

b64_text = st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())
unpadded_b64 = b64_text.map(lambda t: t.rstrip("="))
anything = st.one_of(st.none(), st.integers(), st.text(max_size=80), b64_text, unpadded_b64,
                     st.binary(max_size=40), st.lists(st.text(max_size=5), max_size=3))
otp_like = st.one_of(st.text(max_size=40), st.text(alphabet=_otp.BASE62, min_size=20, max_size=30),
                     st.binary(min_size=16, max_size=16).map(lambda b: base64.b64encode(b).decode()))


@given(encoded=anything, otp=anything, legacy=st.sampled_from([None, True, False]))
def test_decoder_fails_only_with_its_own_error(encoded, otp, legacy):
    try:
        out = _otp.decode_token(encoded, otp, legacy=legacy)
    except _otp.TokenGenerationError as exc:
        assert str(exc)
    else:
        assert isinstance(out, str) and out and out.isascii()


@given(token=st.text(alphabet=string.ascii_letters + string.digits + ".", min_size=20, max_size=32))
def test_decoder_round_trip_any_token(token):
    otp = _otp.generate_otp(len(token))
    encoded = base64.b64encode(bytes(a ^ b for a, b in zip(token.encode(), otp.encode()))).decode().rstrip("=")
    assert _otp.decode_token(encoded, otp) == token


@given(otp=otp_like, length=st.sampled_from([0, 24, 26, 28, None]))
def test_otp_checks_fail_only_with_their_own_error(otp, length):
    for check in (lambda: _otp.check_otp_shape(otp), lambda: _otp.validate_otp(otp, length)):
        try:
            check()
        except _otp.TokenGenerationError as exc:
            # never echoed (short values may occur in the message's own words by chance)
            assert len(otp) < 12 or otp not in str(exc)


share_item = st.one_of(st.text(max_size=70), st.binary(min_size=1, max_size=40).map(lambda b: b.hex()),
                       st.binary(min_size=1, max_size=40).map(lambda b: base64.b64encode(b).decode()),
                       st.none(), st.integers())


@given(shares=st.lists(share_item, max_size=8))
def test_share_parsing_fails_only_with_its_own_error(shares):
    try:
        unique, positions, dropped = _key_shares.dedupe_shares_with_positions(shares)
    except _otp.TokenGenerationError as exc:
        msg = str(exc)
        assert msg.startswith("key_shares item ") and "Nothing was sent" in msg
        # A share's text may be a word of the message's own wording ("item", "hex "): only other text is an echo.
        wording = inspect.getsource(_key_shares)
        assert not any(isinstance(s, str) and len(s.strip()) > 3 and s in msg and s not in wording for s in shares)
        return
    assert len(unique) + dropped == len(shares) and len(positions) == len(unique)
    raws = [_key_shares.share_bytes(s) for s in unique]
    assert all(raws) and len(set(raws)) == len(raws)
    assert all(s == s.strip() for s in unique)


@given(share=st.binary(min_size=1, max_size=40))
def test_hex_and_base64_of_one_share_count_once(share):
    as_b64 = base64.b64encode(share).decode()
    # Vault reads a share as hex first: base64 that is also valid hex is another share to it, too
    assume(_key_shares.share_bytes(as_b64) == share)
    unique, dropped = _key_shares.dedupe_shares([share.hex(), as_b64, share.hex().upper()])
    assert unique == [share.hex()] and dropped == 2


@given(key=st.one_of(anything, st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()),
                     st.binary(max_size=120).map(lambda b: base64.b64encode(b"\x99" + b).decode()),
                     st.binary(max_size=120).map(lambda b: base64.b64encode(b"\xc6" + b).decode()),
                     st.text(max_size=200).map(lambda t: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + t)))
def test_pgp_key_parsing_fails_only_with_its_own_error(key):
    try:
        b64, fpr = _pgp.normalize_pgp_key(key)
    except _otp.TokenGenerationError as exc:
        assert str(exc)
    else:
        assert base64.b64decode(b64) and len(fpr) in (40, 64)


@pytest.mark.parametrize("pgp_key", [None, "", "AAAA"])
@given(shares=st.lists(share_item, max_size=5), otp=st.one_of(st.none(), otp_like),
       nonce=st.one_of(st.none(), st.text(max_size=40)))
def test_ceremony_input_checks_fail_only_as_module_failures(pgp_key, shares, otp, nonce):
    try:
        ask = _ceremony.Ask(shares, otp, pgp_key, nonce, None, None)
    except ModuleFailure as exc:
        assert exc.msg.endswith(".") and ".." not in exc.msg
        return
    assert ask.nonce is None or ask.nonce == ask.nonce.strip()
