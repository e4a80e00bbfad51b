# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base class every module of vaultops.dr is built on: connection and auth options,
one client, and one place where every failure becomes fail_json with a useful message.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.vaultops.dr.plugins.module_utils._auth import AUTH_METHODS, AuthError, Authenticator
from ansible_collections.vaultops.dr.plugins.module_utils._client import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    VaultClient,
    VaultError,
)
# Re-exported: modules and older module_utils import the failure type from here.
from ansible_collections.vaultops.dr.plugins.module_utils._errors import ModuleFailure, dr_api_missing, explain  # noqa: F401
from ansible_collections.vaultops.dr.plugins.module_utils._dr_status import RECOVERY_MODE, in_recovery_mode
from ansible_collections.vaultops.dr.plugins.module_utils._inputs import check_inputs
from ansible_collections.vaultops.dr.plugins.module_utils._state import RunContext

CONNECTION_ARGSPEC = dict(
    url=dict(type="str", required=True, fallback=(env_fallback, ["VAULT_ADDR"])),
    ca_cert=dict(type="path", aliases=["cacert"], fallback=(env_fallback, ["VAULT_CACERT"])),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="int", default=30),
    retries=dict(type="int", default=3),
    namespace=dict(type="str", fallback=(env_fallback, ["VAULT_NAMESPACE"])),
    nodes=dict(type="list", elements="str", default=[]),
)

AUTH_ARGSPEC = dict(
    auth_method=dict(type="str", default="token", choices=list(AUTH_METHODS)),
    token=dict(type="str", no_log=True, fallback=(env_fallback, ["VAULT_TOKEN"])),
    role_id=dict(type="str"),
    secret_id=dict(type="str", no_log=True),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    mount_point=dict(type="str"),
)

AUTH_REQUIRED_IF = [
    ("auth_method", "approle", ["role_id"]),
    ("auth_method", "userpass", ["username", "password"]),
]

# Every module takes these, so one `module_defaults` for the group fits every module; a module with
# nothing to wait for accepts and ignores them (its docs say so).
WAIT_ARGSPEC = dict(
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=300),
)


class VaultModule(AnsibleModule):
    """AnsibleModule with the connection and auth options, a lazily built client, and
    `run()`, which turns every exception of this collection into one fail_json."""

    def __init__(self, argument_spec=None, required_if=None, **kwargs):
        spec = dict(CONNECTION_ARGSPEC)
        spec.update(AUTH_ARGSPEC)
        spec.update(WAIT_ARGSPEC)
        spec.update(argument_spec or {})
        super().__init__(
            argument_spec=spec,
            required_if=AUTH_REQUIRED_IF + list(required_if or []),
            **kwargs
        )
        if not HAS_REQUESTS:
            self.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        self._client = None
        self.authenticator = None

    @property
    def client(self):
        if self._client is None:
            p = self.params
            self.authenticator = Authenticator(
                method=p["auth_method"], token=p["token"], role_id=p["role_id"],
                secret_id=p["secret_id"], username=p["username"], password=p["password"],
                mount_point=p["mount_point"],
            )
            self._client = self.authenticator.bind(VaultClient(
                p["url"], ca_cert=p["ca_cert"], validate_certs=p["validate_certs"],
                timeout=p["timeout"], retries=p["retries"], namespace=p["namespace"], nodes=p["nodes"],
            ))
            self._warn_transport(p["url"])
        return self._client

    def _warn_transport(self, url):
        """Plaintext and unchecked TLS work, but never silently. The text depends only on the address, so
        Ansible (which shows each distinct warning once per run) says it once per cluster."""
        if url.lower().startswith("http://"):
            self.warn("%s is plain http://: the Vault token and every secret sent to it cross the network "
                      "unencrypted. Use the cluster's https:// address." % url)
        if not self.params["validate_certs"] and url.lower().startswith("https://"):
            self.warn("validate_certs=false for %s: its TLS certificate is not checked, so anyone in the network "
                      "path can pose as the cluster and receive the Vault token. Set ca_cert to the CA that signed "
                      "it instead." % url)

    def unauthenticated_client(self, url):
        """A client for another cluster's unauthenticated endpoints (status, seal-status), with this
        module's TLS, timeout and retry options."""
        p = self.params
        self._warn_transport(url)
        return VaultClient(url, ca_cert=p["ca_cert"], validate_certs=p["validate_certs"],
                           timeout=p["timeout"], retries=p["retries"], namespace=p["namespace"])

    def authenticated_client(self, url):
        """A client for another cluster that sends this module's token (given, or got by its login), with this
        module's TLS, timeout and retry options."""
        client = self.unauthenticated_client(url)
        client.token_source = self.client.token_source
        return client

    def context(self):
        """This run as plain values for the domain code (which never sees AnsibleModule)."""
        return RunContext(self.client, self.params, check_mode=self.check_mode, diff=self._diff,
                          warn=self.warn, client_for=self.unauthenticated_client,
                          authenticated_client_for=self.authenticated_client)

    @property
    def vault_warnings(self):
        return list(self._client.warnings) if self._client is not None else []

    def run(self, action):
        """Call `action(self)`, which returns the result dict; exit or fail exactly once."""
        try:
            check_inputs(self.params)
            result = action(self)
        except ModuleFailure as exc:
            self._fail(exc.msg, exc.result)
        except AuthError as exc:
            self._fail("Authentication to %s failed: %s" % (self.params["url"], exc), {})
        except VaultError as exc:
            msg = explain(exc)
            if dr_api_missing(exc) and self._client is not None and in_recovery_mode(self._client):
                msg = "%s. %s" % (exc, RECOVERY_MODE)
            self._fail(msg, {"http_status": exc.status, "vault_errors": exc.errors})
        except Exception as exc:  # noqa: BLE001 - last line of defence: report, never traceback secrets
            self._fail("Unexpected error: %s: %s" % (type(exc).__name__, exc), {}, traceback.format_exc())
        result.setdefault("changed", False)
        self._publish_warnings(result)
        self.exit_json(**result)

    def _publish_warnings(self, result):
        warnings = self.vault_warnings
        for warning in warnings:
            self.warn("Vault: %s" % warning)
        result["vault_warnings"] = warnings

    def _fail(self, msg, extra, trace=None):
        extra = dict(extra)
        self._publish_warnings(extra)
        if trace:
            extra["exception"] = trace
        self.fail_json(msg=msg, **extra)
