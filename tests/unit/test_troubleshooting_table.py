"""Bad input and wrong states, each run through a module's main() against recorded Vault answers; the
results are the table in docs/troubleshooting.md (between the bad-input-table markers).

Every case must fail with a message that names the cause (its `expect` excerpt), never `Unexpected error` or a
traceback, never echo a secret it was given, and send no write the server accepted. The table is rendered
from what the modules actually said; `test_the_documented_table_is_what_the_modules_say` fails when the doc
differs, and `make troubleshooting-table` writes it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional
from unittest import mock

import pytest
import requests
import responses
from ceremony_fakes import FakeCeremonyServer, new_shares
from conftest import BASE_ARGS, fixture, gpg_batch, run_module

from ansible_collections.vaultops.dr.plugins.module_utils import _token_generation as tg
from ansible_collections.vaultops.dr.plugins.modules import (
    dr_batch_token,
    dr_operation_token,
    dr_primary,
    dr_secondary,
    dr_secondary_token,
    dr_status,
    recovery_token,
)

pytestmark = pytest.mark.usefixtures("fake_time")

DOC = Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md"
BEGIN, END = "<!-- bad-input-table:begin -->", "<!-- bad-input-table:end -->"

V = BASE_ARGS["url"] + "/v1/"
STATUS = V + "sys/replication/dr/status"
SEAL_STATUS = V + "sys/seal-status"
OLD_PRIMARY_STATUS = "https://10.0.1.11:8200/v1/sys/replication/dr/status"  # primaries[0] of status_secondary
OP_TOKEN_ATTEMPT = V + "sys/replication/dr/secondary/generate-operation-token/attempt"

# Secret-looking values the cases hand to the modules; none may appear in any result.
TOKEN_LIKE = "hvs.CAESIJustSomeSecretTokenValue000000000001"
ACTIVATION = "hvs.CAESIFwrappedActivationTokenSecretValue0000001"
OP_TOKEN = "hvb.AAAAAQOperationTokenSecretValue00000002"
PRIVATE_KEY = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQdGBGVsecretsecret\n-----END PGP PRIVATE KEY BLOCK-----"
SHARES = new_shares()
SHARE_HEX = [s.hex() for s in SHARES]
SECRETS = (BASE_ARGS["token"], TOKEN_LIKE, ACTIVATION, OP_TOKEN, "secretsecret", *SHARE_HEX)
SECRET_OPTIONS = ("token", "activation_token", "dr_operation_token", "key_shares", "otp", "pgp_passphrase")

GROUPS = {
    "options": "Options, checked before any request",
    "server": "Connection, TLS, and what kind of server answers",
    "state": "Wrong states and guards (read first, refused before any write)",
    "ceremony": "The key-share ceremony",
}


@dataclass(frozen=True)
class Case:
    group: str
    module: object
    cause: str
    args: dict
    expect: str  # an excerpt the message must hold
    fix: str
    answers: Optional[Callable] = None  # (vault, keys) -> None: queue the server's recorded answers
    tolerated_writes: int = 0  # writes the server refused, or the ones the run is for (accepted_writes)
    accepted_writes: bool = False  # the writes did what was asked; what failed came after (a wait)
    outcome: str = "refused"  # or "warning": the run goes on, and says what it did about the input


def _status(*names):
    def queue(vault, _keys):
        for name in names:
            vault.add(responses.GET, STATUS, json=fixture(name))
    return queue


def _answers(*items):
    """Queue (method, url, kwargs) answers in order."""
    def queue(vault, _keys):
        for method, url, kwargs in items:
            vault.add(method, url, **kwargs)
    return queue


def _write_refused(status_fixture, path, status, body):
    """The cluster's recorded status, then its refusal of the write to `path`."""
    return _answers(("GET", STATUS, {"json": fixture(status_fixture)}),
                    ("POST", V + path, {"status": status, "json": body}))


SPENT_ACTIVATION = {"errors": ["wrapping token is not valid or does not exist"]}


