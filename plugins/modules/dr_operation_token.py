#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dr_operation_token
short_description: Generate a DR operation token from key shares on a DR secondary, cancel the attempt, or delete the token
version_added: 1.0.0
description:
  - Runs the key-share ceremony on a Vault Enterprise DR secondary
    (C(sys/replication/dr/secondary/generate-operation-token)) to make a DR operation token, the
    token that authorises promote, update-primary and disable on a secondary.
  - Several key holders can each run the module with only their own share. The first run starts an
    attempt and returns its RV(nonce); later runs pass O(nonce) and add their shares; the run that
    reaches the threshold returns the token. The attempt lives on the server, so the runs may be
    separate playbook runs or AWX jobs. See C(docs/ceremony.md) in the collection.
  - The shares are the B(primary's) unseal (or recovery) key shares; a DR secondary uses its primary's keys.
  - A key share is sent at most once per run (the same share given twice, also once in hex and once in
    base64, is sent once). A share Vault has already counted in this attempt (an earlier run, or another
    holder) is not an error; it is reported in RV(shares_already_provided) and with a warning. A share
    submission is never sent twice, not even when the server (or a proxy) answers 412, 429 or 503; when
    its answer was lost, the module reads the attempt back instead.
  - The module never cancels an attempt unless O(state=canceled). It adds shares only to the attempt
    named by O(nonce) (or started with the same O(pgp_key)); a run with another nonce fails and says
    which attempt is running.
  - Vault 2.0 and 1.19.17 or later require a Vault token on the generate-operation-token endpoints; on a
    DR secondary the primary's root token is accepted. The module sends O(token) when it is set and
    works without it on older servers.
  - 'B(Idempotence): a finished ceremony cannot be detected or repeated (Vault keeps no record of the token),
    so O(state=present) with O(key_shares) and no running attempt always starts a new attempt and makes a
    new token. Without O(key_shares), O(otp) or O(pgp_key) and with no attempt running there is nothing to
    do (no change). Re-running a holder''s step with the same O(nonce) and share reports no change.'
  - O(state=absent) deletes a DR operation token with C(operation-token/delete); on a cluster that is no
    longer a DR secondary (after promotion) it revokes it as an ordinary token with C(auth/token/revoke-self).
    A token that is already invalid is no change.
  - O(state=canceled) cancels the running attempt (and discards its progress); none running is no change.
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
      - Check mode never starts an attempt, submits a key share, cancels or deletes anything; it reads the
        attempt and reports what would change.
      - On a DR secondary the validity of a DR operation token cannot be read without using it, so
        O(state=absent) in check mode predicts a change there.
  idempotent:
    support: partial
    details:
      - O(state=present) with O(key_shares) and no attempt running makes a new token each time (see the description).
options:
  state:
    description:
      - V(present) starts or continues an attempt and returns the token when it completes.
      - V(canceled) cancels the running attempt.
      - V(absent) deletes (or revokes) O(dr_operation_token).
    type: str
    choices: [present, canceled, absent]
    default: present
  dr_operation_token:
    description:
      - The DR operation token to delete, for O(state=absent).
    type: str
seealso:
  - module: vaultops.dr.recovery_token
  - module: vaultops.dr.dr_secondary
  - plugin: vaultops.dr.decode_token
    plugin_type: filter
notes:
  - The server keeps one in-progress slot shared by root, DR operation and recovery token generation.
  - The DR operation token has no TTL. Delete it with O(state=absent) as soon as the operation is done.
"""

EXAMPLES = r"""
- name: One operator with three shares makes the token in one run
  vaultops.dr.dr_operation_token:
    url: https://vault-dr.example.com:8200
    token: "{{ primary_root_token }}"   # needed by Vault 2.0+ / 1.19.17+
    key_shares: "{{ primary_unseal_keys[:3] }}"
  register: optoken
  no_log: true

- name: Promote the secondary with it
  vaultops.dr.dr_secondary:
    url: https://vault-dr.example.com:8200
    state: promoted
    dr_operation_token: "{{ optoken.token }}"

- name: First key holder starts the attempt with the coordinator's PGP key
  vaultops.dr.dr_operation_token:
    url: https://vault-dr.example.com:8200
    pgp_key: "{{ lookup('ansible.builtin.file', 'coordinator.asc') }}"
    key_shares: ["{{ my_share }}"]
  register: first
  no_log: true  # the result holds the encoded token if this share completes the attempt

- name: Later key holders add their share to that attempt
  vaultops.dr.dr_operation_token:
    url: https://vault-dr.example.com:8200
    nonce: "{{ first.nonce }}"
    key_shares: ["{{ my_share }}"]
    gnupg_home: /home/coordinator/.gnupg   # on the last run: decrypt here
    pgp_passphrase: "{{ coordinator_passphrase }}"
  register: last
  no_log: true  # the result holds the decrypted token

- name: Abandon the running attempt
  vaultops.dr.dr_operation_token:
    url: https://vault-dr.example.com:8200
    state: canceled

- name: Dispose of the token when done (deletes it, or revokes it after promotion)
  vaultops.dr.dr_operation_token:
    url: https://vault-dr.example.com:8200
    state: absent
    dr_operation_token: "{{ optoken.token }}"
"""

RETURN = r"""
started:
  description: Whether an attempt is running (or, after the completing share, was running).
  returned: always
  type: bool
nonce:
  description: The attempt's nonce; hand it to the next key holder. Empty when no attempt is running.
  returned: always
  type: str
  sample: 2dbd10f1-8528-6246-09e7-82b25b8aba63
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
  description: The OTP length the server wants; 0 means the pre-1.0 scheme (base64 of 16 bytes).
  returned: always
  type: int
pgp_fingerprint:
  description: Lower-case hex fingerprint of the PGP key the attempt encrypts to; empty for an OTP attempt.
  returned: always
  type: str
encoded_token:
  description:
    - The token, XOR-encoded with the OTP (base64) or PGP-encrypted (base64), when the attempt completed in this run.
    - It is the only copy; decode it with the P(vaultops.dr.decode_token#filter) filter or C(gpg -d) when RV(token) is missing.
  returned: always
  type: str
token:
  description:
    - B(Secret.) The DR operation token, decoded.
  returned: when the attempt completed in this run and the module knew its OTP, or decrypted it with O(gnupg_home)
  type: str
  sample: hvs.CAESIJ...
otp:
  description:
    - B(Secret.) The OTP the module made when it started the attempt. Needed to decode the token of a ceremony
      that another run completes (pass it as O(otp) to that run, or to the filter).
  returned: when the module made the OTP and the attempt is not complete
  type: str
shares_submitted:
  description: Key shares Vault counted in this run.
  returned: when O(state=present)
  type: int
shares_already_provided:
  description: Key shares Vault had already counted in this attempt, so not counted again.
  returned: when O(state=present)
  type: int
shares_unused:
  description: Key shares not sent because the attempt completed before them.
  returned: when O(state=present)
  type: int
shares_duplicated:
  description: Key shares dropped because the same share was given more than once in this run.
  returned: when O(state=present) and shares were submitted
  type: int
disposal:
  description: What O(state=absent) did or would do.
  returned: when O(state=absent)
  type: str
status:
  description: The cluster's DR status summary (read at the start of the run; the ceremony does not change it).
  returned: always
  type: dict
  contains:
    mode:
      description: V(primary), V(secondary), V(disabled), V(bootstrapping) or V(unknown).
      type: str
    state:
      description: Vault's replication state.
      type: str
    healthy:
      description: Whether the replication looks healthy.
      type: bool
    cluster_id:
      description: The replication cluster id.
      type: str
    known_secondaries:
      description: Secondary ids a primary knows.
      type: list
      elements: str
    secondaries:
      description: A primary's secondaries as Vault lists them.
      type: list
      elements: dict
    raw:
      description: The status as Vault answered.
      type: dict
vault_warnings:
  description: Warnings Vault sent.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.vaultops.dr.plugins.module_utils._client import VaultError  # noqa: E402
from ansible_collections.vaultops.dr.plugins.module_utils._errors import ModuleFailure  # noqa: E402
from ansible_collections.vaultops.dr.plugins.module_utils._module import VaultModule  # noqa: E402
from ansible_collections.vaultops.dr.plugins.module_utils._replication import read_status  # noqa: E402
from ansible_collections.vaultops.dr.plugins.module_utils._token_generation import (  # noqa: E402
    CEREMONY_ARGSPEC,
    CEREMONY_REQUIRED_BY,
    DR_OPERATION_TOKEN,
    Ceremony,
    dispose_operation_token,
)


def run(module):
    try:
        status = read_status(module.client)
    except VaultError as err:
        if err.status == 404 and in_recovery_mode(module.client):
            raise ModuleFailure(
                "This server runs in recovery mode (server -recovery): it serves only sys/generate-recovery-token "
                "and sys/raw, so no DR operation token can be made, canceled or deleted here (%s). Make a recovery "
                "token with vaultops.dr.recovery_token, or restart the server without -recovery. Nothing was "
                "changed." % err) from None
        raise
    try:
        result = act(module, status)
    except ModuleFailure as exc:
        exc.result.setdefault("status", status)
        raise
    result["status"] = status
    return result


def in_recovery_mode(client):
    """A server that answers 404 to the DR status but serves the recovery-token attempt."""
    try:
        client.read("sys/generate-recovery-token/attempt", auth="none")
    except VaultError:
        return False
    return True


def own_token(client):
    """The token this module authenticates with, when it has one without logging in."""
    source = client.token_source
    return source(required=False) if source is not None else None


def act(module, status):
    p = module.params
    if p["state"] == "absent":
        changed, how = dispose_operation_token(module.client, p["dr_operation_token"], status, module.check_mode,
                                               own_token=own_token(module.client))
        return {"changed": changed, "disposal": how,
                "diff": {"before": {"dr_operation_token": "valid" if changed else "invalid"},
                         "after": {"dr_operation_token": "invalid"}}}
    ceremony = Ceremony(module.client, DR_OPERATION_TOKEN, check_mode=module.check_mode, warn=module.warn)
    if p["state"] == "canceled":
        if status["mode"] in ("primary", "disabled"):
            return ceremony.idle()  # not a DR secondary: no DR operation token attempt can run here
        return ceremony.cancel(nonce=p["nonce"])
    if status["mode"] != "secondary":
        raise ModuleFailure(
            "DR operation tokens are generated on a DR secondary, but this cluster's DR mode is %s (state %s). "
            "Run against the DR secondary; on a primary use an ordinary token with a policy instead."
            % (status["mode"], status["state"] or "-"))
    return ceremony.present(key_shares=p["key_shares"], otp=p["otp"], pgp_key=p["pgp_key"], nonce=p["nonce"],
                            gnupg_home=p["gnupg_home"], pgp_passphrase=p["pgp_passphrase"],
                            expected_pgp_fingerprint=p["expected_pgp_fingerprint"])


def main():
    argument_spec = dict(
        state=dict(type="str", default="present", choices=["present", "canceled", "absent"]),
        dr_operation_token=dict(type="str", no_log=True),
    )
    argument_spec.update(CEREMONY_ARGSPEC)
    module = VaultModule(
        argument_spec=argument_spec,
        required_if=[("state", "absent", ["dr_operation_token"])],
        required_by=CEREMONY_REQUIRED_BY,
        supports_check_mode=True,
    )
    module.run(run)


if __name__ == "__main__":
    main()
