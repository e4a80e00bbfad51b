# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: decode_token
short_description: Decode an OTP-encoded root, DR operation or recovery token
version_added: 1.0.0
description:
  - Decodes the RV(vaultops.dr.dr_operation_token#module:encoded_token) of a finished key-share ceremony
    with the attempt's one-time pad, without the Vault CLI or hand-written XOR.
  - Both OTP generations are understood, told apart by the OTP itself. A base62 OTP (Vault 1.0 and later,
    26 characters for C(s.) tokens, 28 for C(hvs.) and C(hvr.) tokens) gives the token string. A legacy OTP
    (base64 of 16 bytes, servers before 1.0) gives a UUID.
  - A PGP-encrypted token cannot be decoded with an OTP; decrypt it with C(echo ENCODED | base64 -d | gpg -dq).
  - Fails when the OTP does not fit the encoded token (wrong length, or decoding gives non-printable bytes).
options:
  _input:
    description: The encoded token (base64, padding optional) as the server returned it.
    type: str
    required: true
  otp:
    description: The OTP the attempt was started with.
    type: str
    required: true
seealso:
  - module: vaultops.dr.dr_operation_token
  - module: vaultops.dr.recovery_token
author:
  - vaultops.dr contributors (@vaultops)
"""

EXAMPLES = r"""
- name: Decode the token a later key holder's run returned
  ansible.builtin.set_fact:
    dr_op_token: "{{ last_run.encoded_token | vaultops.dr.decode_token(first_run.otp) }}"
  no_log: true

- name: A legacy (pre-1.0) encoded token and 16-byte OTP give a UUID
  ansible.builtin.debug:
    msg: "{{ 'FPzkNBvwNDeFh4SmGA8c+w==' | vaultops.dr.decode_token('J2CsvN2RQoY+Ub1J9oDchQ==') }}"
"""

RETURN = r"""
_value:
  description: The decoded token (for example V(hvs.CAES...) or V(s.Xk2...)), or a UUID for the legacy scheme. A secret.
  type: str
"""

from ansible.errors import AnsibleFilterError  # noqa: E402

from typing import Callable, Dict  # noqa: E402

# _otp alone: standard library only, so the controller loads no AnsibleModule, requests or gnupg.
from ansible_collections.vaultops.dr.plugins.module_utils._otp import (  # noqa: E402
    TokenGenerationError,
    decode_token as _decode,
)


def decode_token(encoded_token: object, otp: object) -> str:
    """`encoded_token | vaultops.dr.decode_token(otp)`."""
    try:
        return _decode(encoded_token, otp)
    except TokenGenerationError as exc:
        raise AnsibleFilterError("vaultops.dr.decode_token: %s" % exc) from None


class FilterModule:
    def filters(self) -> Dict[str, Callable[[object, object], str]]:
        return {"decode_token": decode_token}