def _ceremony(start=None, status_fixture="optoken_status_secondary", **server_kw):
    """A DR secondary and the fake ceremony server; `start` puts it in a running attempt first."""
    def queue(vault, keys):
        vault.add(responses.GET, STATUS, json=fixture(status_fixture))
        server = FakeCeremonyServer(vault, "sys/replication/dr/secondary/generate-operation-token", token=OP_TOKEN,
                                    shares=SHARES, **server_kw)
        if start:
            start(server, keys)
    return queue


def _sign_only_key(vault, keys):
    vault.add(responses.GET, STATUS, json=fixture("optoken_status_secondary"))
    vault.add(responses.GET, OP_TOKEN_ATTEMPT, json=fixture("optoken_attempt_idle"))


ENABLE = {"state": "enabled", "activation_token": ACTIVATION}
PROMOTE = {"state": "promoted", "dr_operation_token": OP_TOKEN}
UPDATE = {"state": "primary_updated", "dr_operation_token": OP_TOKEN, "activation_token": ACTIVATION}

CASES = {
    # -- options -----------------------------------------------------------------------------------
    "timeout out of range": Case(
        "options", dr_primary, "`timeout` outside 1-3600 (also `retries` 0-20, `wait_timeout` 0-86400)",
        {"state": "enabled", "timeout": 0}, "timeout must be between 1 and 3600", "a value in the range named"),
    "retries out of range": Case(
        "options", dr_status, "`retries` negative", {"retries": -1}, "retries must be between 0 and 20",
        "a value in the range named"),
    "wait_interval out of range": Case(
        "options", dr_status, "`wait_interval` 0", {"wait_interval": 0}, "wait_interval must be between 1",
        "a value in the range named"),
    "max_wal_lag negative": Case(
        "options", dr_status, "`max_wal_lag` negative", {"max_wal_lag": -1}, "max_wal_lag must be between 0",
        "0 (caught up exactly) or the WAL entries you accept"),
    "ttl not a duration": Case(
        "options", dr_secondary_token, "`ttl` not a Vault duration", {"id": "dc2", "ttl": "forever"},
        "ttl must be a Vault duration", "`30m`, `168h`, `1h30m` or seconds"),
    "batch ttl not above min_ttl": Case(
        "options", dr_batch_token, "`ttl` not longer than `min_ttl`", {"ttl": "1h", "min_ttl": "2h"},
        "must be longer than min_ttl", "raise `ttl` (the batch_token role: `batch_token_ttl`)"),
    "ca_cert missing": Case(
        "options", dr_status, "`ca_cert` is not a file or directory on the controller",
        {"ca_cert": "/nonexistent/vault-ca.pem"}, "does not exist on the controller",
        "the CA file (or a directory of them) on the controller, or unset it"),
    "gnupg_home missing": Case(
        "options", dr_operation_token, "`gnupg_home` is not a directory",
        {"key_shares": SHARE_HEX[:1], "gnupg_home": "/nonexistent/gnupg"}, "gnupg_home",
        "the GnuPG home holding the coordinator's private key", answers=_ceremony()),
    "url without scheme": Case(
        "options", dr_status, "an address without scheme", {"url": "vault.example.com:8200"},
        "url must be an address like https://", "`https://host:port`"),
    "token as url": Case(
        "options", dr_status, "a token pasted as the address", {"url": TOKEN_LIKE}, "url holds what looks like a token",
        "the token goes in `token`; rotate it if it was logged elsewhere"),
    "token as primary_api_addr": Case(
        "options", dr_secondary, "a token in an address option (`primary_api_addr`, `primary_cluster_addr`)",
        dict(ENABLE, primary_api_addr=TOKEN_LIKE), "primary_api_addr holds what looks like a token",
        "the address there; the token in `activation_token`"),
    "update_primary_addrs item": Case(
        "options", dr_secondary, "a list item that is not an address (`update_primary_addrs[i]`)",
        dict(PROMOTE, state="primary_updated", update_primary_addrs=["https://b:8201", TOKEN_LIKE]),
        "update_primary_addrs[1] holds", "cluster addresses only, one per item"),
    "update_primary_addrs empty": Case(
        "options", dr_secondary, "`update_primary_addrs: []`",
        dict(PROMOTE, state="primary_updated", update_primary_addrs=[]), "update_primary_addrs is an empty list",
        "the new primary's cluster addresses, or `activation_token`"),
    "activation and addrs": Case(
        "options", dr_secondary, "`activation_token` with `update_primary_addrs`",
        dict(UPDATE, update_primary_addrs=["https://b:8201"]), "mutually exclusive", "one of them"),
    "secondary id": Case(
        "options", dr_secondary_token, "a secondary id with a space", {"id": "dc 2"}, "must be a DR secondary id",
        "the secondary's id: letters, digits and `. _ : @ -`"),
    "token as secondary id": Case(
        "options", dr_secondary_token, "a token pasted as the secondary id", {"id": TOKEN_LIKE},
        "looks like a Vault token", "the secondary's id (its inventory name)"),
    "expect_secondaries item": Case(
        "options", dr_status, "a bad item in `expect_secondaries`", {"expect_secondaries": ["dc2", "bad id"]},
        "expect_secondaries[1] must be", "secondary ids, one per item"),
    "private key as public key": Case(
        "options", dr_secondary_token, "a private key in `secondary_public_key`",
        {"id": "dc2", "secondary_public_key": PRIVATE_KEY}, "secondary_public_key holds a private key",
        "the public key; treat the pasted private key as exposed"),
    "dr_secondary without state": Case(
        "options", dr_secondary, "`dr_secondary` without `state` (enabling wipes a cluster, so there is no default)",
        {"activation_token": ACTIVATION}, "state", "`state: enabled`, `promoted`, `primary_updated` or `disabled`"),
    "approle without role_id": Case(
        "options", dr_primary, "`auth_method: approle` without `role_id`", {"auth_method": "approle"}, "role_id",
        "`role_id` and `secret_id`"),
    # -- server -------------------------------------------------------------------------------------
    "connection refused": Case(
        "server", dr_status, "nothing listens at `url`", {"retries": 0},
        "got no answer", "check `url`, the port, that the cluster is up",
        answers=_answers(("GET", STATUS, {"body": requests.exceptions.ConnectionError(
            "HTTPSConnectionPool(host='vault.test', port=8200): Max retries exceeded (Caused by NewConnectionError("
            "'<urllib3.connection.HTTPSConnection>: Failed to establish a new connection: [Errno 111] "
            "Connection refused'))")}))),
    "http against tls": Case(
        "server", dr_status, "`http://` against a TLS listener", {"url": "http://vault.test:8200", "retries": 0},
        "use https://", "`https://` (and `ca_cert`)",
        answers=_answers(("GET", "http://vault.test:8200/v1/sys/replication/dr/status",
                          {"status": 400, "body": "Client sent an HTTP request to an HTTPS server.\n"}))),
    "http against tls, dropped": Case(
        "server", dr_status, "`http://` against a TLS listener that drops plain requests (not Go's)",
        {"url": "http://vault.test:8200", "retries": 0}, "if it speaks TLS there, use https://", "`https://`",
        answers=_answers(("GET", "http://vault.test:8200/v1/sys/replication/dr/status", {
            "body": requests.exceptions.ConnectionError(
                "('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))")}))),
    "https against plain": Case(
        "server", dr_status, "`https://` against a plain-HTTP listener", {"retries": 0}, "TLS listener",
        "`http://`, or the server's TLS port",
        answers=_answers(("GET", STATUS, {"body": requests.exceptions.SSLError(
            "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)")}))),
    "untrusted ca": Case(
        "server", dr_status, "a certificate from a CA the controller does not trust", {"retries": 0},
        "set ca_cert to the CA", "`ca_cert` = the CA that signed the server's certificate",
        answers=_answers(("GET", STATUS, {"body": requests.exceptions.SSLError(
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate chain"
        )}))),
    "certificate for another name": Case(
        "server", dr_status, "a certificate issued for another name", {"retries": 0}, "does not name the host",
        "the name the certificate was issued for",
        answers=_answers(("GET", STATUS, {"body": requests.exceptions.SSLError(
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not "
            "valid for 'vault.test'. (_ssl.c:1006)")}))),
    "no dr api 403": Case(
        "server", dr_primary, "OpenBao or Vault community edition (403 on `sys/replication/dr/*`)",
        {"state": "enabled"}, "does not serve the DR replication API",
        "point `url` at a Vault Enterprise cluster's active node (or drlab's gateway)",
        answers=_answers(("GET", STATUS, {"status": 403, "json": {"errors": ["permission denied"]}}),
                         ("GET", SEAL_STATUS, {"json": {"sealed": False, "version": "2.1.0"}}))),
    "no dr api 404": Case(
        "server", dr_status, "a server without the DR API answering 404", {},
        "does not serve the DR replication API", "as above",
        answers=_answers(("GET", STATUS, {"status": 404, "json": {"errors": ["unsupported path"]}}),
                         ("GET", SEAL_STATUS, {"json": {"sealed": False, "version": "1.18.1"}}))),
    "recovery mode": Case(
        "server", dr_status, "a server in recovery mode", {}, "recovery mode",
        "`vaultops.dr.recovery_token`, or restart the server without `-recovery`",
        answers=_answers(("GET", STATUS, {"status": 404, "json": {"errors": []}}),
                         ("GET", SEAL_STATUS, {"status": 404, "json": {"errors": []}}))),
    "sealed": Case(
        "server", dr_status, "a sealed cluster", {"retries": 0}, "Unseal the cluster",
        "unseal it (a DR secondary after its first sync: with the primary's keys)",
        answers=_answers(("GET", STATUS, {"status": 503, "json": fixture("error_503")}))),
    "invalid token": Case(
        "server", dr_primary, "a Vault token that is invalid or lacks the policy", {"state": "enabled"},
        "token is invalid", "a valid `token`; after set-up the primary's token works on every cluster",
        answers=_write_refused("status_disabled", "sys/replication/dr/primary/enable", 403, fixture("error_403")),
        tolerated_writes=1),
    "spent activation token, enable": Case(
        "server", dr_secondary, "a spent or expired activation token (`state=enabled`)", dict(ENABLE),
        "activation token is spent, expired", "`dr_secondary_token force=true` on the primary, then run again",
        answers=_write_refused("status_disabled", "sys/replication/dr/secondary/enable", 400, SPENT_ACTIVATION),
        tolerated_writes=1),
    "spent activation token, update-primary": Case(
        "server", dr_secondary, "a spent or expired activation token (`state=primary_updated`)", dict(UPDATE),
        "activation token is spent, expired", "as above (the message leads with the activation token, not the op token)",
        answers=_write_refused("status_demoted", "sys/replication/dr/secondary/update-primary", 400,
                               SPENT_ACTIVATION),
        tolerated_writes=1),
    "secondary cannot unwrap": Case(
        "server", dr_secondary, "the secondary cannot reach the primary's API to unwrap the activation token",
        dict(ENABLE), "could not reach the primary to unwrap",
        "network, DNS and `ca_file` (a path on the Vault server) from the secondary to `primary_api_addr`; retry",
        answers=_write_refused("status_disabled", "sys/replication/dr/secondary/enable", 400, {"errors": [
            "error response unwrapping secondary token; status code is 503, message is \"Vault is sealed\""]}),
        tolerated_writes=1),
    "bad op token": Case(
        "server", dr_secondary, "a DR operation token that is wrong, deleted or another cluster's",
        dict(PROMOTE, allow_two_primaries=True), "Check dr_operation_token",
        "make one on **this** cluster (`dr_operation_token`), or use a batch token",
        answers=_write_refused("status_secondary", "sys/replication/dr/secondary/promote", 400,
                               fixture("error_400_op_token")),
        tolerated_writes=1),
    # -- state --------------------------------------------------------------------------------------
    "enable secondary on a primary": Case(
        "state", dr_secondary, "`state=enabled` on a DR primary (it would wipe it)", dict(ENABLE),
        "would wipe this DR primary", "demote it and use `state=primary_updated` (no wipe)",
        answers=_status("status_primary")),
    "enable primary on a secondary": Case(
        "state", dr_primary, "`state=enabled` on a DR secondary", {"state": "enabled"},
        "cannot be enabled as a primary", "fail over (the `failover` role) instead",
        answers=_status("status_secondary")),
    "promote on disabled": Case(
        "state", dr_secondary, "`state=promoted` on a DR-disabled cluster", dict(PROMOTE),
        "only a DR secondary can be promoted", "it has none of the primary's data: set up DR first",
        answers=_status("status_disabled")),
    "update-primary on a primary": Case(
        "state", dr_secondary, "`state=primary_updated` on a DR primary", dict(UPDATE),
        "a DR primary cannot follow another primary", "demote it first (the failover role does)",
        answers=_status("status_primary")),
    "bootstrapping": Case(
        "state", dr_primary, "a cluster still bootstrapping", {"state": "demoted"}, "wait until",
        "wait for the first sync to finish", answers=_status("status_bootstrapping")),
    "two primaries": Case(
        "state", dr_secondary, "promoting while the primary is alive and connected", dict(PROMOTE),
        "two active DR primaries",
        "demote it first (`dr_primary state=demoted`); only if it is really gone or fenced, `allow_two_primaries: true`",
        answers=_answers(("GET", STATUS, {"json": fixture("status_secondary")}),
                         ("GET", OLD_PRIMARY_STATUS, {"json": fixture("status_primary")}))),
    "cut off a connected secondary": Case(
        "state", dr_secondary_token, "a forced re-issue of a connected secondary's id", {"id": "dc2", "force": True},
        "allow_cut_off=true", "leave it (it needs no token), or `allow_cut_off: true` to redo its activation",
        answers=_status("status_primary")),
    "token on a secondary": Case(
        "state", dr_secondary_token, "issuing an activation token on a secondary", {"id": "dc9"},
        "issued and revoked on the DR primary only", "point `url` at the primary (after a promotion: the new one)",
        answers=_status("status_secondary")),
    "wait for a never-issued secondary": Case(
        "state", dr_status, "waiting for a secondary the primary never issued a token for",
        {"wait_for_healthy": True, "expect_secondaries": ["dc9"]}, "cannot succeed",
        "issue one and enable the secondary, or fix `expect_secondaries`", answers=_status("status_primary")),
    "enabled secondary became a primary": Case(
        "state", dr_secondary, "the cluster being enabled as a secondary answers as a primary afterwards",
        dict(ENABLE), "cannot succeed", "find out who promoted it: never keep two primaries",
        answers=_answers(("GET", STATUS, {"json": fixture("status_disabled")}),
                         ("POST", V + "sys/replication/dr/secondary/enable", {"status": 204}),
                         ("GET", STATUS, {"json": fixture("status_primary")})),
        tolerated_writes=1, accepted_writes=True),
    "demote_primary of another set": Case(
        "state", dr_secondary, "`demote_primary` names a primary of another DR replication set",
        dict(PROMOTE, demote_primary="https://vault-x.test:8200"), "not the primary this secondary replicates from",
        "the old primary's API address (the failover role passes its `vault_addr`)",
        answers=_answers(("GET", STATUS, {"json": fixture("status_secondary")}),
                         ("GET", "https://vault-x.test:8200/v1/sys/replication/dr/status", {"json": {"data": dict(
                             fixture("status_primary")["data"], cluster_id="0000aaaa-1111-2222-3333-444455556666")}}))),
    "demote_primary not answering": Case(
        "state", dr_secondary, "`demote_primary` does not answer (a planned failover cannot demote it)",
        dict(PROMOTE, demote_primary="https://vault-x.test:8200", retries=0), "does not answer",
        "bring it back, or once it is down or fenced promote without it (the failover role: `failover_mode: unplanned`)",
        answers=_answers(("GET", STATUS, {"json": fixture("status_secondary")}),
                         ("GET", "https://vault-x.test:8200/v1/sys/replication/dr/status", {
                             "body": requests.exceptions.ConnectionError("[Errno 111] Connection refused")}))),
    "promoted, write refused": Case(
        "state", dr_secondary, "the promoted cluster refuses the write check: `token` is not valid there",
        dict(PROMOTE, allow_two_primaries=True, wait_for_writes=True), "Check that token is valid on it",
        "the old primary's token (valid on every cluster after set-up); the promotion stands",
        answers=_answers(("GET", STATUS, {"json": fixture("status_secondary")}),
                         ("POST", V + "sys/replication/dr/secondary/promote", {"status": 204}),
                         ("GET", STATUS, {"json": fixture("status_primary_fresh")}),
                         ("POST", V + "cubbyhole/vaultops-dr/write-check", {"status": 403,
                                                                            "json": fixture("error_403")})),
        tolerated_writes=2),
    "catch up with a non-primary": Case(
        "state", dr_status, "`catch_up_with` names a cluster that is not a primary",
        {"catch_up_with": "https://10.0.1.11:8200"}, "is not a DR primary",
        "the active primary's API address",
        answers=_answers(("GET", STATUS, {"json": fixture("status_secondary")}),
                         ("GET", OLD_PRIMARY_STATUS, {"json": fixture("status_demoted")}))),
    "absent with the admin token": Case(
        "state", dr_operation_token, "`state=absent` given the token the module authenticates with",
        {"state": "absent", "dr_operation_token": BASE_ARGS["token"]}, "the token this module authenticates with",
        "pass the token the ceremony returned", answers=_status("optoken_status_secondary")),
    "absent with a non-root token": Case(
        "state", dr_operation_token, "`state=absent` after promotion with a token that is not root-only without TTL",
        {"state": "absent", "dr_operation_token": OP_TOKEN}, "left alone",
        "pass the token the ceremony returned; revoke other tokens yourself if meant",
        answers=_answers(("GET", STATUS, {"json": fixture("optoken_status_primary")}),
                         ("GET", V + "auth/token/lookup-self", {"json": {"data": dict(
                             fixture("optoken_lookup_self_service")["data"], policies=["admin", "default"])}}))),
    "op token on a primary": Case(
        "state", dr_operation_token, "a DR operation token ceremony on a primary", {"key_shares": SHARE_HEX[:1]},
        "generated on a DR secondary", "run it on the secondary", answers=_status("optoken_status_primary")),
    # -- ceremony -----------------------------------------------------------------------------------
    "blank share": Case(
        "ceremony", dr_operation_token, "a blank key share", {"key_shares": [SHARE_HEX[0], ""]}, "is empty",
        "paste it as Vault printed it; drop blank items", answers=_ceremony()),
    "mangled share": Case(
        "ceremony", dr_operation_token, "a share that is neither hex nor base64", {"key_shares": ["not-a-share!"]},
        "neither hex nor base64", "paste it as Vault printed it (`unseal_keys_hex` or `unseal_keys_b64`)",
        answers=_ceremony()),
    "repeated share": Case(
        "ceremony", dr_operation_token, "the same share twice in one run (also once in hex and once in base64)",
        {"key_shares": [SHARE_HEX[0], base64.b64encode(SHARES[0]).decode()]}, "more than once",
        "nothing: it is sent once", answers=_ceremony(), tolerated_writes=2, outcome="warning"),
    "share already counted": Case(
        "ceremony", dr_operation_token, "a share the running attempt has already counted (an earlier run)",
        {"key_shares": SHARE_HEX[:1], "nonce": "@running", "otp": "@otp"}, "already counted",
        "nothing: the server did not count it twice; the other holders go on",
        answers=_ceremony(start=lambda server, k: k.update(
            {"@running": server.started(otp=k["@otp"], provided=SHARES[:1])})),
        tolerated_writes=1, outcome="warning"),
    "wrong share": Case(
        "ceremony", dr_operation_token, "a wrong share (found only at the threshold; any counted share may be it)",
        {"key_shares": SHARE_HEX[:2] + [new_shares(1)[0].hex()]}, "at least one share is wrong",
        "every holder submits again to the same nonce, or cancel (`state=canceled`)",
        answers=_ceremony(), tolerated_writes=4),
    "wrong nonce": Case(
        "ceremony", dr_operation_token, "a nonce that is not the running attempt's",
        {"key_shares": SHARE_HEX[1:2], "nonce": "00000000-1111-2222-3333-444444444444"},
        "is not the running", "the running attempt's nonce is in the message",
        answers=_ceremony(start=lambda server, _k: server.started(otp=tg.generate_otp(28), provided=SHARES[:1]))),
    "otp and pgp_key": Case(
        "ceremony", dr_operation_token, "`otp` and `pgp_key` together",
        {"key_shares": SHARE_HEX[:1], "otp": "x" * 28, "pgp_key": "mQINBGV"},
        "mutually exclusive", "one of them", answers=_ceremony()),
    "wrong otp length": Case(
        "ceremony", dr_operation_token, "an OTP of the wrong length", {"key_shares": SHARE_HEX[:1], "otp": "abc"},
        "otp must be a base62 string of exactly", "leave `otp` out: the module makes one of the server's length",
        answers=_ceremony()),
    "sign-only pgp key": Case(
        "ceremony", dr_operation_token, "a sign-only PGP key (the server would fail only at the completing share)",
        {"key_shares": SHARE_HEX[:1], "pgp_key": "@signonly"}, "can encrypt",
        "`gpg --quick-add-key FPR default encr`, export the public key again", answers=_sign_only_key),
    "private key as pgp_key": Case(
        "ceremony", dr_operation_token, "a private key in `pgp_key`", {"key_shares": SHARE_HEX[:1],
                                                                       "pgp_key": "@private"},
        "private", "`gpg --armor --export KEYID`; treat the pasted private key as exposed", answers=_ceremony()),
    "attempt to another key than the holder expects": Case(
        "ceremony", dr_operation_token, "the running attempt encrypts to another PGP key than the fingerprint in the "
        "holder's credential (`expected_pgp_fingerprint`): the template's key was swapped, or someone else started it",
        {"key_shares": SHARE_HEX[1:2], "nonce": "@running", "expected_pgp_fingerprint": "CD" * 20},
        "but your credential expects the coordinator's key",
        "confirm the fingerprint with the coordinator on a channel of your own; cancel a foreign attempt "
        "(`state=canceled nonce=...`); never change your credential to match the attempt",
        answers=_ceremony(start=lambda server, k: k.update(
            {"@running": server.started(fingerprint="ab" * 20, provided=SHARES[:1])}))),
    "otp attempt when a fingerprint is expected": Case(
        "ceremony", dr_operation_token, "an attempt started with an OTP while the holder expects the coordinator's "
        "PGP key", {"key_shares": SHARE_HEX[1:2], "nonce": "@running", "expected_pgp_fingerprint": "CD" * 20},
        "encodes its token with an OTP", "the coordinator cancels it and starts one with their public key (`pgp_key`)",
        answers=_ceremony(start=lambda server, k: k.update(
            {"@running": server.started(otp=k["@otp"], provided=SHARES[:1])}))),
    "short expected fingerprint": Case(
        "ceremony", dr_operation_token, "`expected_pgp_fingerprint` is a key ID, not a full fingerprint",
        {"key_shares": SHARE_HEX[:1], "expected_pgp_fingerprint": "ABCD1234ABCD1234"}, "must be a full PGP fingerprint",
        "the 40 (or 64) hex digits `gpg --fingerprint KEY` prints", answers=_ceremony()),
    "recovery token on a normal server": Case(
        "ceremony", recovery_token, "`recovery_token` against a server not in recovery mode",
        {"key_shares": SHARE_HEX[:1]}, "not running in recovery mode", "restart it with `-recovery` while sealed",
        answers=_answers(("GET", V + "sys/generate-recovery-token/attempt",
                          {"status": 404, "json": {"errors": ["unsupported path"]}}))),
}


