"""Knobs for the failover roles' tests: reported version, request log / write counter, lost answers,
latency past the client's timeout."""

import json
import subprocess
import sys
import threading
import time

import pytest
import requests

from drlab_helpers import P, reset_clean, wait_for


def drlab(d, *args):
    return subprocess.run([sys.executable, "-m", "drlab", "--dir", d, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def env(fresh_lab, apis):
    lab = fresh_lab
    ta = lab.cluster("a").root_token
    assert apis["a"]("POST", "sys/mounts/kv", token=ta, json={"type": "kv"}).status_code == 204
    yield {"lab": lab, "a": apis["a"], "b": apis["b"], "ta": ta}
    for n in "abc":
        lab.clear_faults(n)
    reset_clean(lab)


def _bao_version(lab, name):
    c = lab.cluster(name)
    return requests.get(c.bao_addr + "/v1/sys/seal-status", verify=c.ca_cert, timeout=5).json()["version"]


def test_reported_version(env):
    lab, a, b = env["lab"], env["a"], env["b"]
    real = _bao_version(lab, "a")
    assert real and a("GET", "sys/seal-status").json()["version"] == real
    assert a("GET", "sys/health").json()["version"] == real
    assert lab.version("a") == real and lab.status()["a"]["version"] == real
    lab.set_version("a", "1.15.0")
    assert a("GET", "sys/seal-status").json()["version"] == "1.15.0"
    health = a("GET", "sys/health").json()
    assert health["version"] == "1.15.0" and health["replication_dr_mode"] == "disabled"
    assert b("GET", "sys/seal-status").json()["version"] == real  # per cluster
    st = lab.status()["a"]
    assert st["version"] == "1.15.0" and st["real_version"] == real
    # kept across a gateway restart
    lab.stop("a")
    lab.start("a")
    assert a("GET", "sys/seal-status").json()["version"] == "1.15.0"
    # CLI
    r = drlab(lab.dir, "version", "a")
    assert r.returncode == 0 and r.stdout.strip() == "1.15.0", r.stderr
    r = drlab(lab.dir, "version", "a", "--clear")
    assert r.returncode == 0 and r.stdout.strip() == real, r.stderr
    assert a("GET", "sys/health").json()["version"] == real
    r = drlab(lab.dir, "version", "b", "1.16.2")
    assert r.returncode == 0 and r.stdout.strip() == "1.16.2", r.stderr
    assert b("GET", "sys/seal-status").json()["version"] == "1.16.2"
    # a stopped cluster can be given a version too; reset clears it
    lab.stop("c")
    lab.set_version("c", "1.14.9")
    lab.start("c")
    assert lab.version("c") == "1.14.9"
    lab.reset()
    assert [lab.version(n) for n in "bc"] == [real, real]
    env["ta"] = lab.cluster("a").root_token
    assert a("POST", "sys/mounts/kv", token=env["ta"], json={"type": "kv"}).status_code == 204


def test_request_log_and_writes(env):
    lab, a, b, ta = env["lab"], env["a"], env["b"], env["ta"]
    lab.clear_requests()
    assert lab.writes() == []
    t0 = time.time()
    assert a("GET", "sys/health").status_code == 200
    assert a("GET", "kv", token=ta, params={"list": "true"}).status_code in (200, 404)  # LIST as GET: a read
    assert a("LIST", "kv", token=ta).status_code in (200, 404)
    assert a("PUT", "kv/x", token=ta, json={"v": 1}).status_code == 204
    assert b("GET", "sys/replication/dr/status").status_code == 200
    lab.status()  # the control channel is not logged
    # the cluster address (replication channel) is not logged either
    requests.post(lab.cluster("a").cluster_addr + "/drlab/repl/heartbeat", json={}, verify=lab.cluster("a").ca_cert, timeout=5)
    log = lab.requests("a")
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("GET", "sys/health", 200), ("GET", "kv", log[1]["status"]), ("LIST", "kv", log[2]["status"]), ("PUT", "kv/x", 204)]
    assert log[1]["query"] == "list=true"
    assert all(e["time"] >= t0 and e["answered"] and e["cluster"] == "a" for e in log)
    w = lab.writes()
    assert [(e["cluster"], e["method"], e["path"]) for e in w] == [("a", "PUT", "kv/x")]
    assert lab.writes("b") == [] and [e["path"] for e in lab.requests("b")] == ["sys/replication/dr/status"]
    t1 = time.time()
    assert a("DELETE", "kv/x", token=ta).status_code == 204
    assert [e["method"] for e in lab.writes("a", since=t1)] == ["DELETE"]
    assert len(lab.requests("a", since=t1)) == 1
    # CLI
    r = drlab(lab.dir, "requests", "a", "--writes")
    assert r.returncode == 0 and [e["method"] for e in json.loads(r.stdout)] == ["PUT", "DELETE"], r.stderr
    assert drlab(lab.dir, "requests", "--clear").returncode == 0
    assert lab.requests("a") == [] and lab.writes() == []


def test_drop_answer_processes_then_closes(env):
    lab, a, ta = env["lab"], env["a"], env["ta"]
    lab.clear_requests("a")
    lab.fault("a", path="kv/dropped", method="PUT", drop_answer=True)
    with pytest.raises(requests.ConnectionError):
        a("PUT", "kv/dropped", token=ta, json={"v": "done"})
    assert a("GET", "kv/dropped", token=ta).json()["data"] == {"v": "done"}  # it took effect
    assert a("PUT", "kv/dropped", token=ta, json={"v": 2}).status_code == 204  # count 1: the next one is answered
    e = lab.requests("a")[0]
    assert (e["method"], e["path"], e["status"], e["answered"]) == ("PUT", "kv/dropped", 204, False)
    # a DR operation answered by the gateway itself, through the CLI
    r = drlab(lab.dir, "fault", "a", "--path", P + "primary/enable", "--drop-answer")
    assert r.returncode == 0, r.stderr
    with pytest.raises(requests.ConnectionError):
        a("POST", P + "primary/enable", token=ta, json={})
    assert a.dr()["mode"] == "primary"
    assert lab.status()["a"]["faults"] == []
    assert a("POST", P + "primary/disable", token=ta, json={}).status_code == 200


def test_after_acting_answers_a_load_balancers_page(env):
    lab, a, ta = env["lab"], env["a"], env["ta"]
    lab.fault("a", path="kv/behind-lb", method="PUT", status=503, after_acting=True)
    r = a("PUT", "kv/behind-lb", token=ta, json={"v": "acted"})
    assert r.status_code == 503 and "errors" not in r.text and "Service Unavailable" in r.text
    assert r.headers["Content-Type"].startswith("text/html")
    assert a("GET", "kv/behind-lb", token=ta).json()["data"] == {"v": "acted"}  # Vault acted all the same
    # a DR operation, through the CLI
    r = drlab(lab.dir, "fault", "a", "--path", P + "primary/enable", "--status", "502", "--after-acting")
    assert r.returncode == 0, r.stderr
    assert a("POST", P + "primary/enable", token=ta, json={}).status_code == 502
    assert a.dr()["mode"] == "primary"
    assert a("POST", P + "primary/disable", token=ta, json={}).status_code == 200


def test_redirect_sends_the_client_elsewhere_unprocessed(env):
    lab, a, ta = env["lab"], env["a"], env["ta"]
    lab.redirect("a", "https://127.0.0.1:9/elsewhere", path="kv/redirected", method="PUT")
    r = a("PUT", "kv/redirected?x=1", token=ta, json={"v": "no"}, allow_redirects=False)
    assert r.status_code == 307
    assert r.headers["Location"] == "https://127.0.0.1:9/elsewhere/v1/kv/redirected?x=1"
    assert a("GET", "kv/redirected", token=ta).status_code == 404  # not processed
    r = drlab(lab.dir, "fault", "a", "--path", "sys/health", "--redirect", "http://127.0.0.1:9")
    assert r.returncode == 0, r.stderr
    r = a("GET", "sys/health", allow_redirects=False)
    assert (r.status_code, r.headers["Location"]) == (307, "http://127.0.0.1:9/v1/sys/health")


def test_latency_past_client_timeout_still_processed(env):
    lab, a, ta = env["lab"], env["a"], env["ta"]
    lab.latency("a", 1.5, path="kv/slow")
    t = time.time()
    with pytest.raises(requests.Timeout):
        a("PUT", "kv/slow", token=ta, json={"v": "late"}, timeout=0.5)
    assert time.time() - t < 1.4
    # the gateway waits first, then processes the request although the client gave up
    wait_for(lambda: a("GET", "kv/slow", token=ta).status_code == 200, 10, 0.2, "the timed-out write lands")
    assert a("GET", "kv/slow", token=ta).json()["data"] == {"v": "late"}
    w = [e for e in lab.writes("a") if e["path"] == "kv/slow"]
    assert len(w) == 1 and w[0]["duration"] >= 1.5
    lab.clear_faults("a")


def test_latency_for_one_request_seen_in_flight(env):
    """latency(count=1, method=...) holds only the next matching request; in_flight shows it while held."""
    lab, a, ta = env["lab"], env["a"], env["ta"]
    lab.latency("a", 1.5, path="kv/held", count=1, method="PUT")
    assert a("GET", "kv/held", token=ta).elapsed.total_seconds() < 1  # another method is not held
    done = {}
    writer = threading.Thread(target=lambda: done.update(r=a("PUT", "kv/held", token=ta, json={"v": 1})))
    writer.start()
    wait_for(lambda: any(e["path"] == "kv/held" and e["method"] == "PUT" for e in lab.in_flight("a")), 5, 0.05,
             "the held write in flight")
    writer.join(10)
    assert done["r"].status_code == 204 and lab.in_flight("a") == []
    t = time.time()
    assert a("PUT", "kv/held", token=ta, json={"v": 2}).status_code == 204 and time.time() - t < 1  # spent
    lab.clear_faults("a")
