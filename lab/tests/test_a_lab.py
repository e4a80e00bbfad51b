"""The lab itself: up (time, idempotence), lab.json, inventory, status, cluster objects."""

import json
import os
import stat

import pytest
import requests

from drlab import Lab

pytestmark = pytest.mark.usefixtures("fresh_lab")  # starts from a fresh lab (any file order)


def test_three_clusters_answer_within_15s(lab):
    assert lab.up_seconds < 15, lab.up_seconds
    for name in "abc":
        c = lab.cluster(name)
        r = requests.get(f"{c.api_addr}/v1/sys/health", verify=c.ca_cert, timeout=5)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["initialized"] and not body["sealed"]
        assert body["replication_dr_mode"] == "disabled"


def test_lab_json_contract(lab):
    path = os.path.join(lab.dir, "lab.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    info = json.load(open(path))
    assert os.path.isabs(info["ca_cert"]) and os.path.exists(info["ca_cert"])
    assert sorted(info["clusters"]) == ["a", "b", "c"]
    base = lab._config()["base_port"]
    for i, name in enumerate("abc"):
        c = info["clusters"][name]
        assert c["name"] == name
        assert c["api_addr"] == f"https://127.0.0.1:{base + 10 * i}"
        assert c["cluster_addr"] == f"https://127.0.0.1:{base + 10 * i + 1}"
        assert c["bao_addr"] == f"https://127.0.0.1:{base + 10 * i + 2}"
        assert len(c["unseal_keys_b64"]) == 5 and len(c["unseal_keys_hex"]) == 5
        assert c["root_token"].startswith("s.")
    # each cluster has its own keys and token
    assert len({info["clusters"][n]["root_token"] for n in "abc"}) == 3


def test_inventory(lab):
    text = open(os.path.join(lab.dir, "inventory.yml")).read()
    assert "vault_clusters:" in text
    for name in "abc":
        c = lab.cluster(name)
        assert f"        {name}:\n" in text
        assert f'vault_addr: "{c.api_addr}"' in text
        assert f'vault_cluster_addr: "{c.cluster_addr}"' in text
    assert f'vault_ca_cert: "{lab.cluster("a").ca_cert}"' in text
    assert "ansible_connection: local" in text
    assert 'ansible_python_interpreter: "{{ ansible_playbook_python }}"' in text
    for name in "abc":  # no secrets in the inventory
        assert lab.cluster(name).root_token not in text
        assert lab.cluster(name).unseal_keys_b64[0] not in text


def test_up_is_idempotent(lab):
    before = json.load(open(os.path.join(lab.dir, "lab.json")))
    pids = {n: open(os.path.join(lab.dir, n, "gateway.pid")).read() for n in "abc"}
    Lab(lab.dir).up(clusters=3)
    Lab(lab.dir).up()
    after = json.load(open(os.path.join(lab.dir, "lab.json")))
    assert before == after
    assert pids == {n: open(os.path.join(lab.dir, n, "gateway.pid")).read() for n in "abc"}


def test_status_and_cluster_object(lab):
    st = lab.status()
    for name in "abc":
        assert st[name]["running"] is True
        assert st[name]["sealed"] is False
        assert st[name]["dr_mode"] == "disabled"
        assert st[name]["recovery"] is False
    c = lab.cluster("b")
    for attr in ("name", "api_addr", "cluster_addr", "root_token", "unseal_keys_b64", "unseal_keys_hex", "ca_cert", "bao_addr"):
        assert getattr(c, attr)
    assert c.name == "b"
