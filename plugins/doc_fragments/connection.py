# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Names follow community.hashi_vault so module_defaults carry over.
    DOCUMENTATION = r"""
options:
  url:
    description:
      - URL of the Vault cluster's API, for example V(https://vault.example.com:8200).
      - Falls back to the E(VAULT_ADDR) environment variable.
    type: str
    required: true
  ca_cert:
    description:
      - Path to a PEM file of the CA that signed the cluster's TLS certificate.
      - Falls back to the E(VAULT_CACERT) environment variable.
    type: path
    aliases: [cacert]
  validate_certs:
    description:
      - Whether to check the cluster's TLS certificate. Set V(false) only in a lab.
      - The module warns when it is V(false), and when O(url) is plain C(http://).
    type: bool
    default: true
  timeout:
    description:
      - Seconds each HTTP answer may take, from sending the request to the last byte of the answer.
      - An answer larger than 4 MiB is not read (Vault's answers here are a few KiB).
    type: int
    default: 30
  retries:
    description:
      - How many times to send a request again when the cluster did not act on it.
      - Reads are retried after connection errors and HTTP 412, 429, 502, 503 and 504 (for example the
        C(required index state not present) answer right after a promotion).
      - A state-changing request is retried only when the connection was never made (refused, or a TLS
        handshake that failed), or when Vault's own error body proves it did not act (sealed, standby, no
        active node, C(required index state not present), a rate limit quota, still catching up).
      - Anything else is a lost answer and is never sent again. That is a timeout or reset after sending, a TLS
        error after the handshake, and a 412, 429, 502, 503 or 504 without such a body (a load balancer may
        answer so after Vault acted). The module reads the DR status to learn whether it took effect.
    type: int
    default: 3
  namespace:
    description:
      - Vault Enterprise namespace, sent as the C(X-Vault-Namespace) header.
      - Falls back to the E(VAULT_NAMESPACE) environment variable.
      - Never sent to the paths Vault serves only from the root namespace (C(sys/replication/*),
        C(sys/generate-root/*), C(sys/generate-recovery-token/*), C(sys/health), C(sys/seal-status), C(sys/leader),
        C(sys/seal), C(sys/unseal)); it applies to logins and every other path.
    type: str
  nodes:
    description:
      - The API address of every node of this cluster (for example the inventory's C(vault_nodes)).
      - A redirect (3xx) is followed only to O(url) or one of these addresses, and never from C(https://) to
        C(http://); any other C(Location) fails the task naming it, and the token and the request body are
        sent nowhere else. Vault's standbys answer 307 to the active node's address.
    type: list
    elements: str
    default: []
requirements:
  - requests (Python library, on the host that runs the module)
"""
