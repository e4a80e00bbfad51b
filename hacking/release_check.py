"""`make release-check`: the galaxy artifact, checked as a user gets it.

    release_check.py --out DIR [--base-port 35000] [--rst-from DIR]

1. Copies the files git tracks (as they are in the work tree; untracked ones left out) to DIR/src, adds the generated RST guides
   (--rst-from: hacking/docs_rst.py's output) and runs `ansible-galaxy collection build` there.
2. Lists what the tarball ships and fails on any lab, test, bench, molecule or dev-tooling file in it.
3. Installs the tarball into the empty collections path DIR/collections with the checkout nowhere on Ansible's
   paths: HOME is DIR/home (no ~/.ansible/collections), ANSIBLE_COLLECTIONS_PATH is only DIR/collections, the
   Makefile's PYTHONPATH is dropped, sys.path is not scanned for collections, and commands run in DIR.
4. `ansible-doc` renders every module, filter and role the tarball ships, and says it read them from there.
5. Starts a 2-cluster drlab (DIR/drlab, --base-port), runs vaultops.dr.setup and vaultops.dr.drill from the
   installed artifact, checks the drill's report, and stops the lab (also on failure).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the dev venv: ansible-core, drlab, bao

# Nothing under these may ship: the lab, tests, benchmarks, molecule and the tooling that builds and checks.
FORBIDDEN = re.compile(
    r"^(lab|tests|bench|extensions|hacking|\.ci|\.nox|\.venv[^/]*|\.build|\.drlab|\.ansible)/"
    r"|(^|/)molecule(/|\.yml$)"
    r"|^(Makefile|noxfile\.py|requirements-(dev|docs)\.txt|ruff\.toml|\.ansible-lint|\.gitignore)$"
    r"|(^|/)(__pycache__/|conftest\.py$|test_[^/]*\.py$)"
)
# Plugin directories whose plugins ansible-doc renders, and their ansible-doc type.
DOC_TYPES = {"modules": "module", "filter": "filter", "test": "test", "lookup": "lookup", "callback": "callback",
             "inventory": "inventory", "connection": "connection", "become": "become", "vars": "vars"}


class CheckFailed(Exception):
    pass


def step(title):
    print(f"\n== {title}", flush=True)


def run(cmd, env=None, cwd=None, capture=False):
    """Run `cmd`; a failure names the command and, when captured, ends with its error output. Captured stderr
    (warnings) is shown, never mixed into the stdout a caller parses."""
    shown = " ".join(str(c) for c in cmd)
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, text=True, check=False,  # noqa: S603
                          stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE if capture else None)
    if capture and proc.stderr.strip():
        print(proc.stderr.strip()[-4000:], file=sys.stderr)
    if proc.returncode:
        raise CheckFailed(f"`{shown}` exited {proc.returncode}")
    return proc.stdout if capture else ""


def stage(out: Path, rst_from: Path | None) -> Path:
    src = out / "src"
    files = subprocess.run(["git", "ls-files", "-c", "-z"], cwd=ROOT, check=True,  # noqa: S607
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        path = ROOT / name
        if path.is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, src / name)
    if rst_from:
        shutil.copytree(rst_from, src / "docs" / "docsite" / "rst")
    return src


def build(out: Path, src: Path) -> Path:
    dist = out / "dist"
    dist.mkdir()
    run([BIN / "ansible-galaxy", "collection", "build", "--output-path", dist, src])
    (tarball,) = dist.glob("vaultops-dr-*.tar.gz")
    return tarball


def check_contents(tarball: Path, src: Path) -> list[str]:
    with tarfile.open(tarball) as tar:
        names = sorted(m.name for m in tar.getmembers() if m.isfile())
    print(f"{tarball.name}: {len(names)} files, {tarball.stat().st_size // 1024} KiB")
    for name in names:
        print(f"  {name}")
    bad = [n for n in names if FORBIDDEN.search(n)]
    if bad:
        raise CheckFailed("the artifact ships files that are not part of the collection (add them to galaxy.yml "
                          "build_ignore): " + ", ".join(bad[:20]) + (f" and {len(bad) - 20} more" if len(bad) > 20 else ""))
    for needed in ("MANIFEST.json", "FILES.json", "meta/runtime.yml", "README.md"):
        if needed not in names:
            raise CheckFailed(f"the artifact lacks {needed}")
    extra = src / "docs" / "docsite" / "extra-docs.yml"
    if extra.exists():
        import yaml  # the dev venv has PyYAML (ansible-core's dependency)

        guides = [g for section in yaml.safe_load(extra.read_text()).get("sections", []) for g in section["toctree"]]
        missing = [g for g in guides if f"docs/docsite/rst/{g}.rst" not in names]
        if missing:
            raise CheckFailed(f"docs/docsite/extra-docs.yml names guides the artifact lacks: {', '.join(missing)} "
                              "(make release-check generates them with hacking/docs_rst.py)")
    return names


def user_env(out: Path) -> dict:
    """The environment of a user who installed the tarball: nothing of the checkout on any of Ansible's paths."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANSIBLE_", "PYTHON", "VIRTUAL_ENV", "PYTEST", "MAKE", "MFLAGS"))}
    home = out / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), ANSIBLE_COLLECTIONS_PATH=str(out / "collections"),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_LOCAL_TEMP=str(home / ".ansible" / "tmp"), ANSIBLE_HOME=str(home / ".ansible"),
               PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    return env


