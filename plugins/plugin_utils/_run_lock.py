# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The double-launch guard behind vaultops.dr.run_lock: one lock file per locked name on the controller.

Private to this collection: the API may change without notice.

A lock file is created atomically (a hard link of a complete temporary file, which fails when the lock
exists; O_EXCL where links are not supported), so a reader never sees a half-written holder. It names
the run that holds it. A run is the ansible-playbook process (the parent of the worker that runs the
action), so the failback role and the failover role it includes share one lock.
"""

from __future__ import annotations

import datetime
import errno
import getpass
import json
import os
import re
import socket
import uuid

# Connection, auth and wait options of the vaultops.dr.dr action group: module_defaults hands them to every
# member of the group; this plugin talks to no cluster, waits for nothing and ignores them.
CONNECTION_OPTIONS = frozenset((
    "url", "ca_cert", "cacert", "validate_certs", "timeout", "retries", "namespace",
    "auth_method", "token", "role_id", "secret_id", "username", "password", "mount_point",
    "wait", "wait_timeout",
))
DEFAULT_LOCK_DIR = "~/.ansible/vaultops_dr/locks"
LOCK_DIR_ENV = "VAULTOPS_DR_LOCK_DIR"


class LockError(Exception):
    """The lock could not be read or written (not another run: a path or permission problem)."""


class LockBusy(LockError):
    """Another run holds the lock."""

    def __init__(self, msg, holder, path):
        super().__init__(msg)
        self.holder = holder
        self.path = path


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _proc_stat(pid):
    """The fields of /proc/PID/stat after the command name (Linux), or None where unknown."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after its closing one.
    return stat.rsplit(")", 1)[-1].split()


def pid_start_time(pid):
    """The process's start time in clock ticks since boot (Linux /proc), or None where unknown.

    Recorded with the pid, so a pid reused by an unrelated process after a crash is not taken for the holder.
    """
    fields = _proc_stat(pid)
    return fields[19] if fields and len(fields) > 19 else None


