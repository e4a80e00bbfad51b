"""The AWX "DR change" job, run as AWX runs it: ansible-runner on a private data directory laid out
as AWX lays it, against drlab.

AWX writes, per job: `project/` (the project checkout: this repository's playbooks), `inventory/`
(the AWX inventory, no secrets), `env/extravars` (survey answers and the credentials' extra-var
injectors, as YAML with AWX's `!unsafe` tags), `env/envvars` (env injectors and AWX's own
variables) and one file under `env/` per file injector (here the CA bundle). Then it runs the job
template's playbook with ansible-runner and keeps stdout and `job_events/*.json`, which job output,
the API and any log shipping show. No secret may appear there.

ansible-runner's own `artifacts/<ident>/command` records the command line and environment it was
given, by design (docs/awx.md says so); AWX keeps that directory private to the job.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets as pysecrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from dr_checks import lab_secrets, mint_batch_op_token, topology, wait_topology
from lab_api import Api, lab_vars

# make integration-oldest's venv (ansible-core 2.16) has no ansible-runner: the test runs on 2.19 only.
ansible_runner = pytest.importorskip("ansible_runner")

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Anything shaped like a Vault/OpenBao token (service, batch, recovery; old and new prefixes):
# activation tokens and generated op tokens are never known to the test, so look for the shape.
TOKEN_SHAPE = re.compile(r"\b(?:hv[sbr]|[sbr])\.[A-Za-z0-9_-]{20,}")


class _Unsafe(str):
    pass


def _unsafe_representer(dumper, data):
    return dumper.represent_scalar("!unsafe", str(data))


yaml.SafeDumper.add_representer(_Unsafe, _unsafe_representer)


def private_data_dir(lab, tmp_path, extravars, ca_pem, name="pdd"):
    """A private data dir as AWX writes it for a job of one of the templates in awx/job_templates.yml."""
    pdd = tmp_path / name
    (pdd / "env").mkdir(parents=True)
    shutil.copytree(ROOT / "playbooks", pdd / "project" / "playbooks")
    # The CA bundle credential's file injector: a 0600 temp file under env/, its path injected.
    fd, ca_path = tempfile.mkstemp(dir=pdd / "env")
    with os.fdopen(fd, "w") as handle:
        handle.write(ca_pem)
    os.chmod(ca_path, 0o600)
    # The AWX inventory: hosts and their addresses, no tokens, no CA path (the credential gives it).
    info = lab_vars(lab)
    hosts = {name: {"vault_addr": c["api_addr"], "vault_cluster_addr": c["cluster_addr"]}
             for name, c in info["clusters"].items()}
    (pdd / "inventory").mkdir()
    (pdd / "inventory" / "hosts").write_text(json.dumps({"vault_clusters": {"hosts": hosts, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}))
    values = dict(extravars, vault_ca_cert=ca_path)
    (pdd / "env" / "extravars").write_text(yaml.safe_dump({k: _Unsafe(v) if isinstance(v, str) else v
                                                           for k, v in values.items()}))
    (pdd / "env" / "envvars").write_text(json.dumps({
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".build" / "collections"),
        "VAULT_CACERT": ca_path,
        "JOB_ID": "42",
        "AWX_HOST": "https://awx.example.invalid",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "PATH": "%s:%s" % (BIN, os.environ.get("PATH", "")),
    }))
    for name in ("extravars", "envvars"):
        os.chmod(pdd / "env" / name, 0o600)
    return pdd


def test_dr_change_failover_through_ansible_runner(lab, playbook, tmp_path, monkeypatch):
    # ansible-runner runs the ansible-playbook it finds on PATH, as in an execution environment.
    monkeypatch.setenv("PATH", "%s:%s" % (BIN, os.environ.get("PATH", "")))
    lab.reset()
    playbook("vaultops.dr.setup", tokens=None)
    wait_topology(lab, "a", ["b", "c"])
    batch = mint_batch_op_token(lab, on="a", ttl="2h")
    info = lab_vars(lab)
    root_a = info["clusters"]["a"]["root_token"]

    extravars = {
        # The survey of "DR change".
        "dr_change_action": "failover",
        "dr_change_target": "b",
        "dr_change_failover_mode": "planned",
        "dr_change_dr_operation_tokens": "",
        # Credential "Vault DR token": a's root token serves every cluster after set-up from a.
        "vault_token": root_a,
        # Credential "Vault DR batch operation token".
        "failover_dr_operation_token": batch,
        "failback_dr_operation_token": batch,
        "drill_dr_operation_token": batch,
        "readiness_dr_operation_token": batch,
        "batch_token_current": batch,
    }
    pdd = private_data_dir(lab, tmp_path, extravars, Path(info["ca_cert"]).read_text())

    run = ansible_runner.run(private_data_dir=str(pdd), playbook="playbooks/dr_change.yml", ident="job42",
                             quiet=True, timeout=900)
    stdout = (pdd / "artifacts" / "job42" / "stdout").read_text()
    assert run.status == "successful" and run.rc == 0, stdout[-8000:]

    # The failover report reaches AWX as the job's artifacts (set_stats → playbook_on_stats).
    (stats,) = [e for e in run.events if e["event"] == "playbook_on_stats"]
    artifacts = stats["event_data"].get("artifact_data") or {}
    assert "failover_report" in artifacts, sorted(artifacts)
    report = artifacts["failover_report"]
    assert isinstance(report, dict) and report, report

    # The topology changed as asked: b primary, a (demoted) and c follow it.
    wait_topology(lab, "b", ["a", "c"])
    assert topology(lab)["b"][0] == "primary"

    # No secret in what AWX shows and keeps: stdout and the job events.
    events = sorted((pdd / "artifacts" / "job42" / "job_events").glob("*.json"))
    assert events
    shown = {"stdout": stdout}
    shown.update({p.name: p.read_text() for p in events})
    secrets = [batch, root_a] + lab_secrets(lab)
    assert_nothing_secret(shown, secrets)


def assert_nothing_secret(shown, values):
    for where, text in shown.items():
        for value in values:
            assert value not in text, "a secret appears in %s" % where
        found = TOKEN_SHAPE.findall(text)
        assert not found, "something token-shaped appears in %s: %s…" % (where, found[0][:6])


def run_job(pdd, playbook, ident):
    run = ansible_runner.run(private_data_dir=str(pdd), playbook=playbook, ident=ident, quiet=True, timeout=600)
    art = pdd / "artifacts" / ident
    stdout = (art / "stdout").read_text()
    shown = {"%s stdout" % ident: stdout}
    shown.update({"%s %s" % (ident, p.name): p.read_text() for p in sorted((art / "job_events").glob("*.json"))})
    (stats,) = [e for e in run.events if e["event"] == "playbook_on_stats"]
    return run, stdout, shown, stats["event_data"].get("artifact_data") or {}


def test_key_holders_ceremony_one_job_each(lab, playbook, tmp_path, monkeypatch):
    """The "DR key holder: add my key share" job, launched by three holders, each with one share
    credential: the attempt goes on by nonce from job to job, the last job's artifacts hold the token
    encrypted to the coordinator's key, and no share appears in any job's output or events. First, a
    template whose public key was swapped for another one: the holder's credential expects the
    coordinator's fingerprint, so the job fails naming both, and starts nothing."""
    monkeypatch.setenv("PATH", "%s:%s" % (BIN, os.environ.get("PATH", "")))
    lab.reset()
    playbook("vaultops.dr.setup", tokens=None)
    wait_topology(lab, "a", ["b", "c"])
    info = lab_vars(lab)
    shares = info["clusters"]["a"]["unseal_keys_b64"][:3]

    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    passphrase = "pp-" + pysecrets.token_hex(8)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase]

    def new_key(email):
        subprocess.run(gpg + ["--quick-gen-key", email, "default", "default", "never"], check=True, capture_output=True)
        armor = subprocess.run(["gpg", "--homedir", str(home), "--armor", "--export", email], check=True,
                               capture_output=True, text=True).stdout
        listing = subprocess.run(["gpg", "--homedir", str(home), "--with-colons", "--fingerprint", email], check=True,
                                 capture_output=True, text=True).stdout
        fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
        return armor, fpr.lower()

    armor, fingerprint = new_key("coordinator@vaultops.invalid")
    swapped_armor, swapped_fingerprint = new_key("template-admin@vaultops.invalid")

    def holder_vars(i, share, nonce, template_key):
        return {
            "ceremony_cluster": "b", "ceremony_nonce": nonce,             # the survey
            "ceremony_key_share": share, "ceremony_holder": "holder %d" % i,  # the holder's credential
            "ceremony_expected_pgp_fingerprint": fingerprint.upper(),      # the holder's credential
            "ceremony_pgp_key": template_key,                              # the template's extra vars
            "vault_token": info["clusters"]["a"]["root_token"],
        }

    try:
        shown = {}
        pdd = private_data_dir(lab, tmp_path, holder_vars(1, shares[0], "", swapped_armor),
                               Path(info["ca_cert"]).read_text(), name="swapped")
        run, stdout, job_shown, _artifacts = run_job(pdd, "playbooks/ceremony.yml", "swapped")
        assert run.status == "failed", stdout[-6000:]
        assert swapped_fingerprint in stdout and fingerprint in stdout and "Nothing was started" in stdout, stdout[-6000:]
        shown.update(job_shown)
        nonce = ""  # the first holder below starts the attempt: none was left running by the refused job
        for i, share in enumerate(shares, start=1):
            extravars = holder_vars(i, share, nonce, armor)
            pdd = private_data_dir(lab, tmp_path, extravars, Path(info["ca_cert"]).read_text(), name="holder%d" % i)
            run, stdout, job_shown, artifacts = run_job(pdd, "playbooks/ceremony.yml", "holder%d" % i)
            assert run.status == "successful", stdout[-6000:]
            shown.update(job_shown)
            step = artifacts["ceremony"]
            assert step["cluster"] == "b" and step["holder"] == "holder %d" % i, step
            if i < len(shares):
                assert not step["complete"] and int(step["progress"]) == i and step["nonce"], step
            nonce = step["nonce"]
        assert step["complete"] and step["encoded_token"] and step["pgp_fingerprint"], step
        op_token = subprocess.run(gpg + ["-dq"], input=base64.b64decode(step["encoded_token"]), check=True,
                                  capture_output=True).stdout.decode()
        # The token is a DR operation token of b: b deletes it.
        api_b = Api(lab.cluster("b"))
        assert api_b.delete_op_token(op_token).status_code in (200, 204)
        assert_nothing_secret(shown, shares + [op_token, passphrase] + lab_secrets(lab))
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, capture_output=True)


