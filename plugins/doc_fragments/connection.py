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
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each HTTP answer.
    type: int
    default: 30
  retries:
    description:
      - How many times to send a request again when the cluster did not act on it.
      - Reads are retried after connection errors and HTTP 412, 429 and 503 (for example the
        C(required index state not present) answer right after a promotion).
      - A state-changing request is retried only when the server refused it (412, 429, 503) or the
        connection was never made. When its answer was lost (timeout, reset) it is never sent again;
        the module fails and says to read the DR status to learn whether it took effect.
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
requirements:
  - requests (Python library, on the host that runs the module)
"""
