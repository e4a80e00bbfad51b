"""The vaultops.dr.decode_token filter."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

try:
    from ansible.module_utils import _internal
except ImportError:  # ansible-core < 2.18 has no such module (`make matrix` runs 2.16-2.18)
    _internal = None
if not hasattr(_internal, "is_controller"):  # 2.18 has the module but not the controller flag: nothing to put back
    _internal = None

# Computed independently (plain XOR) from real-looking tokens, as in the engine's tests.
VECTORS = [
    ("s.H8sS0q6bQm2EYrnXYcTjxqvu", "Xq2vK7pLmN3bR8sT1uV4wYzA0c", "K196TjhkQD1bLGIPYH0qJl8tD1cjMwIwRhY"),
    ("hvs.CAESIJk3xG9mN2pQrStUvWxY", "a1B2c3D4e5F6g7H8i9J0kLmNoPqR", "CUcxHCByAWcsfy0FH3BxVScLOmEZHxkbGQcJCw"),
    ("hvr.CAESIBnMv4kT7yQxW2eRtYuI", "ZyXwVuTsRqPoNmLkJiHgFeDcBa98", "Mg8qWRU0ESAbMz4iOFknP30QGR8RVyExNjhMcQ"),
    ("5b4a9e0c-3f1d-4c2a-8e7b-9d6f1a2b3c4d", "AAECAwQFBgcICQoLDA0ODw==", "W0ucDzsYSi2GcpdkFiYyQg=="),
]


@pytest.fixture(scope="module")
def plugin():
    """The filter plugin module. Importing controller code (ansible.errors) marks the whole
    process as the controller, which changes how module.warn() records warnings for the
    module tests collected after this file: put the flag back when done."""
    was_controller = _internal.is_controller if _internal else None
    from ansible_collections.vaultops.dr.plugins.filter import decode_token as plugin_module

    yield plugin_module
    if _internal:
        _internal.is_controller = was_controller


def test_registered(plugin):
    assert plugin.FilterModule().filters()["decode_token"] is plugin.decode_token


@pytest.mark.parametrize("token,otp,encoded", VECTORS)
def test_vectors(plugin, token, otp, encoded):
    assert plugin.decode_token(encoded, otp) == token


def test_legacy_gives_uuid(plugin):
    otp = base64.b64encode(bytes(range(16, 32))).decode()
    token = uuid.uuid4()
    encoded = base64.b64encode(bytes(a ^ b for a, b in zip(token.bytes, base64.b64decode(otp)))).decode()
    assert plugin.decode_token(encoded, otp) == str(token)


@pytest.mark.parametrize("encoded,otp", [
    ("CUcxHCByAWcsfy0FH3BxVScLOmEZHxkbGQcJCw", "Z" * 28),   # wrong OTP
    ("CUcxHCByAWcsfy0FH3BxVScLOmEZHxkbGQcJCw", "short"),     # wrong length
    ("", "a1B2c3D4e5F6g7H8i9J0kLmNoPqR"),
    ("%%%", "a1B2c3D4e5F6g7H8i9J0kLmNoPqR"),
])
def test_errors_are_filter_errors_without_secrets(plugin, encoded, otp):
    from ansible.errors import AnsibleFilterError

    with pytest.raises(AnsibleFilterError) as err:
        plugin.decode_token(encoded, otp)
    assert "vaultops.dr.decode_token" in str(err.value)
    assert otp not in str(err.value)


def test_in_a_playbook_expression():
    """The filter as users call it, by FQCN, through ansible itself."""
    root = Path(__file__).resolve().parents[4]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(root / ".build" / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    token, otp, encoded = VECTORS[1]
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible"), "localhost", "-m", "ansible.builtin.debug",
         "-a", "msg={{ '%s' | vaultops.dr.decode_token('%s') }}" % (encoded, otp)],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert token in proc.stdout


def test_filter_loads_only_the_standard_library_otp_code():
    """Importing the filter (as the controller does) loads _otp alone: no AnsibleModule, requests,
    gnupg, HTTP client or ceremony code. A fresh interpreter, so other tests' imports don't count."""
    root = Path(__file__).resolve().parents[4]
    code = (
        "import sys\n"
        "from ansible_collections.vaultops.dr.plugins.filter import decode_token\n"
        "assert decode_token.FilterModule().filters()['decode_token']\n"
        "mu = 'ansible_collections.vaultops.dr.plugins.module_utils.'\n"
        "print(sorted(m for m in sys.modules if m in ('requests', 'gnupg', 'ansible.module_utils.basic')"
        " or (m.startswith(mu) and m != mu + '_otp')))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(root / ".build" / "collections"))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout
