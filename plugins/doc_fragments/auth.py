# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  auth_method:
    description:
      - How to get the Vault token sent with authenticated requests.
      - V(token) uses O(token). V(approle) and V(userpass) log in at O(mount_point) the first time
        a request needs a token; modules that only call unauthenticated endpoints never log in,
        so they also work against DR secondaries, where no login is possible.
      - V(none) sends no token.
    type: str
    default: token
    choices: [token, approle, userpass, none]
  token:
    description:
      - The Vault token. Falls back to the E(VAULT_TOKEN) environment variable.
      - This is always the authentication token; activation tokens and DR operation tokens have options of their own.
    type: str
  role_id:
    description:
      - AppRole role ID, for O(auth_method=approle).
    type: str
  secret_id:
    description:
      - AppRole secret ID, for O(auth_method=approle).
    type: str
  username:
    description:
      - User name, for O(auth_method=userpass).
    type: str
  password:
    description:
      - Password, for O(auth_method=userpass).
    type: str
  mount_point:
    description:
      - Where the auth method is mounted. Defaults to V(approle) or V(userpass).
    type: str
"""
