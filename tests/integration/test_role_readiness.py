"""The readiness role against drlab (real OpenBao underneath): ready after set-up, then each fault in turn, with its
undo, is named as a reason; every run is checked for reads only (the lab received no write besides the POSTs that
only read) and for no token in the output.

One lab.reset() and one set-up for the whole module, to keep it short. drlab clusters are single-node, so sys/leader
always says is_self there: the standby check (vault_addr reaching a standby through a load balancer) is unit-tested
only (tests/unit/plugins/module_utils/test__readiness.py).
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
from pathlib import Path

from dr_checks import assert_no_secret, lab_secrets, mint_batch_op_token, wait_topology, write_sentinels, writes
from lab_api import OP_ATTEMPT, Api, lab_vars, wait_for
from owned_listener import Listener

ROOT_ATTEMPT = "sys/generate-root/attempt"  # the primary's generation attempt (roles/readiness/vars/main.yml)


def cut_off(lab, name, older_than=0):
    """The primary a sees `name` disconnected, its last heartbeat more than `older_than` seconds ago."""
    for item in Api(lab.cluster("a")).dr().get("secondaries", []):
        if item["node_id"] == name and item["connection_status"] == "disconnected":
            last = datetime.datetime.fromisoformat(item["last_heartbeat"].replace("Z", "+00:00")).timestamp()
            return time.time() - last > older_than
    return False


def caught_up(lab, name):
    primary, secondary = Api(lab.cluster("a")).dr(), Api(lab.cluster(name)).dr()
    return secondary.get("last_remote_wal", -1) >= primary.get("last_dr_wal", primary.get("last_wal", 0))


def awx_readiness_job(lab, tmp_path, batch):
    """The "DR readiness check" job template run as AWX runs it (ansible-runner, the credentials' extra vars); None
    where ansible-runner is not installed (make integration-oldest's venv)."""
    try:
        import ansible_runner  # noqa: F401
    except ImportError:
        return None
    from test_awx_runner import assert_nothing_secret, private_data_dir, run_job

    root_a = lab_vars(lab)["clusters"]["a"]["root_token"]
    (tmp_path / "awx").mkdir()
    extravars = {"vault_token": root_a, "readiness_report_dir": str(tmp_path / "awx")}
    # Credential "Vault DR batch operation token" injects these (awx/credential_types/vault_dr_batch_token.yml).
    extravars.update({name: batch for name in ("failover_dr_operation_token", "failback_dr_operation_token",
                                               "drill_dr_operation_token", "readiness_dr_operation_token",
                                               "batch_token_current")})
    pdd = private_data_dir(lab, tmp_path, extravars, Path(lab_vars(lab)["ca_cert"]).read_text(), name="pdd-readiness")
    run, stdout, shown, artifacts = run_job(pdd, "playbooks/readiness.yml", "readiness1")
    assert run.status == "successful", stdout[-6000:]
    assert_nothing_secret(shown, [batch, root_a] + lab_secrets(lab))
    return artifacts


def test_readiness_ready_then_each_fault_named(lab, playbook, tmp_path, monkeypatch):
    lab.reset()
    playbook("vaultops.dr.setup", tokens=None)
    wait_topology(lab, "a", ["b", "c"])
    good = mint_batch_op_token(lab, on="a", ttl="48h")
    short = mint_batch_op_token(lab, on="a", ttl="2h")
    timings = {}

    def readiness(step, ready, token=good, verbosity=0, check=False, **extra):
        for suffix in ("json", "md"):
            (tmp_path / ("readiness-report." + suffix)).unlink(missing_ok=True)
        t0 = time.time()
        proc = playbook("vaultops.dr.readiness", tokens="a", expect_fail=not ready, verbosity=verbosity, check=check,
                        readiness_report_dir=str(tmp_path), readiness_dr_operation_token=token, **extra)
        timings[step] = round(time.time() - t0, 1)
        assert writes(lab, t0) == [], "the readiness check sent a write"
        assert_no_secret(proc, [good, short] + lab_secrets(lab))
        report = json.loads((tmp_path / "readiness-report.json").read_text())
        markdown = (tmp_path / "readiness-report.md").read_text()
        assert report["verdict"] == ("ready" if ready else "not ready"), report["summary"]
        assert markdown.startswith("# DR readiness: %s" % report["verdict"])
        assert "DR readiness: %s" % report["verdict"] in proc.stdout
        for reason in report["reasons"]:
            assert reason in markdown
        if not ready:
            assert "DR set not ready" in proc.stdout
        return report

    def reasons_of(report):
        return {(f["code"], f["cluster"]) for f in report["findings"] if f["level"] == "reason"}

    # Ready after set-up: every check answered, the token valid with promote and update-primary.
    report = readiness("ready after setup", True)
    assert report["primary"] == "a" and report["reasons"] == [] and report["warnings"] == []
    assert report["notes"] == [], report["notes"]
    for name in "abc":
        cluster = report["clusters"][name]
        assert cluster["active_node"] is True and cluster["performance_mode"] == "disabled", cluster
        assert cluster["generation_attempt"] is False and cluster["ready"], cluster
    assert report["clusters"]["b"]["wal_lag"] <= 100 and report["clusters"]["b"]["heartbeat_age"] < 60
    token = report["token"]
    assert token["type"] == "batch" and token["grants"] == {"promote": True, "update-primary": True}
    assert 24 * 3600 < token["ttl"] <= 48 * 3600

    # The same check as AWX's job: readiness_report reaches the job's artifacts (set_stats); nothing secret shown.
    monkeypatch.setenv("PATH", "%s:%s" % (Path(sys.executable).parent, os.environ.get("PATH", "")))
    t0 = time.time()
    artifacts = awx_readiness_job(lab, tmp_path, good)
    if artifacts is not None:
        assert artifacts["readiness_report"]["verdict"] == "ready", artifacts
        assert artifacts["readiness_report"]["token"]["checked"] is True
        assert writes(lab, t0) == []
        timings["awx job (ansible-runner)"] = round(time.time() - t0, 1)

    # A cut link: b idle and disconnected, behind the primary's WAL, its heartbeat stale (bounds tightened to see it).
    # c must have caught up with those writes, and b's heartbeat be well past the tightened bound, so only b is named.
    lab.cut_link("a", "b")
    write_sentinels(lab, "a", count=3)
    wait_for(lambda: cut_off(lab, "b", older_than=12) and caught_up(lab, "c"), timeout=60,
             what="b's heartbeat 12 s old and c caught up")
    report = readiness("cut link", False, readiness_max_wal_lag=0, readiness_max_heartbeat_age=10)
    assert {("unhealthy", "b"), ("disconnected", "b"), ("wal_lag", "b"), ("heartbeat_stale", "b")} <= reasons_of(report)
    assert {cluster for _code, cluster in reasons_of(report)} == {"b"}, report["reasons"]
    lab.restore_link("a", "b")
    wait_topology(lab, "a", ["b", "c"])

    # A stopped secondary: it does not answer, and the primary sees it disconnected.
    lab.stop("c")
    wait_for(lambda: cut_off(lab, "c"), timeout=30, what="c disconnected")
    report = readiness("stopped secondary", False)
    assert {("unreachable", "c"), ("disconnected", "c")} <= reasons_of(report)
    assert {cluster for _code, cluster in reasons_of(report)} == {"c"}, report["reasons"]
    lab.start("c")
    wait_topology(lab, "a", ["b", "c"])

    # A batch token near expiry (2h left, readiness_min_token_ttl 24h): the rotation should have run. At -vvv (module
    # arguments shown) neither token appears: the tasks carrying them are no_log.
    report = readiness("token near expiry", False, token=short, verbosity=3)
    assert reasons_of(report) == {("token_ttl_low", "a")}, report["reasons"]
    assert "scheduled rotation" in report["reasons"][0]

    # A token that is none (a typo in the credential, or made on a cluster since wiped): its uri error answer is judged.
    report = readiness("invalid token", False, token="hvb.not-a-token")
    assert reasons_of(report) == {("token_invalid", "a")}, report["reasons"]

    # Version skew: b older than the primary is not ready; c newer is a warning.
    lab.set_version("a", "1.15.0")
    lab.set_version("b", "1.14.0")
    lab.set_version("c", "1.16.0")
    try:
        report = readiness("version skew", False)
    finally:
        for name in "abc":
            lab.set_version(name, None)
    assert reasons_of(report) == {("version_older", "b")}, report["reasons"]
    assert [f["code"] for f in report["findings"] if f["level"] == "warning"] == ["version_newer"]

    # A generation attempt left open on a secondary (a ceremony started and abandoned).
    started = Api(lab.cluster("c"))("PUT", OP_ATTEMPT, json={})
    assert started.status_code == 200, started.text
    try:
        report = readiness("open generation attempt", False)
    finally:
        assert Api(lab.cluster("c"))("DELETE", OP_ATTEMPT).status_code in (200, 204)
    assert reasons_of(report) == {("generation_attempt_open", "c")}, report["reasons"]

    # The primary's vault_addr redirects every token read (the generation attempt, the token lookup, its
    # capabilities) and sys/leader to a listener the test owns, as a standby or a hostile proxy might: no uri task
    # follows a redirect, so the listener receives nothing - no vault_token, no batch token - and the report names
    # the redirect and its Location. (At HEAD before issue 20 the attempt and sys/leader GETs followed it.)
    with Listener() as listener:
        for path in (ROOT_ATTEMPT, "auth/token/lookup", "sys/capabilities", "sys/leader"):
            lab.redirect("a", listener.url, path=path, count=-1)
        try:
            report = readiness("redirected to a listener", False)
        finally:
            lab.clear_faults("a")
    assert listener.requests == [], [(r["method"], r["path"]) for r in listener.requests]
    assert reasons_of(report) == {("token_unchecked", "a")}, report["reasons"]
    assert "auth/token/lookup answered HTTP 307 (a redirect to %s/v1/auth/token/lookup, not followed" % listener.url \
        in report["reasons"][0], report["reasons"]
    assert any("HTTP 307 (a redirect to %s/v1/%s" % (listener.url, ROOT_ATTEMPT) in n for n in report["notes"]), \
        report["notes"]

    # Everything undone; without a token the token check is a note, not a verdict. In check mode it reads and reports
    # all the same.
    report = readiness("ready again, no token, check mode", True, token="", check=True)
    assert report["notes"] == ["No readiness_dr_operation_token given: the pre-staged batch DR operation token was "
                               "not checked."]
    print("readiness run seconds:", timings)
