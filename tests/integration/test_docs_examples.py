"""Every playbook example in docs/*.md, README.md and roles/*/README.md runs as written against drlab.

A playbook example is a ```yaml block that is a list of plays (every item has `hosts:`). The HTML comment just
before it says what it needs:

    <!-- example: needs=STATE [leaves=STATE|same|dirty] [tokens=own|a|none] [check=true] [stop=CLUSTER]
                  [files=coordinator.asc] [after=cancel:CLUSTER] [vars=NAME=VALUE,NAME=VALUE] -->
    <!-- example: not-runnable reason=WHY -->

- `needs`: the lab state the example starts from: `any` (whatever the lab is in), `fresh` (every cluster DR-disabled),
  `dr_ab` (DR set up from a with b its secondary, c disabled) or `dr_set` (a primary, b and c its secondaries).
- `leaves`: the state it leaves (`same`, the default: the state it needed; `dirty`: one no other example starts
  from). Examples are run in an order that shares one set-up between the examples that need it.
- `tokens`: the token inventory beside drlab's (`own`: each host its own root token, the default for `fresh`;
  `a`: cluster a's root token on every host, the default otherwise; `none`: no `vault_token`).
- `check`: run it in check mode first (and assert the lab received no write), then for real.
- `stop`: stop that cluster before the run (a site outage) and start it again afterwards.
- `files`: files the example reads beside itself (`coordinator.asc`: a PGP public key made for the test).
- `after`: clean-up after the run (`cancel:b` cancels a token generation attempt left running on b).
- `vars`: extra vars; `lab:a.keys` is cluster a's first three unseal key shares, `lab:a.key0` its first one,
  `lab:a.root_token` its root token (secrets from lab.json, never written into the Markdown); `tmp:NAME` a path
  in the test's temporary directory.

Run with `-s` to see the summary line (examples extracted / run / not runnable).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from dr_checks import wait_topology, writes
from lab_api import Api, OP_ATTEMPT, lab_vars

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(ROOT.glob("docs/*.md")) + [ROOT / "README.md"] + sorted(ROOT.glob("roles/*/README.md"))
STATES = ("any", "fresh", "dr_ab", "dr_set")
KEYS = {"needs", "leaves", "tokens", "check", "stop", "files", "after", "vars", "not-runnable", "reason"}
FENCE = re.compile(r"^```yaml[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
MARK = re.compile(r"<!--\s*example:(.*?)-->\s*\Z", re.S)


class Example:
    def __init__(self, path, line, body, mark):
        self.path, self.line, self.body, self.mark = path, line, body, mark
        self.name = "%s:%d" % (path.relative_to(ROOT), line)
        self.runnable = mark is not None and "not-runnable" not in mark
        self.needs = (mark or {}).get("needs", "")
        leaves = (mark or {}).get("leaves", "same")
        self.leaves = self.needs if leaves == "same" else leaves

    def __repr__(self):
        return self.name


def parse_mark(text):
    """`needs=dr_set vars=a=1,b=2` → {"needs": "dr_set", "vars": "a=1,b=2"}; `reason=` takes the rest."""
    text = text.strip()
    out = {}
    if "reason=" in text:
        text, reason = text.split("reason=", 1)
        out["reason"] = reason.strip()
    for word in text.split():
        key, sep, value = word.partition("=")
        out[key] = value if sep else "true"
    return out


def extract():
    """Every yaml block of the sources, as (Example or None for a block that is not a playbook)."""
    found = []
    for path in SOURCES:
        text = path.read_text()
        for match in FENCE.finditer(text):
            body = match.group(1)
            try:
                doc = yaml.safe_load(body)
            except yaml.YAMLError:
                doc = None
            if not (isinstance(doc, list) and doc and all(isinstance(p, dict) and "hosts" in p for p in doc)):
                continue
            before = text[:match.start()].rstrip()
            mark = MARK.search(before[-2000:])
            line = text[:match.start()].count("\n") + 2  # the block's first line
            found.append(Example(path, line, body, parse_mark(mark.group(1)) if mark else None))
    return found


def schedule(examples):
    """Run order: greedily the examples that start from the state the previous one left, so one set-up serves
    them all; a new set-up only when none does."""
    rank = {s: i for i, s in enumerate(STATES)}
    todo = sorted(examples, key=lambda e: (rank.get(e.needs, 99), e.leaves != e.needs, e.name))
    order, state = [], "unknown"
    while todo:
        fits = [e for e in todo if e.needs in ("any", state)]
        pick = next((e for e in fits if e.leaves == e.needs), None) or (fits[0] if fits else todo[0])
        todo.remove(pick)
        order.append(pick)
        if pick.needs != "any":
            state = pick.leaves
    return order


EXAMPLES = extract()
RUNNABLE = schedule([e for e in EXAMPLES if e.runnable])
COUNTS = {"run": 0, "check_runs": 0}


def test_every_playbook_example_is_marked():
    """Each playbook example says what it needs, or why it cannot run in the lab; the not-runnable ones are few."""
    problems = []
    for ex in EXAMPLES:
        if ex.mark is None:
            problems.append("%s: no <!-- example: ... --> comment just before the block" % ex.name)
        elif not set(ex.mark) <= KEYS:
            problems.append("%s: unknown keys %s" % (ex.name, sorted(set(ex.mark) - KEYS)))
        elif not ex.runnable and not ex.mark.get("reason"):
            problems.append("%s: not-runnable without a reason=" % ex.name)
        elif ex.runnable and ex.needs not in STATES:
            problems.append("%s: needs=%r is not one of %s" % (ex.name, ex.needs, ", ".join(STATES)))
        elif ex.runnable and ex.leaves not in STATES + ("dirty",):
            problems.append("%s: leaves=%r" % (ex.name, ex.leaves))
    assert not problems, "\n".join(problems)
    not_runnable = [e for e in EXAMPLES if not e.runnable]
    assert len(EXAMPLES) >= 5, "the extraction found too few playbook examples: %s" % EXAMPLES
    assert len(not_runnable) <= 2, "keep the not-runnable examples few: %s" % not_runnable


class LabState:
    """The state the session lab is in, as far as this module knows, and how to build each one."""

    def __init__(self, lab):
        self.lab = lab
        self.state = "unknown"
        self.builds = []

    def reach(self, needs, playbook):
        if needs == "any" or needs == self.state:
            return
        self.lab.reset()
        if needs == "dr_ab":
            playbook("vaultops.dr.setup", tokens=None, args=("--limit", "a,b"))
            wait_topology(self.lab, "a", ["b"])
        elif needs == "dr_set":
            playbook("vaultops.dr.setup", tokens=None)
            wait_topology(self.lab, "a", ["b", "c"])
        self.state = needs
        self.builds.append(needs)


@pytest.fixture(scope="module")
def lab_state(lab):
    return LabState(lab)


@pytest.fixture(scope="module")
def pgp_public_key(tmp_path_factory):
    if not shutil.which("gpg"):
        pytest.skip("gpg is not installed")
    home = tmp_path_factory.mktemp("gnupg-docs")
    home.chmod(0o700)
    subprocess.run(["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
                    "--quick-gen-key", "docs-examples@vaultops.invalid", "default", "default", "never"],
                   check=True, capture_output=True)
    armor = subprocess.run(["gpg", "--homedir", str(home), "--armor", "--export"], check=True, capture_output=True,
                           text=True).stdout
    yield armor
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, capture_output=True)


def resolve(value, lab, tmp_path):
    if value.startswith("tmp:"):
        return str(tmp_path / value[4:])
    if not value.startswith("lab:"):
        return value
    cluster, _sep, what = value[4:].partition(".")
    info = lab_vars(lab)["clusters"][cluster]
    if what == "keys":
        return info["unseal_keys_b64"][:3]
    if what.startswith("key"):
        return info["unseal_keys_b64"][int(what[3:])]
    return info[what]


def extra_vars(ex, lab, tmp_path):
    out = {}
    for pair in filter(None, ex.mark.get("vars", "").split(",")):
        name, _sep, value = pair.partition("=")
        out[name.strip()] = resolve(value.strip(), lab, tmp_path)
    return out


@pytest.mark.parametrize("ex", RUNNABLE, ids=[e.name for e in RUNNABLE])
def test_example_runs_as_written(ex, lab, lab_state, playbook, tmp_path, request):
    lab_state.reach(ex.needs, playbook)
    lab_state.state = "dirty" if ex.needs != "any" else lab_state.state  # until it passed
    path = tmp_path / "example.yml"
    path.write_text(ex.body)
    for name in filter(None, ex.mark.get("files", "").split(",")):
        assert name == "coordinator.asc", "no test file %s" % name
        (tmp_path / name).write_text(request.getfixturevalue("pgp_public_key"))
    tokens = {"own": None, "a": "a", "none": False}[ex.mark.get("tokens", "own" if ex.needs == "fresh" else "a")]
    stop = ex.mark.get("stop")
    if stop:
        lab.stop(stop)
    try:
        values = extra_vars(ex, lab, tmp_path)
        if ex.mark.get("check") == "true":
            t0 = time.time()
            playbook(str(path), tokens=tokens, check=True, **values)
            assert writes(lab, t0) == [], "%s wrote to the lab in check mode" % ex.name
            COUNTS["check_runs"] += 1
        playbook(str(path), tokens=tokens, **values)
    finally:
        if stop:
            lab.start(stop)
        after = ex.mark.get("after", "")
        if after.startswith("cancel:"):
            Api(lab.cluster(after[7:]))("DELETE", OP_ATTEMPT, token=lab_vars(lab)["clusters"]["a"]["root_token"])
    if ex.leaves == "dr_ab":
        wait_topology(lab, "a", ["b"])
    elif ex.leaves == "dr_set":
        wait_topology(lab, "a", ["b", "c"])
    lab_state.state = ex.leaves if ex.needs != "any" else lab_state.state
    COUNTS["run"] += 1


def test_summary(lab_state, capsys):
    """The count of examples extracted, run and not runnable (runs last in this module)."""
    not_runnable = [e for e in EXAMPLES if not e.runnable]
    with capsys.disabled():
        print("\ndocs examples: %d playbook examples extracted, %d run (%d also in check mode), %d not runnable "
              "(%s); lab set-ups: %s" % (len(EXAMPLES), COUNTS["run"], COUNTS["check_runs"], len(not_runnable),
                                         "; ".join("%s: %s" % (e.name, e.mark.get("reason")) for e in not_runnable)
                                         or "none", ", ".join(lab_state.builds) or "none"))
    if COUNTS["run"] == 0:
        pytest.skip("no example ran in this session (deselected)")