@pytest.fixture(scope="module")
def keys():
    """A sign-only key and a full key's private block, made by gnupg in a throwaway home."""
    home = tempfile.mkdtemp(prefix="vaultops-table-")
    gpg_batch(home, "--quick-gen-key", "signonly@vaultops.test", "ed25519", "sign", "never")
    made = {"@signonly": gpg_batch(home, "--armor", "--export", "signonly@vaultops.test"),
            "@private": gpg_batch(home, "--armor", "--export-secret-keys", "signonly@vaultops.test")}
    yield made
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], check=False, capture_output=True)
    shutil.rmtree(home, ignore_errors=True)


def run_case(case, keys):
    """Run one case against fresh recorded answers: (result, warnings, reads, writes)."""
    from ansible.module_utils import basic

    keys = dict(keys, **{"@otp": tg.generate_otp(28)})  # drawn per run: a given OTP is a secret too
    warnings = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as vault, \
            mock.patch.object(basic.AnsibleModule, "warn", lambda self, warning: warnings.append(warning)):
        if case.answers:
            case.answers(vault, keys)
        args = dict(BASE_ARGS)
        args.update({k: keys.get(v, v) if isinstance(v, str) else v for k, v in case.args.items()})
        result = run_module(case.module, args)
        reads = sum(1 for c in vault.calls if c.request.method == "GET")
        sent_writes = sum(1 for c in vault.calls if c.request.method != "GET")
    return result, warnings, reads, sent_writes, [v for k, v in args.items() if k in SECRET_OPTIONS]


