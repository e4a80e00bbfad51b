"""No secret value reaches Ansible's output, at -vvvv, on success or failure; and the session's secret scan
(secret_scan.py, run over every playbook run of the suite at its end) really finds what it looks for."""

from __future__ import annotations

import json
import os
import secrets
import string
import subprocess

from lab_api import issue_activation_token
from secret_scan import SecretScan, report

ALPHABET = string.ascii_letters + string.digits


def _rand(n):
    return "".join(secrets.choice(ALPHABET) for _i in range(n))


def _pgp_key_pair(tmp_path):
    """(armoured public key, lines of the armoured private key)."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
    subprocess.run(gpg + ["--quick-gen-key", "secrets-test@vaultops.invalid", "rsa2048", "encrypt", "never"],
                   check=True, capture_output=True)
    public = subprocess.run(gpg + ["--armor", "--export"], check=True, capture_output=True, text=True).stdout
    private = subprocess.run(gpg + ["--armor", "--export-secret-keys"], check=True, capture_output=True, text=True).stdout
    body = [line for line in private.splitlines() if len(line) == 64]  # base64 lines of the key packets
    return public, body


def test_no_secret_in_vvvv_output(fresh_lab, playbook, tmp_path, secret_scan):
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
    public, private_lines = _pgp_key_pair(tmp_path)
    for line in private_lines[2:8]:  # past the header packets: key material
        secret_scan.remember(line, "PGP private key material")
    proc = playbook("targets/secrets/every_secret_option.yml", verbosity=4, pgp_public_key=public, **values)
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


def test_the_scan_finds_each_kind_and_never_shows_it(tmp_path):
    """The session scan is only worth something if it finds leaks: plant one of each kind."""
    scan = SecretScan()
    root, share, hex_share = "s." + _rand(24), _rand(43) + "=", _rand(64)
    (tmp_path / "lab.json").write_text(json.dumps({"clusters": {"a": {
        "root_token": root, "unseal_keys_b64": [share], "unseal_keys_hex": [hex_share]}}}))
    scan.remember_lab(tmp_path)
    given = {"failover_dr_operation_tokens": {"b": "hvs." + _rand(90)}, "failover_key_shares": [_rand(44)],
             "ceremony_otp": _rand(28), "batch_token_ttl": "168h", "batch_token_role": "vaultops-dr-batch-role",
             "pgp_public_key": "-----BEGIN PGP PUBLIC KEY BLOCK-----" + _rand(40)}
    scan.remember_extra_vars(given)
    assert "vaultops-dr-batch-role" not in scan.secrets and given["pgp_public_key"] not in scan.secrets
    planted = {
        "clean.log": "TASK [x] ok: [a] VALUE_SPECIFIED_IN_NO_LOG_PARAMETER vault-b.example.com:8200 vaultops.dr.dr_status",
        "root.log": "token=%s" % root,
        "share.xml": "<system-out>%s</system-out>" % hex_share,
        "given.json": json.dumps({"op": given["failover_dr_operation_tokens"]["b"]}),
        "otp.log": "otp %s" % given["ceremony_otp"],
        "shape.log": "activation: b.AAAAAQ" + _rand(30),
        "jwt.log": "eyJhbGciOiJFUzUxMiJ9.eyJhY2Nlc3NvciI6IiJ9.sig",
        "pgp.log": "-----BEGIN PGP PRIVATE KEY BLOCK-----\n",
    }
    for name, text in planted.items():
        (tmp_path / name).write_text(text)
        scan.add_file(tmp_path / name)
    (tmp_path / "input.json").write_text(root)
    scan.add_file(tmp_path / "input.json")
    scan.exclude(tmp_path / "input.json")
    (tmp_path / "raft.snap").write_bytes(b"\0binary" + root.encode())
    scan.add_file(tmp_path / "raft.snap")
    findings, stats = scan.scan()
    found = {}
    for path, kind in findings:
        found.setdefault(os.path.basename(path), set()).add(kind)
    assert set(found) == set(planted) - {"clean.log"}, found
    assert found["root.log"] == {"root token of a", "token-shaped string"}
    assert found["share.xml"] == {"unseal key share of a (hex)"}
    assert found["given.json"] == {"extra var failover_dr_operation_tokens[b]", "token-shaped string"}
    assert found["otp.log"] == {"extra var ceremony_otp"} and found["shape.log"] == {"token-shaped string"}
    assert found["jwt.log"] == {"JWT-shaped string (activation token?)"} and found["pgp.log"] == {"PGP private key block"}
    assert stats["files"] == len(planted) and stats["secrets"] == 6
    shown = report(findings, tmp_path)
    assert "root.log: root token of a" in shown
    assert not [v for v in list(scan.secrets) + [root, hex_share] if v in shown]
