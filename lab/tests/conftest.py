"""Shared fixtures: one real lab (3 OpenBao clusters behind drlab gateways) for the whole session."""

from __future__ import annotations

import base64
import os
import time

import pytest
import requests

from drlab import Lab

BASE_PORT = int(os.environ.get("DRLAB_TEST_BASE_PORT", "28300"))


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
        return self.s.request(method, f"{self.c.api_addr}/v1/{path}", json=json, headers=h, timeout=60, **kw)

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


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    d = tmp_path_factory.mktemp("drlab")
    lab = Lab(str(d))
    t = time.time()
    try:
        lab.up(clusters=3, base_port=BASE_PORT)
        lab.up_seconds = time.time() - t
        yield lab
    finally:
        lab.down(purge=False)


@pytest.fixture(scope="session")
def apis(lab):
    return {n: Api(lab.cluster(n)) for n in ("a", "b", "c")}
