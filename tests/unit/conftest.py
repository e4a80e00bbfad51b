"""Shared unit-test helpers: import path, recorded Vault answers, and running a module's main()."""

from __future__ import annotations

import json
import os
import sys
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

from ansible.module_utils.testing import patch_module_args  # noqa: E402

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
