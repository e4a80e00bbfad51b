# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decided failure type and the sentences that explain Vault's refusals.

No Ansible imports here (only `_client`'s exception types, which have none either), so domain
code and its tests can raise and explain failures without an AnsibleModule.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

from typing import Any, Optional

from ansible_collections.vaultops.dr.plugins.module_utils._client import (
    VaultAnswerLost,
    VaultConnectionError,
    VaultError,
)


class ModuleFailure(Exception):
    """A decided failure: `msg` says what was asked, what the cluster said and what to do."""

    def __init__(self, msg: str, **result: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = result


# What TLS failures look like in the client's reason text (OpenSSL's words), and what to do.
_TLS_HINTS = (
    # Before the CA rule: OpenSSL reports a name mismatch as "certificate verify failed: Hostname mismatch" too.
    (("hostname mismatch", "address mismatch", "doesn't match", "does not match"),
     "The server's certificate does not name the host in url: use the name the certificate was issued for."),
    (("certificate_verify_failed", "certificate verify failed"),
     "The server's certificate is not signed by a CA this controller trusts: set ca_cert to the CA certificate "
     "(file or directory) that signed it, or validate_certs=false for a lab only."),
    (("wrong_version_number", "wrong version number", "record layer failure", "packet length too long",
      "unknown protocol", "http_request"),
     "The url says https:// but the server does not speak TLS there: point url at the server's TLS listener "
     "(its https:// port; a Vault token must not cross the network in plaintext)."),
)


def _tls_hint(err: VaultError) -> Optional[str]:
    reason = (err.reason or "").lower()
    if "ssl" not in reason and "tls" not in reason:
        return None
    for needles, hint in _TLS_HINTS:
        if any(n in reason for n in needles):
            return hint
    return "The TLS handshake failed: check that url uses the right scheme and port, and ca_cert/validate_certs."


def dr_api_missing(err: VaultError) -> bool:
    """A DR endpoint answered 403/404: Vault Enterprise serves sys/replication/dr/status unauthenticated,
    so a 403 or 404 there means the server has no DR API (OpenBao, community Vault) or is in recovery mode."""
    return (err.status in (403, 404) and (err.path or "").startswith("sys/replication/dr/status")) or (
        err.status == 404 and err.has_error("unsupported path") and (err.path or "").startswith("sys/replication/"))


NO_DR_API = ("The server does not serve the DR replication API (sys/replication/dr/*): DR replication needs Vault "
             "Enterprise, and OpenBao or Vault community edition answer 403/404 there. Point url at a Vault Enterprise "
             "cluster's active node.")


def explain(err: VaultError) -> str:
    """A VaultError as a sentence that ends with what the operator can do about it."""
    text = str(err).rstrip(".")  # Vault's own text may end with a full stop; ours follows
    if isinstance(err, VaultAnswerLost):
        return (text + ". The request may or may not have taken effect: read the cluster's DR status "
                "(vaultops.dr.dr_status) before trying again.")
    if isinstance(err, VaultConnectionError):
        hint = _tls_hint(err)
        if hint:
            return text + ". " + hint
        if (err.url or "").lower().startswith("http://") and any(
                n in (err.reason or "") for n in ("RemoteDisconnected", "BadStatusLine", "Connection aborted")):
            # A TLS server that is not Go's (which answers 400) just drops a plain-HTTP request.
            return (text + ". The server closed the connection without an HTTP answer: if it speaks TLS there, "
                    "use https:// (and ca_cert).")
        return text + ". Check url, ca_cert/validate_certs and that the cluster is up and reachable."
    if err.status == 400 and err.has_error("http request to an https server"):
        return text + ". The url says http:// but the server speaks TLS: use https:// (and ca_cert)."
    if err.has_error("path disabled in replication DR secondary mode"):
        return (text + ". This cluster is a DR secondary: it serves only the DR secondary endpoints, "
                "which authenticate with a DR operation token.")
    if err.status == 503 and err.has_error("sealed"):
        return text + ". Unseal the cluster, then run again."
    if dr_api_missing(err):
        return text + ". " + NO_DR_API
    if err.has_error("wrapping token is not valid or does not exist"):
        return (text + ". The activation token is spent, expired or was revoked (it is single-use): issue a new one "
                "on the primary with vaultops.dr.dr_secondary_token force=true and run again with it.")
    if err.has_error("unwrapping secondary token"):  # Vault: "error response unwrapping …"
        return (text + ". This cluster could not reach the primary to unwrap the activation token: check that it can "
                "reach primary_api_addr and trusts its certificate (ca_file/ca_path), then run again.")
    if err.status == 403:
        return text + ". The token is invalid, expired, or its policy does not allow this path."
    if err.status == 404 and err.has_error("unsupported path"):
        return text + ". The server does not serve this endpoint: DR replication needs Vault Enterprise."
    if err.status in (412, 429, 503):
        return text + ". The cluster is busy or catching up: raise retries, or wait and run again."
    return text if text.endswith(".") else text + "."


def activation_token_refused(err: VaultError) -> bool:
    """The refusal is about the activation token (spent/expired) or reaching the primary, not the op token."""
    return err.has_error("wrapping token is not valid or does not exist") or err.has_error(
        "unwrapping secondary token")
