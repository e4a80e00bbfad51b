"""Helpers for the drlab tests (plain HTTP against the gateways; no drlab internals)."""

from __future__ import annotations

import base64
import os
import time

import requests

def _free_base(start: int) -> int:
    """First base port (in steps of 200) whose 3 cluster blocks and the small test lab's are all free."""
    from drlab.lab import port_free

    for base in range(start, start + 4000, 200):
        ports = [base + 10 * i + k for i in (0, 1, 2, 10, 11) for k in range(4)]
        if all(port_free(p) for p in ports):
            return base
    return start


BASE_PORT = int(os.environ.get("DRLAB_TEST_BASE_PORT") or _free_base(28300))


class Api:
    """Plain HTTP against a cluster's API address (the gateway), verifying TLS with the lab CA."""

    def __init__(self, cluster):
        self.c = cluster
        self.s = requests.Session()
        self.s.verify = cluster.ca_cert
        self.s.trust_env = False

    def __call__(self, method, path, token=None, json=None, headers=None, **kw):
        h = dict(headers or {})
        if token:
            h["X-Vault-Token"] = token
        kw.setdefault("timeout", 60)
        return self.s.request(method, f"{self.c.api_addr}/v1/{path}", json=json, headers=h, **kw)

    def dr(self) -> dict:
        r = self("GET", "sys/replication/dr/status")
        assert r.status_code == 200, r.text
        return r.json()["data"]


def wait_for(fn, timeout=30.0, interval=0.5, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def decode_otp(encoded: str, otp: str) -> str:
    raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    return bytes(a ^ b for a, b in zip(raw, otp.encode())).decode()


def errors(r) -> list:
    try:
        return r.json().get("errors", [])
    except ValueError:
        return []


P = "sys/replication/dr/"


def healthy_secondary(api, primary_api):
    s = api.dr()
    p = primary_api.dr()
    return (s["mode"] == "secondary" and s["state"] == "stream-wals" and s["connection_state"] == "ready"
            and s["last_remote_wal"] > 0 and s["merkle_root"] == p["merkle_root"] and s)


def reset_clean(lab):
    """Reset the lab at the end of a module and tell the next module's ``fresh_lab`` it need not reset again."""
    lab.reset()
    lab.clean = True


def kv_read(api, token, key):
    r = api("GET", f"secret/data/{key}", token=token)
    return r.json()["data"]["data"] if r.status_code == 200 else None