def said(case, result, warnings):
    """What the module said about the case: its failure message, or the warning the case is about."""
    if case.outcome == "refused":
        return result.get("msg", "")
    return " ".join(w for w in warnings if case.expect in w)


def _private_lines(keys):
    return [line for line in keys["@private"].splitlines() if len(line) > 20 and "PGP" not in line]


@pytest.mark.parametrize("name", CASES)
def test_bad_input_or_state_fails_clearly_and_changes_nothing(name, keys):
    case = CASES[name]
    result, warnings, _reads, sent_writes, given_secrets = run_case(case, keys)
    text = json.dumps([result, warnings])
    assert bool(result.get("failed")) == (case.outcome == "refused"), result
    assert case.expect in said(case, result, warnings), (result.get("msg"), warnings)
    assert "Unexpected error" not in text and "Traceback" not in text
    assert sent_writes <= case.tolerated_writes, "%d writes sent" % sent_writes
    given = [s for v in given_secrets for s in (v if isinstance(v, list) else [v]) if s]
    leaked = [s for s in (*SECRETS, *given, *_private_lines(keys)) if s in text]
    assert not leaked, "a secret is in the result"


# -- the table -------------------------------------------------------------------------------------------
# Nonces the fake server draws (uuid4); the recorded answers' fixed ids stay as they are.
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\b")
_FINGERPRINT = re.compile(r"\b[0-9a-fA-F]{40}\b")


