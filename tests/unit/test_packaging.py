"""The galaxy artifact ships the collection and nothing of the lab, the tests or dev tooling."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _build(tmp_path):
    galaxy = shutil.which("ansible-galaxy", path=str(Path(sys.executable).parent)) or "ansible-galaxy"
    # Build from the tracked and new files only, as a release would from a clean checkout.
    src = tmp_path / "src"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    subprocess.run([galaxy, "collection", "build", "--output-path", str(tmp_path)], cwd=src, check=True,
                   capture_output=True, text=True)
    return next(tmp_path.glob("vaultops-dr-*.tar.gz"))


def test_artifact_contents(tmp_path):
    with tarfile.open(_build(tmp_path)) as tar:
        names = set(tar.getnames())
    assert "MANIFEST.json" in names
    assert "meta/runtime.yml" in names
    assert "README.md" in names
    modules = {n for n in names if n.startswith("plugins/modules/") and n.endswith(".py")}
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    for module in runtime["action_groups"]["dr"]:
        assert "plugins/modules/%s.py" % module in modules
    leaked = sorted(n for n in names if n.split("/")[0] in ("lab", "tests", "hacking", ".ci", ".venv", ".build", ".drlab",
                                                                   "extensions", ".ansible")
                    or n in ("Makefile", "requirements-dev.txt", "ruff.toml"))
    assert not leaked, leaked


def test_action_group_lists_every_module():
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    modules = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    assert sorted(runtime["action_groups"]["dr"]) == modules


def _hacking_script(name):
    """hacking/NAME.py as a module (the directory is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "hacking" / ("%s.py" % name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lower_bounds():
    return _hacking_script("lower_bounds")


def test_every_runtime_requirement_has_a_lower_and_an_upper_bound():
    from packaging.version import Version

    parsed = dict(_lower_bounds().requirements((ROOT / "requirements.txt").read_text()))
    assert {"requests", "python-gnupg"} <= set(parsed)
    for name, specs in parsed.items():
        assert ">=" in specs and "<" in specs, "%s needs both bounds (name>=low,<high): %s" % (name, specs)
        assert Version(specs[">="]) < Version(specs["<"]), (name, specs)
    # CVE-2024-47081: requests before 2.32.4 may send .netrc credentials to another host.
    assert Version(parsed["requests"][">="]) >= Version("2.32.4")
    dev = dict(_lower_bounds().requirements("\n".join(
        line for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
        if line.split("#")[0].strip() and not line.startswith("-e"))))
    assert Version(dev["requests"][">="]) >= Version("2.32.4")


def test_the_lowest_bounds_session_pins_every_lower_bound():
    constraints = _lower_bounds().constraints((ROOT / "requirements.txt").read_text()).split()
    assert "requests==2.32.4" in constraints and len(constraints) == len(
        _lower_bounds().requirements((ROOT / "requirements.txt").read_text()))
    assert "units-lowest" in (ROOT / "noxfile.py").read_text()


def test_requires_ansible_stays():
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"] == ">=2.16.0"


def test_awx_collection_is_declared_and_pinned_where_the_awx_playbooks_need_it():
    # Optional (only the AWX jobs use it), so not in galaxy.yml's dependencies.
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert "awx.awx" not in (galaxy.get("dependencies") or {})
    project = {c["name"]: c for c in yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())["collections"]}
    ee = {c["name"]: c for c in yaml.safe_load((ROOT / "ee" / "requirements.yml").read_text())["collections"]}
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(ee["awx.awx"]["version"])), "pin awx.awx exactly in the EE"
    assert project["awx.awx"]["version"] == ee["awx.awx"]["version"]
    assert "collections/requirements.yml" in (ROOT / "playbooks" / "batch_token_awx.yml").read_text()


def _ee_check():
    return _hacking_script("check_ee_context")


def test_ee_base_image_is_pinned_by_digest_or_documented_as_not():
    import pytest

    check = _ee_check().check_base_pinned
    definition = (ROOT / "ee" / "execution-environment.yml").read_text()
    base = yaml.safe_load(definition)["images"]["base_image"]["name"]
    assert check(definition, base)  # as shipped: a digest, or the documented reason with the pin command
    assert check("", "quay.io/centos/centos:stream9@sha256:" + "0" * 64) == "pinned by digest"
    with pytest.raises(SystemExit, match="neither pinned by digest"):
        check("images:\n  base_image:\n    name: quay.io/centos/centos:stream9\n", "quay.io/centos/centos:stream9")
    with pytest.raises(SystemExit):  # a reason without the command that pins it is not enough
        check("# base-image-unpinned: later\n", "quay.io/centos/centos:stream9")
