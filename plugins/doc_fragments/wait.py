# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # For modules with nothing to wait for: every module accepts wait/wait_timeout, so one
    # module_defaults for group/vaultops.dr.dr fits them all.
    IGNORED = r"""
options:
  wait:
    description:
      - Accepted so that C(module_defaults) for C(group/vaultops.dr.dr) can set it for every module.
        This module has nothing to wait for and ignores it.
    type: bool
    default: true
  wait_timeout:
    description:
      - Accepted so that C(module_defaults) for C(group/vaultops.dr.dr) can set it for every module.
        This module has nothing to wait for and ignores it.
    type: int
    default: 300
"""
