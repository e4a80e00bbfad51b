"""Recovery mode is real OpenBao recovery mode behind the gateway."""

import pytest

from drlab_helpers import decode_otp, wait_for

pytestmark = pytest.mark.usefixtures("fresh_lab")  # starts from a fresh lab (any file order)


def test_recovery_mode_round_trip(lab, apis):
    c, cc = apis["c"], lab.cluster("c")
    assert c("POST", "sys/mounts/kv1", token=cc.root_token, json={"type": "kv"}).status_code == 204
    assert c("PUT", "kv1/x", token=cc.root_token, json={"v": "kept"}).status_code == 204
    lab.recovery("c", on=True)
    assert lab.status()["c"]["recovery"] is True
    assert c("GET", "sys/health").status_code == 404  # only the recovery endpoints are served
    r = c("GET", "sys/generate-recovery-token/attempt")
    assert r.status_code == 200 and r.json()["otp_length"] == 28
    # shares of another cluster are wrong: the attempt aborts at the threshold
    start = c("PUT", "sys/generate-recovery-token/attempt", json={}).json()
    for k in lab.cluster("a").unseal_keys_b64[:3]:
        r = c("PUT", "sys/generate-recovery-token/update", json={"key": k, "nonce": start["nonce"]})
    assert r.status_code != 200 and "aborted" in " ".join(r.json()["errors"])
    assert c("DELETE", "sys/generate-recovery-token/attempt").status_code == 204
    r = c("PUT", "sys/generate-recovery-token/attempt", json={})
    start = r.json()
    assert len(start["otp"]) == 28
    for k in cc.unseal_keys_b64[:3]:
        r = c("PUT", "sys/generate-recovery-token/update", json={"key": k, "nonce": start["nonce"]})
    assert r.status_code == 200 and r.json()["complete"], r.text
    tok = decode_otp(r.json()["encoded_token"], start["otp"])
    r = c("LIST", "sys/raw/logical/", token=tok)
    assert r.status_code == 200 and r.json()["data"]["keys"]
    assert c("GET", "sys/raw/core/keyring", token="s.bogus").status_code in (400, 403)
    lab.recovery("c", on=False)
    st = lab.status()["c"]
    assert st["recovery"] is False and st["sealed"] is False
    wait_for(lambda: c("GET", "sys/health").status_code == 200, 20, what="c healthy")
    assert c("GET", "kv1/x", token=cc.root_token).json()["data"] == {"v": "kept"}
    assert c("DELETE", "sys/mounts/kv1", token=cc.root_token).status_code == 204
