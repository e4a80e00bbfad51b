"""Fault bookkeeping and the request log as plain objects: no OpenBao, no lab."""

from drlab.gateway.control import Faults, RequestLog
from drlab.gateway.server import request_params


def test_faults_match_count_and_method():
    f = Faults()
    f.add({"path": "sys/replication/dr/*", "status": 412, "count": 2, "method": "POST", "message": "m"})
    f.add({"path": "sys/leader", "drop_answer": True, "count": -1, "method": ""})
    assert f.take("GET", "sys/replication/dr/status") is None  # method filter
    assert f.take("POST", "sys/replication/dr/primary/enable")["status"] == 412
    assert f.take("POST", "sys/replication/dr/primary/enable")["status"] == 412
    assert f.take("POST", "sys/replication/dr/primary/enable") is None  # spent, and dropped from the list
    assert [x["path"] for x in f.describe()["faults"]] == ["sys/leader"]
    for _ in range(3):
        assert f.take("GET", "sys/leader")["drop_answer"] is True  # -1: until cleared
    f.clear()
    assert f.describe() == {"faults": [], "latency": [], "cut_links": []}


def test_latency_and_cut_links():
    f = Faults()
    f.set_latency(1.0, "sys/leader")
    f.set_latency(0.5, "")
    assert f.delay_for("sys/leader") == 1.5 and f.delay_for("sys/health") == 0.5
    f.set_latency(0, "sys/leader")
    assert f.delay_for("sys/leader") == 0.5
    f.cut("https://b:1")
    assert f.is_cut("https://b:1") and not f.is_cut("https://c:1")
    f.restore("https://b:1")
    assert not f.is_cut("https://b:1")
    described = f.describe()
    described["latency"].clear()  # a copy: the gateway's own list is untouched
    assert f.delay_for("x") == 0.5


def test_latency_count_and_method():
    f = Faults()
    f.set_latency(2.0, "sys/replication/dr/secondary/promote", count=1, method="POST")
    assert f.delay_for("sys/replication/dr/secondary/promote", "GET") == 0
    assert f.delay_for("sys/replication/dr/secondary/promote", "POST") == 2.0
    assert f.delay_for("sys/replication/dr/secondary/promote", "POST") == 0  # spent after one request
    assert f.describe()["latency"] == []


def test_request_log_in_flight():
    log = RequestLog()
    first = log.begin({"method": "POST", "path": "sys/replication/dr/primary/demote", "time": 1.0})
    log.begin({"method": "GET", "path": "sys/health", "time": 2.0})
    assert [e["path"] for e in log.in_flight()] == ["sys/replication/dr/primary/demote", "sys/health"]
    log.end(first)
    assert [e["path"] for e in log.in_flight()] == ["sys/health"]
    log.clear()
    assert log.in_flight() == []


def test_request_log_bounded_and_since():
    log = RequestLog(size=3)
    for i in range(5):
        log.add({"method": "GET", "path": f"p{i}", "time": 100.0 + i})
    assert [e["path"] for e in log.since()] == ["p2", "p3", "p4"]
    assert [e["path"] for e in log.since(103.0)] == ["p3", "p4"]
    log.since()[0]["path"] = "changed"
    assert log.since()[0]["path"] == "p2"
    log.clear()
    assert log.since() == []


def test_request_params():
    assert request_params(b'{"id": "x"}', "id=y") == {"id": "x"}
    assert request_params(b"", "id=y&id=z") == {"id": "z"}
    assert request_params(b"[1]", "") == {}
