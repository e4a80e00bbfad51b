"""Stand-in for the pip bootstrap script ansible-test downloads (get_pip_*.py).

ansible-test fetches the real script from a host this project's machines cannot reach. This
stand-in does what ansible-test needs from it: install pip into the running interpreter, at
the version asked on the command line (`pip==X.Y`), from the package index this machine can
reach. ansible-test's venvs don't see the pip configuration, so the CA bundle is passed
explicitly.
"""

import os
import subprocess
import sys


def main():
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])  # noqa: S603
    wanted = [a for a in sys.argv[1:] if not a.startswith("-")]
    if wanted:
        cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
        cert = os.environ.get("PIP_CERT") or next(
            (p for p in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt") if os.path.exists(p)),
            None,
        )
        if cert:
            cmd += ["--cert", cert]
        subprocess.check_call(cmd + wanted)  # noqa: S603 - our own interpreter, ansible-test's arguments


if __name__ == "__main__":
    main()
