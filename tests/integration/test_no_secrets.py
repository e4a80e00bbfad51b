"""No secret value reaches Ansible's output, at -vvvv, on success or failure."""

from __future__ import annotations

import os
import secrets
import string
import subprocess

from lab_api import issue_activation_token

ALPHABET = string.ascii_letters + string.digits


def _rand(n):
    return "".join(secrets.choice(ALPHABET) for _ in range(n))


def _pgp_public_key(tmp_path):
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    subprocess.run(["gpg", "--homedir", str(home), "--batch", "--passphrase", "", "--quick-gen-key",
                    "secrets-test@vaultops.invalid", "rsa2048", "encrypt", "never"], check=True, capture_output=True)
    out = subprocess.run(["gpg", "--homedir", str(home), "--armor", "--export"], check=True, capture_output=True, text=True)
    return out.stdout


def test_no_secret_in_vvvv_output(fresh_lab, playbook, tmp_path):
    a, b = fresh_lab.cluster("a"), fresh_lab.cluster("b")
    values = {
        "activation_token": issue_activation_token(a, "b"),
        "user_otp": _rand(26),  # OpenBao's root-token OTP length
        "fake_op_token": "s." + _rand(24),
        "fake_activation_token": "s." + _rand(24),
        "fake_password": "pw-" + _rand(20),
        "fake_secret_id": "sid-" + _rand(20),
        "fake_passphrase": "pp-" + _rand(20),
    }
    proc = playbook("targets/secrets/every_secret_option.yml", verbosity=4,
                    pgp_public_key=_pgp_public_key(tmp_path), **values)
    output = proc.output
    if os.environ.get("SHOW_OUTPUT"):
        print(output)
    assert "vaultops.dr.dr_operation_token" in output or "dr_operation_token" in output  # the run really happened
    secret_values = dict(values)
    secret_values["root token a"] = a.root_token
    secret_values["root token b"] = b.root_token
    for i, share in enumerate(a.unseal_keys_b64 + a.unseal_keys_hex):
        secret_values["key share %d" % i] = share
    leaked = [name for name, value in secret_values.items() if value in output]
    assert not leaked, "secret values printed: %s" % ", ".join(leaked)
