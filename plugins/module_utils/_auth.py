# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authentication: token, approle, userpass, none. Logins happen lazily, on the first
request that needs a token, so a module run against a DR secondary (where no login is
possible) never attempts one.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

from typing import Dict, Optional

from ansible_collections.vaultops.dr.plugins.module_utils._client import VaultClient, VaultError

AUTH_METHODS = ("token", "approle", "userpass", "none")
DEFAULT_MOUNTS = {"approle": "approle", "userpass": "userpass"}


class AuthError(Exception):
    """Authentication could not be done with the options given."""


class Authenticator:
    """Turns the module's auth options into a token source for VaultClient."""

    def __init__(self, method: str = "token", token: Optional[str] = None, role_id: Optional[str] = None,
                 secret_id: Optional[str] = None, username: Optional[str] = None, password: Optional[str] = None,
                 mount_point: Optional[str] = None) -> None:
        if method not in AUTH_METHODS:
            raise AuthError("auth_method must be one of %s, got %r" % (", ".join(AUTH_METHODS), method))
        self.method = method
        self._token = token if method == "token" else None
        self.role_id = role_id
        self.secret_id = secret_id
        self.username = username
        self.password = password
        self.mount_point = (mount_point or DEFAULT_MOUNTS.get(method, "")).strip("/")
        self.client: Optional[VaultClient] = None
        self.logged_in = False

    def bind(self, client: VaultClient) -> VaultClient:
        self.client = client
        client.token_source = self.token
        return client

    def token(self, required: bool = True) -> Optional[str]:
        """Return a token; log in first when the method needs it and `required` is set."""
        if self._token or not required:
            return self._token
        if self.method == "none":
            raise AuthError("this request needs a Vault token, but auth_method is none: "
                            "set auth_method and its credentials")
        if self.method == "token":
            raise AuthError("this request needs a Vault token: set the token option or VAULT_TOKEN")
        self._token = self._login()
        self.logged_in = True
        return self._token

    def _login(self) -> str:
        if self.method == "approle":
            body: Dict[str, Optional[str]] = {"role_id": self.role_id}
            if self.secret_id:
                body["secret_id"] = self.secret_id
            path = "auth/%s/login" % self.mount_point
        else:
            body = {"password": self.password}
            path = "auth/%s/login/%s" % (self.mount_point, self.username)
        if self.client is None:
            raise AuthError("no client bound to log in with (an internal error: call bind() first)")
        try:
            resp = self.client.write(path, data=body, auth="none")
        except VaultError as err:
            if err.status in (400, 403):
                raise AuthError("%s login at %s was refused (%s): check %s and that the auth method is "
                                "mounted at %s" % (self.method, path, "; ".join(err.errors) or "HTTP %s" % err.status,
                                                   "role_id and secret_id" if self.method == "approle" else
                                                   "username and password", self.mount_point)) from None
            raise
        auth = (resp.body or {}).get("auth") or {}
        token = auth.get("client_token")
        if not token or not isinstance(token, str):
            raise AuthError("%s login at %s returned no client token" % (self.method, path))
        return token
