"""The client's HTTP safety rules against drlab (issue 20, items 1 and 2): a redirect to a listener the test owns
receives nothing, and a load balancer's 503 after Vault acted is a lost answer settled by status, never replayed."""

from __future__ import annotations

from owned_listener import Listener

STATUS = "sys/replication/dr/status"
ENABLE = "sys/replication/dr/primary/enable"


def test_redirect_elsewhere_gets_nothing_and_a_replaced_answer_is_not_replayed(fresh_lab, playbook):
    lab = fresh_lab
    with Listener() as listener:
        lab.redirect("a", listener.url, path=STATUS, method="GET", count=1)
        lab.fault("a", path=ENABLE, method="POST", status=503, after_acting=True, count=1)
        lab.clear_requests("a")
        playbook("targets/http_safety/redirect_and_lb.yml", listener=listener.url, verbosity=3)
        assert listener.requests == [], "the redirect target received %r" % [r["path"] for r in listener.requests]
    enables = [e for e in lab.writes("a") if e["path"] == ENABLE]
    assert len(enables) == 1, enables  # before issue 20 the client sent it again after the 503
    assert lab.status()["a"]["faults"] == []
    lab.reset()
