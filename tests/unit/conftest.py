"""Shared unit-test helpers: import path, recorded Vault answers, and running a module's main()."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".build" / "collections"
LINK = COLLECTIONS / "ansible_collections" / "vaultops" / "dr"
if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(ROOT, LINK)
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))

try:
    from ansible.module_utils.testing import patch_module_args  # noqa: E402
except ImportError:  # ansible-core < 2.19 (`make matrix` runs these tests on 2.16-2.18): the classic way
    import contextlib

    @contextlib.contextmanager
    def patch_module_args(args=None):
        from ansible.module_utils import basic

        args = dict(args or {}, _ansible_remote_tmp="/tmp", _ansible_keep_remote_files=False)  # noqa: S108
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name):
    """A recorded Vault answer: tests/unit/fixtures/<name>.json."""
    return json.loads((FIXTURES / (name + ".json")).read_text())


class ModuleExit(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


def run_module(module, args, check_mode=False, diff=False):
    """Run `module.main()` with `args`; return its result dict (failed ones have failed=True)."""
    args = dict(args)
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        from ansible.module_utils import basic

        def _exit(self, **kwargs):
            kwargs.setdefault("changed", False)
            raise ModuleExit(kwargs)

        def _fail(self, msg, **kwargs):
            kwargs["failed"] = True
            kwargs["msg"] = msg
            raise ModuleExit(kwargs)

        orig_exit, orig_fail = basic.AnsibleModule.exit_json, basic.AnsibleModule.fail_json
        basic.AnsibleModule.exit_json, basic.AnsibleModule.fail_json = _exit, _fail
        try:
            module.main()
        except ModuleExit as done:
            return done.result
        finally:
            basic.AnsibleModule.exit_json, basic.AnsibleModule.fail_json = orig_exit, orig_fail
    raise AssertionError("module returned without exit_json/fail_json")


@pytest.fixture
def vault():
    """`responses` mock of one Vault at https://vault.test:8200; unmatched requests fail the test."""
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.base = "https://vault.test:8200/v1/"
        yield rsps


BASE_ARGS = {"url": "https://vault.test:8200", "token": "hvs.unit-test-token", "retries": 2, "timeout": 5}


@pytest.fixture
def fake_time(monkeypatch):
    """A clock that moves only when something sleeps, so waits and retries take no time.

    Returns {"now": seconds, "sleeps": [every sleep asked]}.
    """
    import time

    clock = {"now": 1000.0, "sleeps": []}

    def sleep(seconds):
        clock["sleeps"].append(seconds)
        clock["now"] += seconds

    monkeypatch.setattr(time, "sleep", sleep)
    monkeypatch.setattr(time, "monotonic", lambda: clock["now"])
    return clock


@pytest.fixture
def module_warnings(monkeypatch):
    """The warnings modules give with module.warn(), isolated per test.

    Recorded at AnsibleModule.warn itself: ansible-core's global warning list is not a stable place to read
    them (once controller code such as ansible.errors is imported, it no longer fills it).
    """
    from ansible.module_utils import basic

    seen = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, warning: seen.append(warning))
    return lambda: tuple(seen)


STATUS_PATH = "sys/replication/dr/status"


def status(vault, *names):
    """Queue recorded DR status answers (tests/unit/fixtures/<name>.json), one per read."""
    for name in names:
        vault.add("GET", vault.base + STATUS_PATH, json=fixture(name))


def writes(vault):
    """The requests that were not reads: what idempotence and check mode are about."""
    return [c for c in vault.calls if c.request.method != "GET"]


def gpg_batch(home, *args, text=True):
    """Run gpg non-interactively in the GnuPG home `home` (keys without passphrase); return its stdout."""
    return subprocess.run(["gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
                           *args], check=True, capture_output=True, text=text).stdout


@pytest.fixture(scope="session")
def pgp():
    """A throwaway key pair in a temporary GNUPGHOME (passphrase protected)."""
    import gnupg

    home = tempfile.mkdtemp(prefix="vaultops-gpg-")
    os.chmod(home, 0o700)
    gpg = gnupg.GPG(gnupghome=home)
    key = gpg.gen_key(gpg.gen_key_input(key_type="EDDSA", key_curve="ed25519", subkey_type="ECDH",
                                        subkey_curve="cv25519", name_email="ceremony@vaultops.test",
                                        passphrase="unit-pass-phrase"))
    assert key.fingerprint
    info = {
        "home": home,
        "fingerprint": key.fingerprint.lower(),
        "armor": gpg.export_keys(key.fingerprint),
        "b64": base64.b64encode(gpg.export_keys(key.fingerprint, armor=False)).decode(),
        "private_armor": gpg.export_keys(key.fingerprint, secret=True, passphrase="unit-pass-phrase"),
        "passphrase": "unit-pass-phrase",
    }
    yield info
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], check=False, capture_output=True)
    shutil.rmtree(home, ignore_errors=True)
