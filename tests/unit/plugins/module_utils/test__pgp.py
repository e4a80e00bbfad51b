"""_pgp: which public keys can encrypt (real keys made by gnupg in a temporary home), and refusing
private keys without ever echoing them."""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
import time

import pytest
from conftest import gpg_batch

from ansible_collections.vaultops.dr.plugins.module_utils import _pgp
from ansible_collections.vaultops.dr.plugins.module_utils._otp import TokenGenerationError


def fingerprint_of(home, uid):
    for line in gpg_batch(home, "--with-colons", "--list-keys", uid).splitlines():
        if line.startswith("fpr:"):
            return line.split(":")[9].lower()
    raise AssertionError("no key for %s" % uid)


@pytest.fixture(scope="module")
def keys():
    """Real keys of several kinds, made by gnupg in a throwaway home."""
    home = tempfile.mkdtemp(prefix="vaultops-pgp-")
    made = {}
    for name, algo in (("signonly", "ed25519"), ("rsasign", "rsa2048"), ("full", "ed25519"), ("expiring", "ed25519")):
        uid = "%s@vaultops.test" % name
        gpg_batch(home, "--quick-gen-key", uid, algo, "sign", "never")  # sign-only (gpg's "default" RSA-3072 is slow)
        made[name] = {"uid": uid, "fpr": fingerprint_of(home, uid)}
    # an encryption subkey, and one that expires in one day
    gpg_batch(home, "--quick-add-key", made["full"]["fpr"].upper(), "cv25519", "encr", "never")
    gpg_batch(home, "--quick-add-key", made["expiring"]["fpr"].upper(), "cv25519", "encr", "1d")
    for info in made.values():
        info["armor"] = gpg_batch(home, "--armor", "--export", info["uid"])
        info["raw"] = gpg_batch(home, "--export", info["uid"], text=False)
        info["private"] = gpg_batch(home, "--armor", "--export-secret-keys", info["uid"])
    yield made
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], check=False, capture_output=True)
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("name", ["signonly", "rsasign"])
def test_sign_only_key_refused_naming_fingerprint_and_fix(keys, name):
    key = keys[name]
    assert not _pgp.encryption_capable(key["raw"])
    for given in (key["armor"], base64.b64encode(key["raw"]).decode()):
        with pytest.raises(TokenGenerationError) as err:
            _pgp.normalize_pgp_key(given)
        msg = str(err.value)
        assert key["fpr"] in msg and "can encrypt" in msg and "--quick-add-key" in msg and "Nothing was sent" in msg
        body = [line for line in key["armor"].splitlines() if len(line) > 40][0]
        assert body not in msg and base64.b64encode(key["raw"]).decode()[:40] not in msg


def test_key_with_encryption_subkey_accepted(keys):
    b64, fpr = _pgp.normalize_pgp_key(keys["full"]["armor"])
    assert fpr == keys["full"]["fpr"] and base64.b64decode(b64) == keys["full"]["raw"]
    assert _pgp.encryption_capable(keys["full"]["raw"])


def test_expired_encryption_subkey_does_not_count(keys):
    raw = keys["expiring"]["raw"]
    assert _pgp.encryption_capable(raw)
    assert not _pgp.encryption_capable(raw, now=time.time() + 2 * 86400)


@pytest.mark.parametrize("name", ["signonly", "full"])
def test_private_key_refused_without_echo(keys, name):
    private = keys[name]["private"]
    with pytest.raises(TokenGenerationError) as err:
        _pgp.normalize_pgp_key(private)
    msg = str(err.value)
    assert "private" in msg.lower() and "public key" in msg
    assert not any(line in msg for line in private.splitlines() if len(line) > 20)
    # the binary secret key, base64 as `gpg --export-secret-keys | base64` gives it
    raw_b64 = base64.b64encode(_pgp._dearmor(private.replace("PRIVATE KEY BLOCK", "PUBLIC KEY BLOCK"))).decode()
    with pytest.raises(TokenGenerationError, match="(?i)private") as err:
        _pgp.normalize_pgp_key(raw_b64)
    assert raw_b64[:40] not in str(err.value)


def test_public_key_followed_by_secret_key_refused(keys):
    public = keys["full"]["raw"]
    secret = _pgp._dearmor(keys["full"]["private"].replace("PRIVATE KEY BLOCK", "PUBLIC KEY BLOCK"))
    # secret key packets after a public key (a concatenated export) are refused too
    with pytest.raises(TokenGenerationError, match="private key material") as err:
        _pgp.normalize_pgp_key(base64.b64encode(public + secret).decode())
    assert base64.b64encode(secret).decode()[:40] not in str(err.value)


@pytest.mark.parametrize("raw", [b"\x99", b"\x99\x00", b"\xc6\xff\x00", b"\x98\x05\x04\x00"])
def test_truncated_keys_fail_cleanly(raw):
    with pytest.raises(TokenGenerationError):
        _pgp.normalize_pgp_key(base64.b64encode(raw).decode())
