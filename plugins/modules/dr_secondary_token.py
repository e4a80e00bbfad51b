#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dr_secondary_token
short_description: Issue or revoke a DR secondary activation token on a Vault DR primary
version_added: 1.0.0
description:
  - Runs against the DR primary. With O(state=present) it issues an activation token for a DR secondary
    identified by O(id), which M(vaultops.dr.dr_secondary) then uses to enable the secondary or to point it at
    this primary. With O(state=absent) it revokes the secondary's access.
  - Decides from the primary's C(known_secondaries). An id is known as soon as a token was issued for it,
    whether or not the secondary ever connected; so a known id means "token issued", not "connected"
    (use M(vaultops.dr.dr_status) with O(vaultops.dr.dr_status#module:expect_secondaries) for that).
  - The token is issued once. A second run for a known id reports no change and returns no token; use
    O(force=true) to revoke the id and issue a new token, for example when the first one expired unused.
author:
  - vaultops.dr contributors (@vaultops)
options:
  id:
    description:
      - The secondary's id, unique among the primary's secondaries, for example V(dc2). It can later be
        used to revoke that secondary.
    type: str
    required: true
  state:
    description:
      - V(present) issues a token unless O(id) is already known.
      - V(absent) revokes O(id) when it is known; the secondary is disconnected at once and can only
        connect again with a new token.
    type: str
    choices: [present, absent]
    default: present
  ttl:
    description:
      - How long the activation token stays valid, as a Vault duration (V(30m), V(1h)).
    type: str
    default: 30m
  secondary_public_key:
    description:
      - The secondary's public key (from C(sys/replication/dr/secondary/generate-public-key) on the secondary)
        for the public-key activation flow. The token is then encrypted for the secondary and not wrapped.
    type: str
  force:
    description:
      - With O(state=present), revoke O(id) first when it is known, then issue a new token. Reports a change
        every time.
    type: bool
    default: false
  allow_cut_off:
    description:
      - With O(force=true), the module refuses, before any write, to revoke and re-issue the token of an O(id) that
        the primary shows connected (C(secondaries[].connection_status)), since that would cut off a working secondary.
      - Set V(true) when cutting it off is meant, for example to redo its activation.
    type: bool
    default: false
  wait:
    description:
      - After revoking O(id) (O(state=absent)), wait until the primary's status no longer lists it.
      - Issuing needs no wait; the token in hand proves it.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait when O(wait=true) before failing.
    type: int
    default: 300
extends_documentation_fragment:
  - vaultops.dr.connection
  - vaultops.dr.auth
  - vaultops.dr.attributes
  - vaultops.dr.attributes.STATE_MODULE
attributes:
  diff_mode:
    details: The diff shows whether O(id) is known to the primary before and after.
  idempotent:
    support: partial
    details: Except with O(force=true), which revokes and re-issues the token on every run.
notes:
  - Vault requires a token with C(sudo) capability on C(sys/replication/dr/primary/secondary-token).
  - The activation token is a secret and single-use. Register the result with C(no_log=true) on the task
    when output could be seen by others, and pass RV(token) straight to M(vaultops.dr.dr_secondary).
seealso:
  - module: vaultops.dr.dr_secondary
  - module: vaultops.dr.dr_primary
  - name: Vault DR replication API
    description: The C(secondary-token) and C(revoke-secondary) endpoints.
    link: https://developer.hashicorp.com/vault/api-docs/system/replication/replication-dr
"""

EXAMPLES = r"""
- name: Issue an activation token for secondary dc2 on the primary
  vaultops.dr.dr_secondary_token:
    url: https://vault-a.example.com:8200
    token: "{{ vault_admin_token }}"
    id: dc2
    ttl: 15m
  register: dc2_token
  no_log: true

- name: Enable dc2 as a DR secondary with it (only when a token was issued)
  vaultops.dr.dr_secondary:
    url: https://vault-b.example.com:8200
    token: "{{ vault_b_admin_token }}"
    state: enabled
    activation_token: "{{ dc2_token.token }}"
  when: dc2_token.token is defined

- name: The token expired unused - issue a fresh one
  vaultops.dr.dr_secondary_token:
    url: https://vault-a.example.com:8200
    token: "{{ vault_admin_token }}"
    id: dc2
    force: true
  register: dc2_token
  no_log: true

- name: Public-key flow - the secondary makes a key pair (unauthenticated, on the secondary)
  ansible.builtin.uri:
    url: https://vault-b.example.com:8200/v1/sys/replication/dr/secondary/generate-public-key
    method: POST
    ca_path: /etc/vault/ca.pem
  register: dc2_key

- name: Public-key flow - issue a token encrypted for that key (not wrapped)
  vaultops.dr.dr_secondary_token:
    url: https://vault-a.example.com:8200
    token: "{{ vault_admin_token }}"
    id: dc2
    secondary_public_key: "{{ dc2_key.json.data.secondary_public_key }}"
  register: dc2_token
  no_log: true

- name: Revoke secondary dc3
  vaultops.dr.dr_secondary_token:
    url: https://vault-a.example.com:8200
    token: "{{ vault_admin_token }}"
    id: dc3
    state: absent
"""

RETURN = r"""
token:
  description:
    - The activation token; a secret. C(wrap_info.token) of Vault's wrapped answer, or C(data.token) in the
      public-key flow.
    - Only returned when a token was issued in this run (never in check mode, never for a known id without O(force)).
  returned: when issued
  type: str
  sample: hvs.CAESIJ...
ttl:
  description: The token's TTL in seconds, as Vault answered it.
  returned: when issued
  type: int
  sample: 1800
creation_time:
  description: When Vault created the token.
  returned: when issued
  type: str
  sample: "2026-11-22T19:05:12.120384+00:00"
id:
  description: The secondary id.
  returned: success
  type: str
  sample: dc2
status:
  description:
    - The primary's DR status after the module ran (in check mode, the status read before).
    - The summary that M(vaultops.dr.dr_status) returns as RV(vaultops.dr.dr_status#module:status).
  returned: success
  type: dict
vault_warnings:
  description: Warnings Vault sent with its answers.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible_collections.vaultops.dr.plugins.module_utils._module import VaultModule  # noqa: E402
from ansible_collections.vaultops.dr.plugins.module_utils._secondary_token_state import SPEC  # noqa: E402

ARGSPEC = dict(
    id=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    ttl=dict(type="str", default="30m"),
    secondary_public_key=dict(type="str"),
    force=dict(type="bool", default=False),
    allow_cut_off=dict(type="bool", default=False),
)


def main():
    module = VaultModule(argument_spec=ARGSPEC, supports_check_mode=True)
    module.run(lambda m: SPEC.run(m.context()))


if __name__ == "__main__":
    main()
