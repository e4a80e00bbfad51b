"""Check the build context `ansible-builder create` wrote for ee/execution-environment.yml.

No container engine runs here, so `make ee` stops at `create`; this script checks that what a
`podman build` would get is complete:

- the base image is pinned by digest (name@sha256:...), or the definition says why not in a
  `# base-image-unpinned: <reason>` comment that also gives the command that pins it;
- awx.awx is pinned to one version in requirements.yml;
- the Containerfile starts from the definition's base image, installs the collections from
  requirements.yml and introspects the collections' Python and system dependencies;
- the context holds the collection tarball at the path requirements.yml names, and the tarball
  is vaultops.dr with its dependency declaration (meta/execution-environment.yml,
  requirements.txt, bindep.txt) and without the molecule scenarios, the lab or the tests;
- the user-level requirements.txt and bindep.txt carry requests, python-gnupg and gnupg;
- ansible-builder's own introspection script, run on the tarball installed into a scratch
  collections path, finds the collection's Python and system dependencies as the image build would.

Usage: python hacking/check_ee_context.py EE_DEFINITION CONTEXT_DIR
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import yaml


def fail(msg):
    sys.exit("ee context check failed: %s" % msg)


DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
UNPINNED = re.compile(r"^\s*#\s*base-image-unpinned:\s*\S", re.MULTILINE)


def check_base_pinned(definition_text, base):
    """A base image pinned by digest, or a documented reason (with the pin command) why not."""
    if DIGEST.search(base):
        return "pinned by digest"
    if UNPINNED.search(definition_text) and "--format '{{.Digest}}'" in definition_text:
        return "not pinned: reason documented in the definition"
    fail("the base image %s is neither pinned by digest (NAME@sha256:<64 hex>) nor documented as unpinned "
         "(a '# base-image-unpinned: <reason>' comment with the skopeo/podman command that reads the digest)" % base)
    return ""  # not reached


def check(definition_path, context):
    text = definition_path.read_text()
    definition = yaml.safe_load(text)
    if definition.get("version") != 3:
        fail("%s is not an ansible-builder v3 definition" % definition_path)
    base = definition["images"]["base_image"]["name"]
    pinning = check_base_pinned(text, base)
    build = context / "_build"

    containerfile = (context / "Containerfile").read_text()
    for needle in (
        'ARG EE_BASE_IMAGE="%s"' % base,
        "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml",
        "introspect.py introspect",
        "install-from-bindep",
    ):
        if needle not in containerfile:
            fail("the Containerfile lacks %r" % needle)

    requirements = yaml.safe_load((build / "requirements.yml").read_text())
    collections = {c["name"]: c for c in requirements["collections"]}
    ours = [c for c in collections.values() if c.get("type") == "file"]
    if len(ours) != 1:
        fail("requirements.yml should install exactly one collection tarball, has %r" % ours)
    in_image = Path(ours[0]["name"])
    if not in_image.is_relative_to("/build"):
        fail("%s is not under /build, where the galaxy stage copies the context" % in_image)
    tarball = build / in_image.relative_to("/build")
    if not tarball.is_file():
        fail("%s is not in the build context (additional_build_files)" % tarball)
    if "awx.awx" not in collections:
        fail("requirements.yml lacks awx.awx (the batch token rotation job updates its credential with it)")
    if not re.fullmatch(r"=?=?\d+\.\d+\.\d+", str(collections["awx.awx"].get("version", ""))):
        fail("requirements.yml does not pin awx.awx to one version (is %r)" % collections["awx.awx"].get("version"))

    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
    if (manifest["namespace"], manifest["name"]) != ("vaultops", "dr"):
        fail("the tarball is %s.%s, not vaultops.dr" % (manifest["namespace"], manifest["name"]))
    for name in ("meta/execution-environment.yml", "requirements.txt", "bindep.txt", "meta/runtime.yml"):
        if name not in names:
            fail("the collection tarball lacks %s" % name)
    leaked = sorted(n for n in names if n.split("/")[0] in ("extensions", "lab", "tests", ".build", ".venv"))
    if leaked:
        fail("the collection tarball ships %s" % leaked[:5])

    pip = (build / "requirements.txt").read_text()
    bindep = (build / "bindep.txt").read_text()
    for needle in ("requests", "python-gnupg"):
        if needle not in pip:
            fail("_build/requirements.txt lacks %s" % needle)
    if "gnupg" not in bindep:
        fail("_build/bindep.txt lacks gnupg")

    # What the builder stage does: install the collections, then introspect them.
    galaxy = Path(sys.executable).parent / "ansible-galaxy"
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([str(galaxy), "collection", "install", "--offline", "--force", "-p", tmp, str(tarball)],  # noqa: S603
                       check=True, capture_output=True, text=True)
        script = build / "scripts" / "introspect.py"  # ansible-builder's own, copied into the context
        out = subprocess.run([sys.executable, str(script), "introspect", tmp],  # noqa: S603
                             check=True, capture_output=True, text=True).stdout
    found = yaml.safe_load(out)
    python = " ".join(line for line in found.get("python") or [] if "from collection vaultops.dr" in line)
    system = " ".join(line for line in found.get("system") or [] if "from collection vaultops.dr" in line)
    if "python-gnupg" not in python or "requests" not in python:
        fail("introspection found no Python dependencies of vaultops.dr: %r" % found)
    if "gnupg" not in system:
        fail("introspection found no system dependencies of vaultops.dr: %r" % found)
    print("ee context OK: %s (base %s, %s; collection vaultops.dr %s from %s; introspected python: %d, system: %d)"
          % (context, base, pinning, manifest["version"], in_image, len(python.split("#")) - 1,
             len(system.split("#")) - 1))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    check(Path(sys.argv[1]), Path(sys.argv[2]))
