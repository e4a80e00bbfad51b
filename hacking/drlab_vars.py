"""Write what a drlab's playbook runs need from its lab.json (secrets, so 0600), for `make demo`.

    drlab_vars.py LAB_DIR tokens [--from a]   → LAB_DIR/tokens.yml: each host's vault_token (own root
                                                tokens, or cluster a's on every host once DR was set up from a)
    drlab_vars.py LAB_DIR shares --from a      → LAB_DIR/shares.yml: drill_key_shares = a's unseal key shares

A lab only: real clusters take tokens and key shares from Ansible Vault or an AWX credential.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lab_dir")
    ap.add_argument("what", choices=("tokens", "shares"))
    ap.add_argument("--from", dest="origin", help="the cluster whose root token / key shares to use")
    args = ap.parse_args()
    lab = Path(args.lab_dir)
    info = json.loads((lab / "lab.json").read_text())
    if args.what == "tokens":
        hosts = {name: {"vault_token": info["clusters"][args.origin or name]["root_token"]} for name in info["clusters"]}
        out, doc = lab / "tokens.yml", {"vault_clusters": {"hosts": hosts}}
    else:
        if not args.origin:
            ap.error("shares needs --from CLUSTER")
        out, doc = lab / "shares.yml", {"drill_key_shares": info["clusters"][args.origin]["unseal_keys_b64"][:3]}
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh)  # JSON is YAML
    print(out)


if __name__ == "__main__":
    main()