def pid_alive(pid, start=None):
    """Whether `pid` still runs on this host (and, when `start` is known on both sides, is the same process)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    except OSError:
        return False
    fields = _proc_stat(pid)
    if fields and fields[0] in ("Z", "X"):
        return False  # killed, not yet reaped by its parent: it does no more work
    now = fields[19] if fields and len(fields) > 19 else None
    return not (start and now and str(start) != str(now))


def run_identity(task_vars, purpose):
    """Who holds the lock: user, host, the ansible-playbook pid, start time, play, AWX job if any."""
    pid = os.getppid()  # the action runs in a worker forked from ansible-playbook
    ident = {
        "run_id": uuid.uuid4().hex,
        "purpose": purpose,
        "user": _user(),
        "host": socket.gethostname(),
        "pid": pid,
        "pid_start": pid_start_time(pid),
        "started": _now(),
        "play": str(task_vars.get("ansible_play_name") or ""),
        "playbook_dir": str(task_vars.get("playbook_dir") or ""),
    }
    job = task_vars.get("awx_job_id") or task_vars.get("tower_job_id")
    if job:
        ident["awx_job_id"] = str(job)
        template = task_vars.get("awx_job_template_name") or task_vars.get("tower_job_template_name")
        if template:
            ident["awx_job_template"] = str(template)
        launched_by = task_vars.get("awx_user_name") or task_vars.get("tower_user_name")
        if launched_by:
            ident["awx_user"] = str(launched_by)
    return ident


def _user():
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def describe(holder):
    """One line naming the run that holds a lock, for messages."""
    if not isinstance(holder, dict):
        return "an unknown run"
    text = "%s by %s@%s (pid %s" % (
        holder.get("purpose") or "a run", holder.get("user", "?"), holder.get("host", "?"), holder.get("pid", "?"))
    if holder.get("awx_job_id"):
        text += ", AWX job %s" % holder["awx_job_id"]
        if holder.get("awx_job_template"):
            text += " of %r" % holder["awx_job_template"]
        if holder.get("awx_user"):
            text += " launched by %s" % holder["awx_user"]
    text += "), started %s" % holder.get("started", "?")
    if holder.get("play"):
        text += ", play %r" % holder["play"]
    return text


def lock_file_name(name):
    """A readable, safe file name for a locked name (e.g. https://vault-a:8200 -> https_vault-a_8200.lock)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "lock"
    return safe[:200] + ".lock"


class RunLock:
    def __init__(self, lock_dir, identity):
        self.dir = os.path.abspath(os.path.expanduser(lock_dir or os.environ.get(LOCK_DIR_ENV) or DEFAULT_LOCK_DIR))
        self.me = identity

    def path(self, name):
        return os.path.join(self.dir, lock_file_name(name))

    # ------------------------------------------------------------------ reading
    def read(self, path):
        """The holder recorded in `path`, None when there is no lock; {} for an unreadable one."""
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LockError("Cannot read the lock file %s (%s): check its permissions." % (path, exc.strerror)) from None
        try:
            holder = json.loads(text)
        except ValueError:
            return {}
        return holder if isinstance(holder, dict) else {}

    def is_mine(self, holder):
        return bool(holder) and holder.get("host") == self.me["host"] and holder.get("pid") == self.me["pid"] and (
            not holder.get("pid_start") or not self.me.get("pid_start") or holder["pid_start"] == self.me["pid_start"])

    def is_stale(self, holder):
        """A holder on this host whose process is gone. A holder elsewhere cannot be checked: never stale."""
        if not holder or holder.get("host") != self.me["host"] or not isinstance(holder.get("pid"), int):
            return False
        return not pid_alive(holder["pid"], holder.get("pid_start"))

    # ------------------------------------------------------------------ writing
    def _create(self, path, record):
        """Create the lock file with its full content, atomically; False when it exists."""
        data = json.dumps(record, indent=2, sort_keys=True) + "\n"
        tmp = "%s.%s.tmp" % (path, self.me["run_id"])
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)
                return True
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                    raise
            # No hard links on this file system: O_EXCL create (a reader may briefly see it empty).
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(data)
            return True
        except OSError as exc:
            raise LockError("Cannot create the lock file %s (%s): check that the directory is writable, or set "
                            "another lock directory." % (path, exc.strerror)) from None
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def _take_over(self, path, stale):
        """Move a stale lock aside and take it. False when another run got there first."""
        aside = "%s.stale-%s" % (path, self.me["run_id"])
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return self._create(path, self._record())
        except OSError as exc:
            raise LockError("Cannot remove the stale lock file %s (%s): remove it by hand once you are sure %s "
                            "has ended." % (path, exc.strerror, describe(stale))) from None
        moved = self.read(aside)
        if (moved or {}).get("run_id") != stale.get("run_id"):
            # Another run replaced the stale lock between our read and the rename: put its lock back.
            try:
                os.link(aside, path)
            except OSError:
                pass
            os.unlink(aside)
            return False
        os.unlink(aside)
        return self._create(path, self._record())

    def _record(self):
        return dict(self.me, locked_at=_now())

    # ------------------------------------------------------------------ the two states
    def acquire(self, names, check=False):
        names = sorted(set(names))
        out = {"changed": False, "acquired": [], "joined": [], "took_over": [], "warnings": [],
               "lock_dir": self.dir, "holder": self.me}
        if not check:
            try:
                os.makedirs(self.dir, mode=0o700, exist_ok=True)
            except OSError as exc:
                raise LockError("Cannot create the lock directory %s (%s): create it, or set another lock "
                                "directory." % (self.dir, exc.strerror)) from None
        try:
            for name in names:
                self._acquire_one(name, check, out)
        except LockError:
            # All or nothing: a refused run leaves no lock of its own behind.
            for name in out["acquired"]:
                self._unlink_if_mine(self.path(name))
            raise
        out["changed"] = bool(out["acquired"] or out["took_over"])
        return out

    def _acquire_one(self, name, check, out):
        path = self.path(name)
        for _attempt in range(3):
            holder = self.read(path)
            if holder is None:
                if check or self._create(path, self._record()):
                    out["acquired"].append(name)
                    return
                continue  # another run created it just now: read who
            if self.is_mine(holder):
                out["joined"].append(name)  # this run took it earlier (the failback role includes failover)
                return
            if self.is_stale(holder):
                if check:
                    out["warnings"].append("The lock %s is held by %s, which no longer runs: a real run takes it over."
                                           % (path, describe(holder)))
                    out["acquired"].append(name)
                    return
                if self._take_over(path, holder):
                    if holder.get("run_id") not in [h.get("run_id") for h in out["took_over"]]:
                        out["warnings"].append(
                            "Took over the DR lock from %s, which no longer runs (killed or crashed?). Its work may be "
                            "half done: this run decides from the clusters' present status and finishes it." % describe(holder))
                    out["took_over"].append(dict(holder, name=name))
                    out["acquired"].append(name)
                    return
                continue
            if not holder:
                msg = ("The lock file %s is unreadable (not a lock this collection wrote, or written by a run that "
                       "crashed while writing it). If no DR run is going on, remove it and run again." % path)
            else:
                msg = ("Refusing to start %s: %s holds the DR lock for %s (%s). Two runs at once could interleave "
                       "writes to the same clusters. Wait for it to finish and run again (a run that was killed is "
                       "taken over automatically on the same host; if it ran on another host and is gone, remove %s)."
                       % (self.me.get("purpose") or "this run", describe(holder), name, path, path))
            if check:
                out["warnings"].append("Check mode: " + msg)
                return
            raise LockBusy(msg, holder, path)
        raise LockError("Could not take the lock %s: other runs keep taking and releasing it. Run again." % path)

    def release(self, names, check=False):
        out = {"changed": False, "released": [], "warnings": [], "lock_dir": self.dir, "holder": self.me}
        for name in sorted(set(names)):
            path = self.path(name)
            holder = self.read(path)
            if holder is None:
                continue
            if not self.is_mine(holder):
                out["warnings"].append("Not releasing %s: it is held by %s, not by this run." % (path, describe(holder)))
                continue
            if check or self._unlink_if_mine(path):
                out["released"].append(name)
        out["changed"] = bool(out["released"])
        return out

    def _unlink_if_mine(self, path):
        holder = self.read(path)
        if not self.is_mine(holder):
            return False
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise LockError("Cannot remove the lock file %s (%s): remove it by hand." % (path, exc.strerror)) from None
        return True
