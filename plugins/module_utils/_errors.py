# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decided failure type and the sentences that explain Vault's refusals.

No Ansible imports here (only `_client`'s exception types, which have none either), so domain
code and its tests can raise and explain failures without an AnsibleModule.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

from ansible_collections.vaultops.dr.plugins.module_utils._client import (
    VaultAnswerLost,
    VaultConnectionError,
)


class ModuleFailure(Exception):
    """A decided failure: `msg` says what was asked, what the cluster said and what to do."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.msg = msg
        self.result = result


def explain(err):
    """A VaultError as a sentence that ends with what the operator can do about it."""
    text = str(err)
    if isinstance(err, VaultAnswerLost):
        return (text + ". The request may or may not have taken effect: read the cluster's DR status "
                "(vaultops.dr.dr_status) before trying again.")
    if isinstance(err, VaultConnectionError):
        return text + ". Check url, ca_cert/validate_certs and that the cluster is up and reachable."
    if err.has_error("path disabled in replication DR secondary mode"):
        return (text + ". This cluster is a DR secondary: it serves only the DR secondary endpoints, "
                "which authenticate with a DR operation token.")
    if err.status == 503 and err.has_error("sealed"):
        return text + ". Unseal the cluster, then run again."
    if err.status == 403:
        return text + ". The token is invalid, expired, or its policy does not allow this path."
    if err.status == 404 and err.has_error("unsupported path"):
        return text + ". The server does not serve this endpoint: DR replication needs Vault Enterprise."
    if err.status in (412, 429, 503):
        return text + ". The cluster is busy or catching up: raise retries, or wait and run again."
    return text if text.endswith(".") else text + "."
