#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: recovery_token
short_description: Generate a recovery token from key shares on a server in recovery mode
version_added: 1.0.0
description:
  - Runs the key-share ceremony on C(sys/generate-recovery-token) of a Vault (or OpenBao) server started in
    recovery mode (C(server -recovery)). The recovery token is the only token that works there; with it,
    C(sys/raw) can be read and repaired.
  - The same ceremony as M(vaultops.dr.dr_operation_token), with the same options and return values. Several key
    holders can each run it with their own share, passing the RV(nonce) along; the run that reaches the
    threshold returns the token.
  - A recovery token lives in the server's memory only, and one is made per recovery run. Once made, the server
    is unsealed and refuses another until it is restarted in recovery mode.
  - A server not in recovery mode does not serve these endpoints (OpenBao answers 404); the module then fails
    and says so. An already unsealed server fails with a message saying so too.
  - 'B(Idempotence): O(state=present) with O(key_shares) and no attempt running starts a new attempt. Without
    O(key_shares), O(otp) or O(pgp_key) and with no attempt running there is nothing to do (no change).
    Re-running a holder''s step with the same O(nonce) and share reports no change.'
  - O(state=canceled) cancels the running attempt; none running is no change.
author:
  - vaultops.dr contributors (@vaultops)
extends_documentation_fragment:
  - vaultops.dr.connection
  - vaultops.dr.auth
  - vaultops.dr.attributes
  - vaultops.dr.attributes.STATE_MODULE
  - vaultops.dr.wait.IGNORED
  - vaultops.dr.ceremony
attributes:
  check_mode:
    details:
      - Check mode never starts an attempt, submits a key share or cancels anything.
  idempotent:
    support: partial
    details:
      - O(state=present) with O(key_shares) and no attempt running starts a new attempt each time (see the description).
options:
  state:
    description:
      - V(present) starts or continues an attempt and returns the token when it completes.
      - V(canceled) cancels the running attempt.
    type: str
    choices: [present, canceled]
    default: present
seealso:
  - module: vaultops.dr.dr_operation_token
  - plugin: vaultops.dr.decode_token
    plugin_type: filter
notes:
  - The endpoints are unauthenticated; O(token) is not sent.
"""

EXAMPLES = r"""
- name: Make a recovery token from three shares
  vaultops.dr.recovery_token:
    url: https://vault-1.example.com:8200
    key_shares: "{{ unseal_keys[:3] }}"
  register: recovery
  no_log: true

- name: List the storage root with it
  ansible.builtin.uri:
    url: https://vault-1.example.com:8200/v1/sys/raw/?list=true
    headers:
      X-Vault-Token: "{{ recovery.token }}"
  no_log: true

- name: Abandon a recovery token attempt
  vaultops.dr.recovery_token:
    url: https://vault-1.example.com:8200
    state: canceled
"""

RETURN = r"""
started:
  description: Whether an attempt is running (or, after the completing share, was running).
  returned: always
  type: bool
nonce:
  description: The attempt's nonce; hand it to the next key holder.
  returned: always
  type: str
progress:
  description: How many key shares the attempt has counted.
  returned: always
  type: int
required:
  description: The threshold of key shares. 0 when no attempt is running.
  returned: always
  type: int
complete:
  description: Whether the threshold was reached in this run and the token was made.
  returned: always
  type: bool
otp_length:
  description: The OTP length the server wants (OpenBao 2.x answers 28, for C(hvr.) tokens).
  returned: always
  type: int
pgp_fingerprint:
  description: Lower-case hex fingerprint of the PGP key the attempt encrypts to; empty for an OTP attempt.
  returned: always
  type: str
encoded_token:
  description: The encoded (OTP) or encrypted (PGP) token, base64, when the attempt completed in this run. The only copy.
  returned: always
  type: str
token:
  description:
    - B(Secret.) The recovery token, decoded.
  returned: when the attempt completed in this run and the module knew its OTP, or decrypted it with O(gnupg_home)
  type: str
  sample: hvr.AbC...
otp:
  description:
    - B(Secret.) The OTP the module made when it started the attempt; needed to decode a token another run completes.
  returned: when the module made the OTP and the attempt is not complete
  type: str
shares_submitted:
  description: Key shares the server counted in this run.
  returned: when O(state=present)
  type: int
shares_already_provided:
  description: Key shares the server had already counted in this attempt.
  returned: when O(state=present)
  type: int
shares_unused:
  description: Key shares not sent because the attempt completed before them.
  returned: when O(state=present)
  type: int
shares_duplicated:
  description: Key shares dropped because the same share was given more than once.
  returned: when O(state=present) and shares were submitted
  type: int
vault_warnings:
  description: Warnings the server sent.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.vaultops.dr.plugins.module_utils._module import VaultModule  # noqa: E402
from ansible_collections.vaultops.dr.plugins.module_utils._token_generation import (  # noqa: E402
    CEREMONY_ARGSPEC,
    CEREMONY_REQUIRED_BY,
    RECOVERY_TOKEN,
    Ceremony,
)


def run(module):
    p = module.params
    ceremony = Ceremony(module.client, RECOVERY_TOKEN, check_mode=module.check_mode, warn=module.warn)
    if p["state"] == "canceled":
        return ceremony.cancel(nonce=p["nonce"])
    return ceremony.present(key_shares=p["key_shares"], otp=p["otp"], pgp_key=p["pgp_key"], nonce=p["nonce"],
                            gnupg_home=p["gnupg_home"], pgp_passphrase=p["pgp_passphrase"],
                            expected_pgp_fingerprint=p["expected_pgp_fingerprint"])


def main():
    argument_spec = dict(state=dict(type="str", default="present", choices=["present", "canceled"]))
    argument_spec.update(CEREMONY_ARGSPEC)
    module = VaultModule(
        argument_spec=argument_spec,
        required_by=CEREMONY_REQUIRED_BY,
        supports_check_mode=True,
    )
    module.run(run)


if __name__ == "__main__":
    main()