def _cell(text):
    return " ".join(text.split()).replace("|", "\\|")


def _message(msg):
    """The message as the test got it, with what differs from run to run made stable."""
    msg = _FINGERPRINT.sub("<fingerprint>", _UUID.sub("<nonce>", msg))
    return "`%s`" % _cell(msg).replace("`", "'")


def _sent(reads, sent_writes, case):
    if not reads and not sent_writes:
        return "nothing"
    parts = ["%d read%s" % (reads, "" if reads == 1 else "s")] if reads else []
    if sent_writes:
        writes = "1 write" if sent_writes == 1 else "%d writes" % sent_writes
        if case.outcome == "refused" and not case.accepted_writes:
            writes += ", refused by the server" if sent_writes == 1 else ", the last refused by the server"
        parts.append(writes)
    return ", ".join(parts)


def render(keys):
    lines = [BEGIN, "<!-- Generated by tests/unit/test_troubleshooting_table.py (make troubleshooting-table); "
             "do not edit by hand. -->"]
    for group, title in GROUPS.items():
        lines += ["", "### " + title, "", "| module | cause | message (as the test got it) | sent | what to do |",
                  "|---|---|---|---|---|"]
        for case in (c for c in CASES.values() if c.group == group):
            result, warnings, reads, sent_writes, _given = run_case(case, keys)
            module = case.module.__name__.rsplit(".", 1)[-1]
            message = _message(said(case, result, warnings))
            if case.outcome == "warning":
                message = "warning " + message
            lines.append("| %s | %s | %s | %s | %s |" % (module, _cell(case.cause), message,
                                                         _sent(reads, sent_writes, case), _cell(case.fix)))
    lines += ["", END]
    return "\n".join(lines)


def test_the_documented_table_is_what_the_modules_say(keys):
    doc = DOC.read_text()
    assert BEGIN in doc and END in doc, "docs/troubleshooting.md lost its bad-input-table markers"
    before, rest = doc.split(BEGIN, 1)
    _old, after = rest.split(END, 1)
    table = render(keys)
    if os.environ.get("VAULTOPS_WRITE_TABLE") == "1":
        DOC.write_text(before + table + after)
        return
    assert before + table + after == doc, ("docs/troubleshooting.md's bad-input table differs from what the modules "
                                           "say now: run `make troubleshooting-table` and commit the result")


def test_every_group_has_cases():
    assert {c.group for c in CASES.values()} == set(GROUPS)
