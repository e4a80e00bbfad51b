#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The work is done on the controller by the action plugin plugins/action/run_lock.py; this file holds its docs.

DOCUMENTATION = r"""
module: run_lock
short_description: Take or release the controller-side lock that keeps two DR runs from acting on the same clusters
version_added: 1.0.0
description:
  - The double-launch guard of the failover and failback roles. O(state=present) creates one lock file per entry of
    O(names) (the roles lock every cluster's C(vault_addr)) in O(lock_dir) on the controller, atomically; when another
    run holds one of them, the task fails at once, naming that run (user, host, pid, start time, play, and AWX job id
    when the run is an AWX job), and takes none of the others. O(state=absent) removes the lock files this run holds.
  - A run is the C(ansible-playbook) process. The same run taking a lock it already holds joins it (RV(joined)), so a
    role that includes another role guarded by the same lock does not lock itself out.
  - Each lock records the holder's hostname, boot id (C(/proc/sys/kernel/random/boot_id)), PID namespace
    (C(/proc/self/ns/pid)), pid and the pid's start time. A lock is stale, and taken over with a warning, only when its
    holder provably ran in this same boot and PID namespace of this host and that process no longer runs (killed,
    crashed). Any other lock cannot be checked from here and is never taken over - one taken on another host, in another
    PID namespace (a container, or another controller with the same hostname), under another boot id (this controller
    rebooted since, or a cloned VM), or written by an older vaultops.dr that recorded no boot id or PID namespace. The
    refusal says why and which file to remove once that run is known to have ended.
  - Lock files are never read or written through a symbolic link (C(O_NOFOLLOW)); a symlink, FIFO or other non-regular
    file at a lock path fails the task, naming it.
  - O(lock_dir) must be owned by the user running Ansible or by root, and must not be writable by group or others unless
    it has the sticky bit (then only a file's owner can remove or rename it); otherwise the task fails naming the
    directory, its mode and owner, and what to change.
  - The lock protects runs that share O(lock_dir). Runs on two controllers (or two AWX jobs, each in its own execution
    environment container) only see each other through a shared directory, for example an NFS mount; AWX's
    C(allow_simultaneous=false) job templates cover AWX jobs.
  - Runs on the controller only and talks to no cluster. It accepts (and ignores) the connection and authentication
    options of the other modules, so it can sit under C(module_defaults) for C(group/vaultops.dr.dr).
author:
  - vaultops.dr contributors (@vaultops)
options:
  names:
    description:
      - What to lock, one lock file each, for example the API address of every cluster the run may change.
      - Taken in sorted order, all or none.
    type: list
    elements: str
    required: true
  state:
    description:
      - V(present) takes the locks (or joins those this run already holds); V(absent) releases the locks this run holds.
        A lock held by another run is never released.
    type: str
    choices: [present, absent]
    default: present
  lock_dir:
    description:
      - The directory of the lock files, created (mode 0700) when missing. Runs that must exclude each other need the same
        directory; for several operators on one controller, or several controllers, a shared directory owned by root
        and writable by their group with the sticky bit (for example C(install -d -o root -g drops -m 3770 DIR)), or
        mode 1777.
      - Refused when owned by another user than the one running Ansible (root excepted), or writable by group or others
        without the sticky bit.
      - Defaults to the environment variable E(VAULTOPS_DR_LOCK_DIR), else C(~/.ansible/vaultops_dr/locks).
    type: path
  purpose:
    description:
      - What this run does (for example V(failover to b)); recorded in the lock and shown to a run that is refused.
    type: str
    default: a vaultops.dr run
extends_documentation_fragment:
  - vaultops.dr.attributes
attributes:
  check_mode:
    support: full
    details: Creates and removes nothing; reports what a real run would take, and warns when another run holds a lock. Fails,
      as a real run would, on an unsafe O(lock_dir) or a symlink at a lock path.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Taking a lock this run holds joins it (no change); releasing a lock this run does not hold changes nothing.
  action:
    description: Indicates this has a corresponding action plugin, so some parts of the options can be executed on the controller.
    support: full
    details: Runs on the controller, whatever the host's connection; the connection and auth options of the action group are ignored.
notes:
  - The lock files are JSON and hold no secret, only who runs what.
  - A pid is recorded with its start time (Linux C(/proc)), so a pid reused by another process does not keep a stale lock alive.
  - On a controller without C(/proc) (not Linux) the boot id and PID namespace cannot be read, so no lock is ever taken
    over automatically there; a killed run's lock files are removed by hand.
  - Lock files are born mode 0600 and made 0644 once complete, so other operators of a shared directory can read who
    holds a lock; they hold no secret.
seealso:
  - name: The double-launch guard in the runbook
    description: Which mechanism protects which launches, and its limits.
    link: https://github.com/vaultops/dr/blob/main/docs/runbook.md#double-launch-guard
"""

EXAMPLES = r"""
- name: Take the DR lock for every cluster of the play
  vaultops.dr.run_lock:
    names: "{{ ansible_play_hosts_all | map('extract', hostvars, 'vault_addr') | list }}"
    purpose: "failover to {{ failover_target }}"
  run_once: true
  register: dr_lock

- name: Release it (in an always section)
  vaultops.dr.run_lock:
    names: "{{ dr_lock.acquired }}"
    state: absent
  run_once: true
  when: dr_lock.acquired | default([]) | length > 0

- name: Locks shared by every operator of a controller
  vaultops.dr.run_lock:
    names: [https://vault-a.example.com:8200, https://vault-b.example.com:8200]
    lock_dir: /srv/vault-dr/locks
"""

RETURN = r"""
acquired:
  description: The names this task took a lock for (with O(state=present); in check mode, those it would take).
  returned: success, state=present
  type: list
  elements: str
joined:
  description: The names whose lock this run already held.
  returned: success, state=present
  type: list
  elements: str
took_over:
  description: The stale holders this task took a lock over from (each with C(name), the locked name).
  returned: success, state=present
  type: list
  elements: dict
released:
  description: The names whose lock this task removed.
  returned: success, state=absent
  type: list
  elements: str
lock_dir:
  description: The lock directory used.
  returned: success
  type: str
holder:
  description:
    - With success, this run's identity as recorded in the lock files (C(purpose), C(user), C(host), C(boot_id),
      C(pid_ns), C(pid), C(pid_start), C(started), C(play), C(playbook_dir), C(awx_job_id), C(awx_job_template),
      C(awx_user), C(run_id)).
    - When refused, the run that holds the lock.
  returned: always
  type: dict
lock_file:
  description: The lock file held by another run.
  returned: when refused
  type: str
"""
