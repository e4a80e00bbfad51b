"""The replication modules against drlab: set up, fail over to b, re-attach a, wrong-state errors, tear down.

Each playbook in targets/replication runs every module four times (check, real, check, real:
changed, changed, not changed, not changed) and checks the clusters by plain HTTP. DR operation
tokens come from drlab's own ceremony, done here with plain requests (the XOR decode needs Python).
"""

from __future__ import annotations

import base64
import secrets
import string

import requests
from lab_api import lab_vars

BASE62 = string.ascii_letters + string.digits
GEN = "/v1/sys/replication/dr/secondary/generate-operation-token/"


def dr_operation_token(info, cluster, key_holder):
    """Generate a DR operation token on `cluster` with 3 of `key_holder`'s unseal key shares."""
    base = info["clusters"][cluster]["api_addr"] + GEN

    def call(method, path, **kw):
        # verify per request: REQUESTS_CA_BUNDLE in the environment would override session.verify
        return requests.request(method, base + path, verify=info["ca_cert"], timeout=60, **kw)

    call("DELETE", "attempt")  # no attempt left over from an earlier run
    attempt = call("GET", "attempt")
    assert attempt.status_code == 200, attempt.text
    otp_length = attempt.json()["otp_length"]
    assert otp_length > 0, "drlab serves the base62 OTP scheme"
    otp = "".join(secrets.choice(BASE62) for _i in range(otp_length))
    started = call("PUT", "attempt", json={"otp": otp})
    assert started.status_code == 200, started.text
    nonce = started.json()["nonce"]
    answer = None
    for key in info["clusters"][key_holder]["unseal_keys_b64"][:3]:
        answer = call("PUT", "update", json={"key": key, "nonce": nonce})
        assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["complete"], body
    encoded = body["encoded_token"]
    raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    return bytes(x ^ y for x, y in zip(raw, otp.encode())).decode()


def secrets_of(info, *extra):
    values = list(extra)
    for cluster in info["clusters"].values():
        values.append(cluster["root_token"])
        values.extend(cluster["unseal_keys_b64"])
        values.extend(cluster["unseal_keys_hex"])
    return [v for v in values if v]


def assert_no_secret(proc, values):
    for value in values:
        assert value not in proc.output, "a secret appears in the playbook output"
    # drlab's activation tokens are JWTs; the playbooks never get to see their values from here,
    # but none may show (the issuing tasks are no_log, dr_secondary's activation_token is no_log).
    assert '"eyJ' not in proc.output and "'eyJ" not in proc.output and " eyJ" not in proc.output


def test_setup_failover_reattach_and_disable(fresh_lab, playbook):
    info = lab_vars(fresh_lab)
    sentinel = "sentinel-" + secrets.token_hex(8)

    # Set up a -> b, with a sentinel secret written on a.
    proc = playbook("targets/replication/01_setup.yml", sentinel=sentinel, verbosity=4)
    assert_no_secret(proc, secrets_of(info))

    # Planned failover: demote a first ...
    playbook("targets/replication/02_demote.yml")

    # ... take a DR op token on b from drlab's ceremony with a's key shares (b holds a's keys) ...
    op_token_b = dr_operation_token(info, "b", "a")
    # ... and make the cluster answer as Vault does around a promotion: status reads refused
    # with 412 twice, the promote call refused with 503 once. The modules retry those.
    fresh_lab.fault("b", path="sys/replication/dr/status", status=412, count=2)
    fresh_lab.fault("b", path="sys/replication/dr/secondary/promote", status=503, count=1)
    proc = playbook("targets/replication/03_promote.yml", op_token_b=op_token_b, sentinel=sentinel, verbosity=4)
    assert_no_secret(proc, secrets_of(info, op_token_b))
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in proc.output  # -vvvv shows the args, masked
    assert fresh_lab.status()["b"]["faults"] == [], "the injected 412/503 answers were all served (and ridden out)"

    # Re-attach the demoted a to the new primary b.
    op_token_a = dr_operation_token(info, "a", "a")
    proc = playbook("targets/replication/04_update_primary.yml", op_token_a=op_token_a, verbosity=4)
    assert_no_secret(proc, secrets_of(info, op_token_a))

    # Wrong states: each fails with guidance and changes nothing.
    playbook("targets/replication/05_wrong_state.yml")

    # Tear down with a fresh op token on a.
    op_token_a = dr_operation_token(info, "a", "a")
    proc = playbook("targets/replication/06_disable.yml", op_token_a=op_token_a, verbosity=4)
    assert_no_secret(proc, secrets_of(info, op_token_a))