def install(out: Path, tarball: Path, env: dict) -> Path:
    run([BIN / "ansible-galaxy", "collection", "install", "-p", out / "collections", tarball], env=env, cwd=out)
    installed = out / "collections" / "ansible_collections" / "vaultops" / "dr"
    listing = run([BIN / "ansible-galaxy", "collection", "list", "vaultops.dr", "--format", "json"], env=env, cwd=out,
                  capture=True)
    paths = list(json.loads(listing[listing.index("{"):]))
    if paths != [str(out / "collections" / "ansible_collections")]:
        raise CheckFailed(f"Ansible finds vaultops.dr in {paths}, not only in the installed artifact")
    print(f"installed: {installed} (the only vaultops.dr Ansible finds)")
    return installed


def check_docs(names: list[str], installed: Path, env: dict, out: Path) -> None:
    for folder, doc_type in DOC_TYPES.items():
        plugins = sorted({Path(n).stem for n in names if n.startswith(f"plugins/{folder}/") and n.endswith(".py")
                          and not Path(n).stem.startswith("_")})
        if not plugins:
            continue
        listed = json.loads(run([BIN / "ansible-doc", "-t", doc_type, "--list", "--json", "vaultops.dr"],
                                env=env, cwd=out, capture=True))
        # Every plugin file must be known to ansible-doc (one whose DOCUMENTATION does not parse is left out of
        # --list); a filter file may hold more filters than its name says, so render all that are listed.
        fqcns = [f"vaultops.dr.{p}" for p in plugins]
        unlisted = sorted(set(fqcns) - set(listed))
        if unlisted:
            raise CheckFailed(f"ansible-doc -t {doc_type} --list does not know {', '.join(unlisted)}: "
                              "their documentation does not parse")
        fqcns = sorted(set(fqcns) | set(listed))
        check_rendered(doc_type, fqcns, installed, env, out)
    roles = sorted({n.split("/")[1] for n in names if n.startswith("roles/") and "/meta/argument_specs.yml" in n})
    check_rendered("role", [f"vaultops.dr.{r}" for r in roles], installed, env, out)


