"""Every ansible.builtin.uri task of the roles and playbooks follows no redirect (issue 20, item 1).

uri's default (follow_redirects: safe) follows a GET's 3xx to whatever Location says, another host or plain http
included, and sends the X-Vault-Token header there again. So each uri task says `follow_redirects: none`: a 3xx is
then an answer outside status_code, the task fails (or its caller's check does, naming the Location). A uri task
that carries a token must also be no_log, or its arguments (the header) are in the output.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
URI = ("ansible.builtin.uri", "ansible.legacy.uri", "uri")
TASK_FILES = sorted([*ROOT.glob("roles/*/tasks/*.yml"), *ROOT.glob("roles/*/handlers/*.yml"),
                     *ROOT.glob("playbooks/*.yml"), *ROOT.glob("playbooks/tasks/*.yml")])


def _tasks(node):
    """Every task (a mapping with a module key) in a task file or playbook, blocks and plays included."""
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        if any(key in node for key in URI):
            yield node
        for key in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"):
            yield from _tasks(node.get(key))


def uri_tasks():
    found = []
    for path in TASK_FILES:
        for task in _tasks(yaml.safe_load(path.read_text())):
            args = next(task[key] for key in URI if key in task)
            found.append(("%s: %s" % (path.relative_to(ROOT), task.get("name", "(unnamed)")), task, args or {}))
    return found


def carries_token(args):
    """The request sends a Vault token: an X-Vault-Token header (given or templated) or a token in the body."""
    headers = args.get("headers") or {}
    text = yaml.safe_dump(headers) if not isinstance(headers, str) else headers
    body = args.get("body")
    return "x-vault-token" in text.lower() or (isinstance(body, dict) and "token" in body)


def test_the_walk_finds_the_uri_tasks():
    tasks = uri_tasks()
    assert len(tasks) >= 9, [name for name, _t, _a in tasks]  # readiness 5, drill 2, failover 2
    assert sum(carries_token(args) for _n, _t, args in tasks) >= 6


@pytest.mark.parametrize("name, task, args", uri_tasks(), ids=lambda v: v if isinstance(v, str) else "")
def test_uri_task_follows_no_redirect(name, task, args):
    assert args.get("follow_redirects") == "none", (
        "%s: an ansible.builtin.uri task without follow_redirects: none follows a 3xx wherever it points and "
        "sends its X-Vault-Token header there again; add follow_redirects: none" % name)
    if carries_token(args):
        assert task.get("no_log") is True, "%s sends a Vault token: it must be no_log: true" % name


def test_carries_token_sees_the_header_and_the_body():
    assert carries_token({"headers": {"X-Vault-Token": "{{ vault_token }}"}})
    assert carries_token({"headers": "{{ {'X-Vault-Token': vault_token} if vault_token else {} }}"})
    assert carries_token({"body": {"token": "{{ t }}"}, "headers": {}})
    assert not carries_token({"url": "{{ vault_addr }}/v1/sys/leader"})