FAKE_AWX_CREDENTIAL = '''#!/usr/bin/python
# A stand-in for awx.awx.credential (AWX is not available here): the options batch_token_awx.yml
# uses, recorded to $FAKE_AWX_RECORD instead of sent to AWX.
import json
import os

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(
        name=dict(required=True), organization=dict(), credential_type=dict(),
        inputs=dict(type="dict", no_log=True), update_secrets=dict(type="bool", default=True)))
    with open(os.environ["FAKE_AWX_RECORD"], "w") as handle:
        json.dump(module.params, handle)
    module.exit_json(changed=True)


if __name__ == "__main__":
    main()
'''


def test_batch_token_rotation_job_writes_its_credential(lab, playbook, tmp_path, monkeypatch):
    """The "DR batch token rotation" job: a new batch token when there is none, handed to
    awx.awx.credential (a stand-in here) for the batch token credential, and never shown."""
    monkeypatch.setenv("PATH", "%s:%s" % (BIN, os.environ.get("PATH", "")))
    lab.reset()
    playbook("vaultops.dr.setup", tokens=None)
    wait_topology(lab, "a", ["b", "c"])
    info = lab_vars(lab)
    fake = tmp_path / "fake_collections" / "ansible_collections" / "awx" / "awx" / "plugins" / "modules"
    fake.mkdir(parents=True)
    (fake / "credential.py").write_text(FAKE_AWX_CREDENTIAL)
    record = tmp_path / "awx-credential.json"

    # The first run: no batch token credential on the job yet (it seeds the credential).
    extravars = {"vault_token": info["clusters"]["a"]["root_token"],
                 "batch_token_awx_credential": "Vault DR batch operation token", "batch_token_awx_organization": "Ops"}
    pdd = private_data_dir(lab, tmp_path, extravars, Path(info["ca_cert"]).read_text(), name="rotation")
    envvars = json.loads((pdd / "env" / "envvars").read_text())
    envvars["ANSIBLE_COLLECTIONS_PATH"] = "%s:%s" % (ROOT / ".build" / "collections", fake.parents[3])
    envvars["FAKE_AWX_RECORD"] = str(record)
    (pdd / "env" / "envvars").write_text(json.dumps(envvars))

    run, stdout, shown, _unused = run_job(pdd, "playbooks/batch_token_awx.yml", "rotation")
    assert run.status == "successful", stdout[-6000:]
    stored = json.loads(record.read_text())
    assert stored["name"] == "Vault DR batch operation token" and stored["organization"] == "Ops"
    assert stored["credential_type"] == "Vault DR batch operation token" and stored["update_secrets"]
    new = stored["inputs"]["batch_token"]
    # A batch token the primary knows, with a TTL.
    resp = Api(lab.cluster("a"))("POST", "auth/token/lookup", token=info["clusters"]["a"]["root_token"],
                                 json={"token": new})
    assert resp.status_code == 200 and resp.json()["data"]["type"] == "batch", resp.text
    assert_nothing_secret(shown, [new] + lab_secrets(lab))

    # The next scheduled run, with the stored token in the credential: kept, nothing written.
    record.unlink()
    extravars["batch_token_current"] = new
    pdd = private_data_dir(lab, tmp_path, extravars, Path(info["ca_cert"]).read_text(), name="rotation2")
    (pdd / "env" / "envvars").write_text(json.dumps(envvars))
    run, stdout, shown, _unused = run_job(pdd, "playbooks/batch_token_awx.yml", "rotation2")
    assert run.status == "successful", stdout[-6000:]
    assert not record.exists(), "a kept token must not be written to the credential again"
    assert_nothing_secret(shown, [new] + lab_secrets(lab))
