"""`make docs`: the HTML docs site, offline, with Sphinx warnings as errors.

    build_docs.py --out DIR        # site in DIR/sphinx/build/html (index: collections/vaultops/dr/index.html)

1. Copies the files git tracks (as they are in the work tree) into DIR/collections/ansible_collections/vaultops/dr,
   without lab/, tests/, bench/ and extensions/, and writes the guides' RST there (hacking/docs_rst.py: the
   Markdown guides stay the one source).
2. `antsibull-docs lint-collection-docs --plugin-docs`: the plugins', roles' and extra docs' markup and references.
3. `antsibull-docs sphinx-init` + `antsibull-docs collection` from that copy: the collection's pages from the
   plugins' DOCUMENTATION and the roles' meta/argument_specs.yml, plus the guides (docs/docsite/extra-docs.yml).
   The generated conf.py gets no intersphinx: the build reads nothing from the network.
4. `sphinx-build -W --keep-going`: any warning fails the build.
Runs with the docs venv's tools (requirements-docs.txt); the checkout is on none of Ansible's paths.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the docs venv
SKIP = ("lab/", "tests/", "bench/", "extensions/", ".ci/")


def run(*cmd, env, cwd=None):
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, check=False)  # noqa: S603
    if proc.returncode:
        sys.exit(f"make docs: `{cmd[0]} {cmd[1]}` failed (exit {proc.returncode}); its messages are above")


def stage(out: Path) -> Path:
    dest = out / "collections" / "ansible_collections" / "vaultops" / "dr"
    files = subprocess.run(["git", "ls-files", "-c", "-z"], cwd=ROOT, check=True,  # noqa: S607
                           capture_output=True).stdout.decode().split("\0")
    for name in files:
        if name and not name.startswith(SKIP) and (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def offline_conf(conf: Path) -> None:
    """sphinx-init's conf.py maps intersphinx to docs.ansible.com and docs.python.org: drop the extension and
    the mapping, so a build never fetches an inventory (and -W never depends on the network)."""
    text = conf.read_text()
    text = text.replace("'sphinx.ext.intersphinx', ", "").replace(", 'sphinx.ext.intersphinx'", "")
    text, count = re.subn(r"intersphinx_mapping = \{.*?\n\}\n", "intersphinx_mapping = {}\n", text, flags=re.S)
    if "sphinx.ext.intersphinx" in text or count != 1:
        sys.exit(f"make docs: could not take intersphinx out of {conf} (antsibull-docs' sphinx-init changed?)")
    conf.write_text(text)


# Labels of docs.ansible.com that antsibull-docs' pages refer to. Offline there is no intersphinx to resolve them:
# a page of stubs defines each one used, linking to the page on docs.ansible.com (a plain link; nothing is fetched).
ANSIBLE_DOCS = "https://docs.ansible.com/ansible/latest/"
CORE_LABELS = {
    "ansible_configuration_settings": ("Ansible configuration settings", "reference_appendices/config.html"),
    "common_return_values": ("Return values common to all modules", "reference_appendices/common_return_values.html"),
    # A module backed by an action plugin (run_lock) notes that it runs on the controller.
    "action_plugins": ("Action plugins", "plugins/action.html"),
}
BUILTIN = re.compile(r"ansible_collections\.ansible\.builtin\.(\w+)_(module|filter|test|lookup|callback|connection|become)")


def stub_core_refs(rst: Path) -> None:
    texts = [p.read_text() for p in rst.rglob("*.rst")]
    defined = {label for t in texts for label in re.findall(r"^\.\. _([^:\n]+):", t, re.M)}
    used = {m for t in texts for m in re.findall(r":ref:`(?:[^`<]*<)?([^`<>]+)>?`", t)}
    stubs = []
    for label in sorted(used - defined):
        builtin = BUILTIN.fullmatch(label)
        if label in CORE_LABELS:
            title, page = CORE_LABELS[label]
        elif builtin:
            title, page = f"ansible.builtin.{builtin[1]} {builtin[2]}", f"collections/ansible/builtin/{builtin[1]}_{builtin[2]}.html"
        else:
            continue  # not ansible-core's: sphinx reports it (-W), as it should
        stubs.append(f".. _{label}:\n\n{title}\n{'-' * len(title)}\n\nPart of ansible-core: {ANSIBLE_DOCS}{page}\n")
    if stubs:
        head = "Ansible core documentation"
        (rst / "ansible_core_references.rst").write_text(f":orphan:\n\n{head}\n{'=' * len(head)}\n\n" + "\n".join(stubs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    out = args.out.resolve()
    started = time.monotonic()
    shutil.rmtree(out, ignore_errors=True)
    collection = stage(out)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(out / "collections"), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               PATH=f"{BIN}:{env.get('PATH', '')}", ANSIBLE_NOCOLOR="1")
    run(BIN / "python", ROOT / "hacking" / "docs_rst.py", "--dest", collection / "docs" / "docsite" / "rst", env=env)
    run(BIN / "antsibull-docs", "lint-collection-docs", "--plugin-docs", collection, env=env)
    sphinx = out / "sphinx"
    sphinx.mkdir()
    run(BIN / "antsibull-docs", "sphinx-init", "--use-current", "--fail-on-error", "--dest-dir", sphinx,
        "--project", "vaultops.dr", "--copyright", "vaultops.dr maintainers",
        "--title", "vaultops.dr: Vault Enterprise DR as code", "--html-short-title", "vaultops.dr", "vaultops.dr", env=env)
    offline_conf(sphinx / "conf.py")
    (sphinx / "rst").mkdir(exist_ok=True)
    os.chmod(sphinx / "rst", 0o755)  # noqa: S103 - antsibull-docs refuses a directory others may write to
    run(BIN / "antsibull-docs", "--config-file", sphinx / "antsibull-docs.cfg", "collection", "--use-current",
        "--fail-on-error", "--cleanup", "everything", "--dest-dir", sphinx / "rst", "vaultops.dr", env=env)
    stub_core_refs(sphinx / "rst")
    run(BIN / "sphinx-build", "-q", "-b", "html", "-W", "--keep-going", "-c", sphinx, sphinx / "rst",
        sphinx / "build" / "html", env=env)
    index = sphinx / "build" / "html" / "collections" / "vaultops" / "dr" / "index.html"
    if not index.exists():
        sys.exit(f"make docs: the build wrote no {index}")
    print(f"docs site built in {time.monotonic() - started:.0f} s: {index}")


if __name__ == "__main__":
    main()
