# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The key-share ceremony options shared by dr_operation_token and recovery_token.
    DOCUMENTATION = r"""
options:
  key_shares:
    description:
      - Unseal (or recovery) key shares, hex or base64, as many as this holder has. For a DR operation token
        these are the B(primary) cluster's shares; for a recovery token, the server's own.
      - Fewer than the threshold is fine; the attempt progresses and RV(complete) is false.
      - Never logged. Keep them in Ansible Vault, a C(vars_prompt), or an AWX survey password field.
      - Checked before any request; an item that is empty, holds whitespace, or is not hex or base64 fails
        the run, named by its position (never its value).
    type: list
    elements: str
  otp:
    description:
      - A one-time pad to encode the token with, a base62 string of the server's RV(otp_length) (Vault 1.0 and
        later) or base64 of 16 bytes (older servers, RV(otp_length=0)).
      - When starting an attempt without O(otp) or O(pgp_key), the module makes an OTP itself and returns it
        in RV(otp) while the attempt is not complete.
      - When joining a running attempt (O(nonce)), give the attempt's OTP here so the run that completes it
        can decode the token; without it that run returns only RV(encoded_token).
    type: str
  pgp_key:
    description:
      - Encrypt the token to this PGP public key instead of an OTP, as base64 of the binary key
        (C(gpg --export KEYID | base64 -w0)) or ASCII armour (C(gpg --armor --export KEYID)).
      - When an attempt is running, a run with the same key joins it even without O(nonce); another key fails.
      - The key must be able to encrypt. A sign-only key (no encryption subkey, or only revoked or expired ones)
        is refused before any request, since the server would fail only at the completing key share.
      - Not a secret, but handled as one (C(no_log)), so a private key pasted here by mistake is refused and never echoed.
    type: str
  expected_pgp_fingerprint:
    description:
      - The full fingerprint of the coordinator's PGP key, as this key holder learnt it from the coordinator
        (C(gpg --fingerprint KEY)); spaces, colons and case do not matter, a short key ID is refused.
      - When set, no key share is sent unless the attempt encrypts its token to exactly this key, as the server
        reports it (RV(pgp_fingerprint)). A running attempt encrypting to another key, or encoding with an OTP,
        fails naming both; with no attempt running, a run whose O(pgp_key) has another fingerprint (or that
        has no O(pgp_key)) fails before starting one.
      - Meant to come from the holder's own credential (AWX "Vault DR key share"), so that whoever can change
        the job template's O(pgp_key) or start an attempt first cannot have the holders' shares open a token
        encrypted to their own key.
      - Not a secret. An empty string counts as not given.
    type: str
    version_added: 1.1.0
  nonce:
    description:
      - The nonce of the running attempt to add O(key_shares) to (returned by the run that started it).
      - Required to add shares to a running attempt started with an OTP. A nonce that is not the running
        attempt's fails, and the message says which attempt is running.
      - An empty string counts as no nonce (an AWX survey question left empty).
      - With O(state=canceled), cancel only when this is the running attempt.
    type: str
  gnupg_home:
    description:
      - GnuPG home directory holding the private key of O(pgp_key), to decrypt the token on the host that runs
        the module (needs the python-gnupg library). Checked before any share is sent.
      - Without it a PGP-encrypted attempt returns RV(encoded_token) and RV(pgp_fingerprint); decrypt with
        C(echo ENCODED | base64 -d | gpg -dq).
    type: path
  pgp_passphrase:
    description:
      - Passphrase of the private key in O(gnupg_home).
    type: str
requirements:
  - python-gnupg (only for O(gnupg_home))
"""
