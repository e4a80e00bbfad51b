"""The key-share ceremony against drlab (real OpenBao key shares and generate-root underneath).

a is the DR primary, b its DR secondary (set up here with plain HTTP), c a stand-alone cluster
for recovery mode. Every outcome is checked with plain HTTP against the cluster, never through
the module under test. The tests run in file order: promotion of b comes last among b's.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess

import pytest
from lab_api import OP_ATTEMPT, Api, issue_activation_token, wait_for


@pytest.fixture(scope="module")
def pair(fresh_lab):
    """a: DR primary; b: its DR secondary, streaming."""
    a, b = fresh_lab.cluster("a"), fresh_lab.cluster("b")
    api_a, api_b = Api(a), Api(b)
    activation = issue_activation_token(a, "b")
    resp = api_b("POST", "sys/replication/dr/secondary/enable", token=b.root_token,
                 json={"token": activation, "ca_file": a.ca_cert})
    assert resp.status_code in (200, 204), resp.text
    wait_for(lambda: api_b.dr().get("state") == "stream-wals", what="b to stream WALs from a")
    return {"lab": fresh_lab, "a": a, "b": b, "api_a": api_a, "api_b": api_b}


@pytest.fixture
def run(playbook, tmp_path):
    """Run a ceremony playbook; return (module result, process)."""
    counter = {"n": 0}

    def _run(name, expect_fail=False, check=False, **extra):
        # check: the module task alone in check mode (module_check), the rest of the play writes the result file
        counter["n"] += 1
        extra["module_check"] = check
        extra.setdefault("show_output", expect_fail)  # a run that succeeds prints no result (it holds the token)
        out = tmp_path / ("result-%d.json" % counter["n"])
        proc = playbook("targets/ceremony/" + name, expect_fail=expect_fail, result_file=str(out), **extra)
        result = json.loads(out.read_text()) if out.exists() else None
        return result, proc

    return _run


def no_attempt_running(api, path=OP_ATTEMPT):
    # drlab's secondary OpenBao answers 503 (sealed) for a moment while it restores replicated state
    wait_for(lambda: api("GET", path).status_code != 503, what="%s to answer (not 503)" % path)
    return not api.attempt(path)["started"]


def test_one_run_three_of_five(pair, run):
    a, api_b = pair["a"], pair["api_b"]
    shares = a.unseal_keys_b64[:3]
    # check mode: predicts the change, starts nothing
    result, _unused = run("op_token.yml", shares=shares, check=True)
    assert result["changed"] and "token" not in result
    assert no_attempt_running(api_b)
    # the real run
    result, proc = run("op_token.yml", shares=shares)
    assert result["changed"] and result["complete"] and result["progress"] == 3 and result["required"] == 3
    assert result["otp_length"] == api_b.attempt()["otp_length"] and "otp" not in result
    token = result["token"]
    assert token.startswith(("s.", "hvs.")) and token not in proc.output
    assert result["status"]["mode"] == "secondary"
    assert no_attempt_running(api_b)
    # independently: the cluster accepts it as a DR operation token (deleting it proves it)
    resp = api_b.delete_op_token(token)
    assert resp.status_code in (200, 204), resp.text
    # and a re-run with nothing to start an attempt with is no change
    result, _unused = run("op_token.yml")
    assert result["changed"] is False and result["started"] is False


def test_three_holders_three_runs(pair, run):
    a, api_b = pair["a"], pair["api_b"]
    hexes = a.unseal_keys_hex
    vault_token = a.root_token  # what Vault 2.x wants on these endpoints; the lab checks it when sent
    first, _unused = run("op_token.yml", shares=[hexes[0]], vault_token=vault_token)
    assert first["changed"] and first["progress"] == 1 and not first["complete"] and first["otp"]
    running = api_b.attempt()
    assert running["started"] and running["nonce"] == first["nonce"] and running["progress"] == 1

    second, _unused = run("op_token.yml", shares=[hexes[1]], nonce=first["nonce"], vault_token=vault_token)
    assert second["changed"] and second["progress"] == 2 and "otp" not in second
    assert api_b.attempt()["progress"] == 2

    # holder 2 runs again (a retried AWX job): the share was counted, no change, no failure
    again, _unused = run("op_token.yml", shares=[a.unseal_keys_b64[1]], nonce=first["nonce"], vault_token=vault_token)
    assert again["changed"] is False and again["shares_already_provided"] == 1 and again["progress"] == 2

    # someone with a wrong nonce is told which attempt is running, and nothing changes
    _unused, proc = run("op_token.yml", expect_fail=True, shares=[hexes[2]], nonce="0b6b0b2c-0000-4000-8000-000000000000")
    assert first["nonce"] in proc.output and "is not the running" in proc.output
    assert api_b.attempt()["progress"] == 2

    last, _unused = run("op_token.yml", shares=[hexes[2]], nonce=first["nonce"], otp=first["otp"], vault_token=vault_token)
    assert last["complete"] and last["token"] and "otp" not in last
    assert no_attempt_running(api_b)

    # disposal: changed, then no change; then the cluster no longer accepts it
    gone, _unused = run("op_token.yml", op_state="absent", dr_operation_token=last["token"])
    assert gone["changed"] and "operation-token/delete" in gone["disposal"]
    gone_again, _unused = run("op_token.yml", op_state="absent", dr_operation_token=last["token"])
    assert gone_again["changed"] is False
    resp = api_b.delete_op_token(last["token"])
    assert resp.status_code == 400 and "invalid" in resp.text


def test_docs_playbook_three_holders_one_run(pair, playbook, tmp_path):
    a, api_b = pair["a"], pair["api_b"]
    out = tmp_path / "three.json"
    playbook("targets/ceremony/three_holders.yml", result_file=str(out), holder1_share=a.unseal_keys_b64[4],
             holder2_share=a.unseal_keys_b64[2], holder3_share=a.unseal_keys_hex[0])
    result = json.loads(out.read_text())
    assert result["progress"] == [1, 2, 3]
    # the playbook deleted the token at its end
    assert api_b.delete_op_token(result["token"]).status_code == 400


@pytest.fixture(scope="module")
def gnupg_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    passphrase = "pp-" + secrets.token_hex(8)
    # a primary key and an encryption subkey (ed25519 + cv25519: gpg 2.2's "default" RSA-3072 takes seconds)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase]
    subprocess.run(gpg + ["--quick-gen-key", "ceremony-test@vaultops.invalid", "ed25519", "sign", "never"],
                   check=True, capture_output=True)
    listing = subprocess.run(gpg + ["--with-colons", "--list-keys", "ceremony-test@vaultops.invalid"], check=True,
                             capture_output=True, text=True).stdout.splitlines()
    fpr = [line.split(":")[9] for line in listing if line.startswith("fpr:")][0]
    subprocess.run(gpg + ["--quick-add-key", fpr, "cv25519", "encr", "never"], check=True, capture_output=True)
    armor = subprocess.run(["gpg", "--homedir", str(home), "--armor", "--export", fpr], check=True, capture_output=True, text=True).stdout
    binary = subprocess.run(["gpg", "--homedir", str(home), "--export", fpr], check=True, capture_output=True).stdout
    yield {"home": str(home), "passphrase": passphrase, "armor": armor, "b64": base64.b64encode(binary).decode()}
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, capture_output=True)


def test_pgp_decrypted_with_gnupg_home(pair, run, gnupg_home):
    a, api_b = pair["a"], pair["api_b"]
    result, proc = run("op_token.yml", shares=a.unseal_keys_b64[1:4], pgp_key=gnupg_home["armor"],
                       gnupg_home=gnupg_home["home"], pgp_passphrase=gnupg_home["passphrase"])
    assert result["complete"] and result["pgp_fingerprint"] and result["token"]
    assert gnupg_home["passphrase"] not in proc.output and result["token"] not in proc.output
    assert api_b.delete_op_token(result["token"]).status_code in (200, 204)


def test_pgp_without_gnupg_home_returns_ciphertext(pair, run, gnupg_home):
    a, api_b = pair["a"], pair["api_b"]
    first, _unused = run("op_token.yml", shares=[a.unseal_keys_b64[0]], pgp_key=gnupg_home["b64"])
    assert api_b.attempt()["pgp_fingerprint"] == first["pgp_fingerprint"] and "otp" not in first
    # the next holder joins by the same public key
    last, _unused = run("op_token.yml", shares=a.unseal_keys_b64[3:5], pgp_key=gnupg_home["armor"])
    assert last["complete"] and "token" not in last and last["encoded_token"]
    plain = subprocess.run(["gpg", "--homedir", gnupg_home["home"], "--batch", "--pinentry-mode", "loopback",
                            "--passphrase", gnupg_home["passphrase"], "-dq"],
                           input=base64.b64decode(last["encoded_token"]), check=True, capture_output=True).stdout.decode()
    assert api_b.delete_op_token(plain).status_code in (200, 204)


def test_wrong_share_fails_at_the_threshold(pair, run):
    a, c, api_b = pair["a"], pair["lab"].cluster("c"), pair["api_b"]
    wrong = c.unseal_keys_b64[0]  # a real share, of another cluster
    first, _unused = run("op_token.yml", shares=[a.unseal_keys_b64[0], wrong])
    assert first["progress"] == 2 and not first["complete"]  # a wrong share is counted like any other
    _unused, proc = run("op_token.yml", expect_fail=True, shares=[a.unseal_keys_b64[1]], nonce=first["nonce"], otp=first["otp"])
    assert "at least one share is wrong" in proc.output and "primary" in proc.output
    assert wrong not in proc.output
    # issue 12: nobody is blamed (the wrong share was counted in the first run), all holders resubmit,
    # the attempt is said to be open with how to resume or cancel it
    assert "any key holder's" in proc.output and "every key holder must" in proc.output
    assert "key share 1 of 1" not in proc.output and "still open" in proc.output
    assert "nonce=%s" % first["nonce"] in proc.output and "state=canceled" in proc.output
    # the server keeps the attempt with its progress reset: the right shares complete it
    after = api_b.attempt()
    assert after["started"] and after["nonce"] == first["nonce"] and after["progress"] == 0
    done, _unused = run("op_token.yml", shares=a.unseal_keys_b64[:3], nonce=first["nonce"], otp=first["otp"])
    assert done["complete"] and done["token"]
    assert api_b.delete_op_token(done["token"]).status_code in (200, 204)


def test_pgp_key_checked_before_any_share(pair, run, gnupg_home):
    """A sign-only key would be accepted by the server and fail only at the completing share (dropping
    the connection and the progress); a private key must never be echoed. Both refused before any request."""
    a, api_b = pair["a"], pair["api_b"]
    gpg = ["gpg", "--homedir", gnupg_home["home"], "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
    subprocess.run(gpg + ["--quick-gen-key", "sign-only@vaultops.invalid", "ed25519", "sign", "never"],
                   check=True, capture_output=True)
    listing = subprocess.run(gpg + ["--with-colons", "--list-keys", "sign-only@vaultops.invalid"], check=True,
                             capture_output=True, text=True).stdout
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")).lower()
    sign_only = subprocess.run(gpg + ["--armor", "--export", fpr], check=True, capture_output=True, text=True).stdout
    _unused, proc = run("op_token.yml", expect_fail=True, shares=[a.unseal_keys_b64[0]], pgp_key=sign_only)
    assert fpr in proc.output and "can encrypt" in proc.output and "--quick-add-key" in proc.output
    assert no_attempt_running(api_b)
    private = subprocess.run(gpg + ["--armor", "--export-secret-keys", fpr], check=True, capture_output=True,
                             text=True).stdout
    _unused, proc = run("op_token.yml", expect_fail=True, shares=[a.unseal_keys_b64[0]], pgp_key=private)
    assert "private key" in proc.output and "PRIVATE KEY BLOCK" not in proc.output  # the run is at -vvvv
    assert not any(line in proc.output for line in private.splitlines() if len(line) > 20)
    assert no_attempt_running(api_b)


def test_bad_input_refused_before_any_request(pair, run):
    a, api_b = pair["a"], pair["api_b"]
    # "" rather than " ": Ansible masks every occurrence of a no_log value in the output, every space then
    _unused, proc = run("op_token.yml", expect_fail=True, shares=[a.unseal_keys_b64[0], ""])
    assert "key_shares item 2 is empty" in proc.output and "Nothing was sent" in proc.output
    _unused, proc = run("op_token.yml", expect_fail=True, shares=[a.unseal_keys_hex[0][:-1]])
    assert "key_shares item 1 has an odd number of hex digits" in proc.output
    _unused, proc = run("op_token.yml", expect_fail=True, shares=[a.unseal_keys_b64[0]], otp="not-an-otp!")
    assert "otp must be a base62 string" in proc.output
    assert no_attempt_running(api_b)


def test_cancel(pair, run):
    a, api_b = pair["a"], pair["api_b"]
    started, _unused = run("op_token.yml", shares=[a.unseal_keys_b64[0]])
    assert api_b.attempt()["started"]
    # check mode, real, then twice more: changed / changed / no change / no change
    check, _unused = run("op_token.yml", op_state="canceled", check=True)
    assert check["changed"] and api_b.attempt()["nonce"] == started["nonce"]
    done, _unused = run("op_token.yml", op_state="canceled", nonce=started["nonce"])
    assert done["changed"] and no_attempt_running(api_b)
    check_again, _unused = run("op_token.yml", op_state="canceled", check=True)
    assert check_again["changed"] is False
    again, _unused = run("op_token.yml", op_state="canceled")
    assert again["changed"] is False


def test_vault2_token_required(pair, run):
    """drlab emulating Vault 2.x: generate-operation-token wants a Vault token (the primary's root token)."""
    the_lab, a, api_b = pair["lab"], pair["a"], pair["api_b"]
    the_lab.set_op_generation_requires_token(True)
    try:
        assert api_b("GET", OP_ATTEMPT).status_code == 403  # the lab really refuses a request without a token
        _unused, proc = run("op_token.yml", expect_fail=True, shares=a.unseal_keys_b64[:3])
        assert "permission denied" in proc.output and "HTTP 403" in proc.output
        assert "require a Vault token" in proc.output and "set token" in proc.output
        assert not api_b.attempt(token=a.root_token)["started"]
        result, proc = run("op_token.yml", shares=a.unseal_keys_b64[2:5], vault_token=a.root_token)
        assert result["changed"] and result["complete"] and result["progress"] == 3 and result["required"] == 3
        assert result["token"] and result["token"] not in proc.output
        assert not api_b.attempt(token=a.root_token)["started"]
        assert api_b.delete_op_token(result["token"]).status_code in (200, 204)
    finally:
        the_lab.set_op_generation_requires_token(False)
    assert no_attempt_running(api_b)  # pre-2.0 again: no token needed


def test_promote_with_the_token_then_delete_it(pair, run):
    a, api_b = pair["a"], pair["api_b"]
    result, _unused = run("op_token.yml", shares=a.unseal_keys_hex[2:5])
    token = result["token"]
    resp = api_b("POST", "sys/replication/dr/secondary/promote", json={"dr_operation_token": token})
    assert resp.status_code in (200, 204), resp.text
    wait_for(lambda: api_b.dr().get("mode") == "primary", what="b to become a primary")
    assert api_b("GET", "auth/token/lookup-self", token=token).status_code == 200
    # state=absent after promotion: check mode, real, then no change twice
    check, _unused = run("op_token.yml", op_state="absent", dr_operation_token=token, check=True)
    assert check["changed"] and api_b("GET", "auth/token/lookup-self", token=token).status_code == 200
    gone, _unused = run("op_token.yml", op_state="absent", dr_operation_token=token)
    assert gone["changed"] and "revoke-self" in gone["disposal"]
    assert api_b("GET", "auth/token/lookup-self", token=token).status_code == 403
    for check_mode in (True, False):
        again, _unused = run("op_token.yml", op_state="absent", dr_operation_token=token, check=check_mode)
        assert again["changed"] is False


def test_absent_leaves_tokens_that_are_not_operation_tokens_alone(pair, run):
    """After the promotion above, b is a primary: the admin's root token, or any token with a TTL or
    other policies, passed as dr_operation_token is never revoked."""
    a, api_b = pair["a"], pair["api_b"]
    assert api_b.dr().get("mode") == "primary"
    _unused, proc = run("op_token.yml", expect_fail=True, op_state="absent", dr_operation_token=a.root_token,
                        vault_token=a.root_token)
    assert "the token this module authenticates with" in proc.output and "left alone" in proc.output
    assert api_b("GET", "auth/token/lookup-self", token=a.root_token).status_code == 200
    made = api_b("POST", "auth/token/create", token=a.root_token, json={"policies": ["default"], "ttl": "1h"})
    assert made.status_code == 200, made.text
    other = made.json()["auth"]["client_token"]
    for check in (True, False):
        _unused, proc = run("op_token.yml", expect_fail=True, op_state="absent", dr_operation_token=other, check=check)
        assert "does not look like a DR operation token" in proc.output and "left alone" in proc.output
    assert api_b("GET", "auth/token/lookup-self", token=other).status_code == 200
    api_b("POST", "auth/token/revoke-self", token=other)


def test_recovery_token_and_sys_raw(pair, run):
    the_lab = pair["lab"]
    c = the_lab.cluster("c")
    api_c = Api(c)
    rec = "sys/generate-recovery-token/attempt"
    _unused, proc = run("recovery.yml", expect_fail=True, shares=c.unseal_keys_b64[:3])
    assert "not running in recovery mode" in proc.output
    the_lab.recovery("c", on=True)
    try:
        check, _unused = run("recovery.yml", shares=c.unseal_keys_b64[:3], check=True)
        assert check["changed"] and no_attempt_running(api_c, rec)
        first, _unused = run("recovery.yml", shares=c.unseal_keys_b64[:1])
        assert first["progress"] == 1 and first["otp"] and api_c.attempt(rec)["nonce"] == first["nonce"]
        last, proc = run("recovery.yml", shares=c.unseal_keys_hex[1:3], nonce=first["nonce"], otp=first["otp"])
        assert last["complete"] and last["token"] and last["token"] not in proc.output
        token = last["token"]
        listing = api_c("LIST", "sys/raw/core/", token=token)
        assert listing.status_code == 200, listing.text
        keys = listing.json()["data"]["keys"]
        assert keys
        leaf = next(k for k in keys if not k.endswith("/"))
        value = api_c("GET", "sys/raw/core/" + leaf, token=token)
        assert value.status_code == 200 and "value" in value.json()["data"]
        # one recovery token per recovery run: another ceremony is refused with a clear message
        _unused, proc = run("recovery.yml", expect_fail=True, shares=c.unseal_keys_b64[:3])
        assert "already unsealed" in proc.output
        # a DR operation token cannot be made on a server in recovery mode: said so, with the way out
        _unused, proc = run("op_token.yml", expect_fail=True, target="c", shares=c.unseal_keys_b64[:3])
        assert "runs in recovery mode" in proc.output and "vaultops.dr.recovery_token" in proc.output
    finally:
        the_lab.recovery("c", on=False)
