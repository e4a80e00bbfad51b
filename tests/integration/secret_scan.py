"""The session's secret scan: every file a playbook run of the integration suite leaves (its output at -vvvv,
ANSIBLE_LOG_PATH, the junit callback's XML, a JSON callback's record, files the playbook wrote, ansible-runner's
stdout and job events) is searched, at the end of the session, for every secret the session knew of.

Secrets known: each lab cluster's root token and unseal key shares (base64 and hex; a reset makes new ones, so
they are read at every run), every secret-looking extra variable a test handed to a playbook (DR operation and
batch tokens, key shares, OTPs, passwords, PGP passphrases), and values tests remember explicitly. Secrets never
known to the test (activation and wrapping tokens, op tokens generated in a play) are found by shape: anything
token-shaped, JWT-shaped, or a PGP private key block. A finding names the file and the kind of secret, never
the value.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml

# Vault/OpenBao tokens (service, batch, recovery; old and new prefixes), as test_awx_runner looks for them.
TOKEN_SHAPE = re.compile(r"\b(?:hv[sbr]|[sbr])\.[A-Za-z0-9_-]{20,}")
JWT_SHAPE = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")
PGP_PRIVATE = re.compile(r"-----BEGIN PGP PRIVATE KEY BLOCK-----")
SHAPES = (("token-shaped string", TOKEN_SHAPE), ("JWT-shaped string (activation token?)", JWT_SHAPE),
          ("PGP private key block", PGP_PRIVATE))
# Extra variables whose values are secrets, and names that only look like it.
SECRET_VAR = re.compile(r"token|shares?$|otp|password|passphrase|secret|batch_token_current")
# (An encoded token is the token XOR an OTP, or sealed to a PGP key: the ceremony publishes it on purpose.)
# (`batch_token_awx_credential` / `_organization` name AWX objects: "Vault DR batch operation token" is a name.)
NOT_SECRET_VAR = re.compile(r"ttl|role|policy|file|dir|path|_name|accessor|^pgp_public|lock|encoded|fingerprint"
                            r"|_credential$|_organization$")
MIN_SECRET_LEN = 12
MAX_FILE_BYTES = 50 * 1024 * 1024


class SecretScan:
    def __init__(self):
        self.secrets = {}        # value -> kind
        self.files = set()       # paths to scan
        self.excluded = set()    # inputs the tests wrote on purpose (vars files, result files)
        self.dirs = []           # (root, glob) searched at the end: ansible-runner artifacts
        self.runs = 0

    # ------------------------------------------------------------ what is secret
    def remember(self, value, kind):
        if isinstance(value, str) and len(value) >= MIN_SECRET_LEN:
            self.secrets.setdefault(value, kind)

    def remember_lab(self, lab_dir):
        try:
            info = json.loads((Path(lab_dir) / "lab.json").read_text())
        except (OSError, ValueError):
            return
        for name, cluster in info.get("clusters", {}).items():
            self.remember(cluster.get("root_token"), "root token of %s" % name)
            for share in cluster.get("unseal_keys_b64") or []:
                self.remember(share, "unseal key share of %s (base64)" % name)
            for share in cluster.get("unseal_keys_hex") or []:
                self.remember(share, "unseal key share of %s (hex)" % name)
        self.remember(info.get("control_secret"), "drlab control secret")

    def remember_extra_vars(self, extra_vars, where="extra var"):
        for name, value in extra_vars.items():
            name = str(name)
            if name == "lab":
                continue
            if SECRET_VAR.search(name) and not NOT_SECRET_VAR.search(name):
                self._remember_all(value, "%s %s" % (where, name))
            elif isinstance(value, dict):
                self.remember_extra_vars(value, where="%s %s." % (where, name))

    def remember_file(self, path, where):
        """The secrets in a JSON or YAML file a test reads (a target playbook's result file, AWX's env/extravars)."""
        try:
            data = yaml.load(Path(path).read_text(), Loader=_AnyTagLoader)  # noqa: S506 - SafeLoader + tags as text
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            return
        if isinstance(data, dict):
            self.remember_extra_vars(data, where=where)

    def _remember_all(self, value, kind):
        if isinstance(value, dict):
            for key, item in value.items():
                self._remember_all(item, "%s[%s]" % (kind, key))
        elif isinstance(value, (list, tuple)):
            for item in value:
                self._remember_all(item, kind)
        else:
            self.remember(value, kind)

    # ------------------------------------------------------------ where to look
    def add_file(self, path):
        self.files.add(Path(path))

    def exclude(self, path):
        self.excluded.add(Path(path).resolve())

    def add_glob(self, root, pattern):
        self.dirs.append((Path(root), pattern))

    @staticmethod
    def snapshot(directory):
        """{path: mtime_ns} of the files under `directory` (a test's tmp_path), to see what a run wrote."""
        out = {}
        for path in Path(directory).rglob("*"):
            try:
                if path.is_file() and not _private_dir(path):
                    out[path] = path.stat().st_mtime_ns
            except OSError:
                pass
        return out

    def add_written(self, directory, before):
        for path, mtime in self.snapshot(directory).items():
            if before.get(path) != mtime:
                self.add_file(path)

    # ------------------------------------------------------------ the scan
    def scan(self, remember_globs=()):
        """(findings [(file, kind)], stats) over every file collected. `remember_globs`: (root, pattern) of
        input files whose secrets are remembered first (ansible-runner's env/extravars)."""
        for root, pattern in remember_globs:
            for path in Path(root).glob(pattern):
                self.remember_file(path, "%s:" % path.parent.parent.name)
        files = set(self.files)
        for root, pattern in self.dirs:
            files.update(p for p in root.glob(pattern) if p.is_file())
        findings, scanned, size = [], 0, 0
        values = sorted(self.secrets.items(), key=lambda kv: -len(kv[0]))
        for path in sorted(files):
            try:
                resolved = path.resolve()
                if resolved in self.excluded or not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            if b"\0" in data[:8192]:
                continue  # binary (a raft snapshot): not output anyone reads
            text = data.decode("utf-8", errors="replace")
            scanned += 1
            size += len(data)
            kinds = {kind for value, kind in values if value in text}
            kinds.update(kind for kind, shape in SHAPES if shape.search(text))
            findings.extend((str(path), kind) for kind in sorted(kinds))
        stats = {"runs": self.runs, "files": scanned, "bytes": size, "secrets": len(self.secrets)}
        return findings, stats


class _AnyTagLoader(yaml.SafeLoader):
    """SafeLoader that reads AWX's `!unsafe` (and any other tag) as plain text."""


_AnyTagLoader.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node)
                                    if isinstance(node, yaml.ScalarNode) else None)


def _private_dir(path):
    """GnuPG homes hold the tests' own private keys: input, not output."""
    return any("gnupg" in part for part in path.parts)


def report(findings, base=None):
    lines = []
    for path, kind in findings:
        shown = os.path.relpath(path, base) if base else path
        lines.append("  %s: %s" % (shown, kind))
    return "\n".join(lines)
