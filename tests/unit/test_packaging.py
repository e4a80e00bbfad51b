"""The galaxy artifact ships the collection and nothing of the lab, the tests or dev tooling."""

from __future__ import annotations

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