def check_rendered(doc_type: str, fqcns: list[str], installed: Path, env: dict, out: Path) -> None:
    text = run([BIN / "ansible-doc", "-t", doc_type, *fqcns], env=env, cwd=out, capture=True)
    data = json.loads(run([BIN / "ansible-doc", "-t", doc_type, "--json", *fqcns], env=env, cwd=out, capture=True))
    for fqcn in fqcns:
        if fqcn not in data:
            raise CheckFailed(f"ansible-doc -t {doc_type} {fqcn} rendered nothing")
        doc = data[fqcn]
        where = str(doc.get("path") or (doc.get("doc") or {}).get("filename") or "")
        if not where.startswith(str(installed)):
            raise CheckFailed(f"ansible-doc read {fqcn} from {where or 'an unknown path'}, not the installed artifact")
        if doc_type == "role" and not doc.get("entry_points"):
            raise CheckFailed(f"ansible-doc -t role {fqcn} shows no entry point (meta/argument_specs.yml)")
    if fqcns and fqcns[-1].split(".")[-1] not in text:
        raise CheckFailed(f"ansible-doc -t {doc_type} rendered no text for {fqcns[-1]}")
    print(f"ansible-doc -t {doc_type}: {len(fqcns)} rendered from the artifact ({', '.join(fqcns)})")


def drill(out: Path, env: dict, base_port: int) -> None:
    lab = out / "drlab"
    reports = out / "reports"
    reports.mkdir()
    inventory = ["-i", lab / "inventory.yml", "-i", lab / "tokens.yml"]
    drlab, python, playbook = BIN / "drlab", BIN / "python", BIN / "ansible-playbook"
    lab_vars = ROOT / "hacking" / "drlab_vars.py"
    lab_env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "PYTHONPATH"))}
    run([drlab, "up", "--clusters", "2", "--dir", lab, "--base-port", base_port], env=lab_env)
    try:
        run([python, lab_vars, lab, "tokens"], env=lab_env, capture=True)
        started = time.monotonic()
        run([playbook, "vaultops.dr.setup", *inventory], env=env, cwd=out)
        run([python, lab_vars, lab, "tokens", "--from", "a"], env=lab_env, capture=True)
        run([python, lab_vars, lab, "shares", "--from", "a"], env=lab_env, capture=True)
        run([playbook, "vaultops.dr.drill", *inventory, "-e", f"@{lab / 'shares.yml'}",
             "-e", f"drill_report_dir={reports}"], env=env, cwd=out)
        report = json.loads((reports / "drill-report.json").read_text())
        print(f"setup + drill from the artifact: {time.monotonic() - started:.0f} s; drill report: "
              + ", ".join(f"{k}={report[k]}" for k in ("result", "outcome", "status", "passed") if k in report))
        for name in ("drill-report.json", "drill-report.md"):
            if not (reports / name).stat().st_size:
                raise CheckFailed(f"the drill wrote an empty {name}")
    finally:
        subprocess.run([str(drlab), "down", "--dir", str(lab)], env=lab_env, check=False)  # noqa: S603


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--base-port", type=int, default=35000)
    ap.add_argument("--rst-from", type=Path, help="generated RST guides to ship in docs/docsite/rst")
    ap.add_argument("--no-drill", action="store_true", help="stop after ansible-doc (no drlab)")
    args = ap.parse_args()
    out = args.out.resolve()
    if out.exists():
        subprocess.run([str(BIN / "drlab"), "down", "--dir", str(out / "drlab")], check=False,  # noqa: S603
                       capture_output=True)  # a lab an interrupted run left behind
        shutil.rmtree(out)
    out.mkdir(parents=True)
    started = time.monotonic()
    try:
        step("build")
        src = stage(out, args.rst_from)
        tarball = build(out, src)
        step("what the artifact ships")
        names = check_contents(tarball, src)
        step("install into an empty collections path")
        env = user_env(out)
        installed = install(out, tarball, env)
        step("ansible-doc from the artifact")
        check_docs(names, installed, env, out)
        if not args.no_drill:
            step("vaultops.dr.setup and vaultops.dr.drill from the artifact against a 2-cluster drlab")
            drill(out, env, args.base_port)
    except CheckFailed as exc:
        print(f"\nrelease-check FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"\nrelease-check passed in {time.monotonic() - started:.0f} s: {tarball}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
