# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The double-launch guard behind vaultops.dr.run_lock: one lock file per locked name on the controller.

Private to this collection: the API may change without notice.

A lock file is created atomically (a hard link of a complete temporary file, which fails when the lock
exists; O_EXCL where links are not supported), so a reader never sees a half-written holder. It names
the run that holds it. A run is the ansible-playbook process (the parent of the worker that runs the
action), so the failback role and the failover role it includes share one lock.

Whether a holder still runs is judged only where it can be proven: the holder recorded the same hostname,
boot id and PID namespace as this run, and its pid is gone (or is another process now). A pid means nothing
across PID namespaces (two containers or cloned VMs with the same hostname each have a pid 7), so any other
holder is taken as live and the refusal says how to clear it by hand. Lock files are opened with O_NOFOLLOW
(a planted symlink is refused, never followed), and a lock directory that other users can tamper with is refused.
"""

from __future__ import annotations

import datetime
import errno
import getpass
import json
import os
import re
import socket
import stat
import uuid

# Connection, auth and wait options of the vaultops.dr.dr action group: module_defaults hands them to every
# member of the group; this plugin talks to no cluster, waits for nothing and ignores them.
CONNECTION_OPTIONS = frozenset((
    "url", "ca_cert", "cacert", "validate_certs", "timeout", "retries", "namespace", "nodes",
    "auth_method", "token", "role_id", "secret_id", "username", "password", "mount_point",
    "wait", "wait_timeout",
))
DEFAULT_LOCK_DIR = "~/.ansible/vaultops_dr/locks"
LOCK_DIR_ENV = "VAULTOPS_DR_LOCK_DIR"
BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"
PID_NS_FILE = "/proc/self/ns/pid"
MAX_LOCK_BYTES = 65536  # a lock file is under 1 KiB; anything far larger is not one of ours
# A lock file opened for reading: a symlink fails (ELOOP) instead of being followed, a planted FIFO does not block.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
# A file this run creates: never an existing file, never through a symlink, owner-only until its content is complete.
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


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


def boot_id():
    """This machine's boot id (Linux), or None where unknown: a pid is only meaningful within one boot."""
    try:
        with open(BOOT_ID_FILE, encoding="ascii") as handle:
            return handle.read().strip() or None
    except (OSError, ValueError):
        return None


def pid_namespace():
    """This process's PID namespace as "st_dev:st_ino" of /proc/self/ns/pid (Linux), or None where unknown.

    The worker is forked from ansible-playbook, so it is in the same PID namespace as the pid the lock records.
    """
    try:
        ns = os.stat(PID_NS_FILE)
    except OSError:
        return None
    return "%d:%d" % (ns.st_dev, ns.st_ino)


def run_identity(task_vars, purpose):
    """Who holds the lock: user, host, boot, PID namespace, the ansible-playbook pid and start time, play, AWX job."""
    pid = os.getppid()  # the action runs in a worker forked from ansible-playbook
    ident = {
        "run_id": uuid.uuid4().hex,
        "purpose": purpose,
        "user": _user(),
        "host": socket.gethostname(),
        "pid": pid,
        "pid_start": pid_start_time(pid),
        "boot_id": boot_id(),
        "pid_ns": pid_namespace(),
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


def _owner(uid):
    try:
        import pwd  # POSIX only, like the controller

        return "uid %d (%s)" % (uid, pwd.getpwuid(uid).pw_name)
    except (ImportError, KeyError):
        return "uid %d" % uid


def lock_dir_problem(path, st, euid):
    """Why the lock directory `path` (os.stat result `st`) is unsafe for a run as `euid`, or None when it is safe.

    Accepted owners: this user, or root (root can do anything here anyway; root-owned shared directories such as
    /tmp or an admin's /srv/vault-dr/locks are the normal case). A directory owned by another ordinary user is
    refused even with the sticky bit: its owner may remove or replace any file in it. A directory that group or
    others can write is refused unless it is sticky, where only a file's owner can remove or rename it.
    """
    mode = stat.S_IMODE(st.st_mode)
    if not stat.S_ISDIR(st.st_mode):
        return "The lock directory %s is not a directory: set another lock directory." % path
    if st.st_uid not in (euid, 0):
        return ("Refusing the lock directory %s: it is owned by %s, neither this user (%s) nor root, and its owner "
                "could remove or replace any run's lock in it. Use a directory of your own, or have it owned by root "
                "(chown root %s; shared by a group of DR operators: chgrp GROUP and chmod 3770), or set another lock "
                "directory (failover_run_lock_dir / failback_run_lock_dir, or VAULTOPS_DR_LOCK_DIR)."
                % (path, _owner(st.st_uid), _owner(euid), path))
    if mode & 0o022 and not mode & stat.S_ISVTX:
        who = {0o022: "group and others", 0o020: "group", 0o002: "others"}[mode & 0o022]
        return ("Refusing the lock directory %s (mode %04o, owner %s): it is writable by %s without the sticky bit, "
                "so any of them could remove or replace another run's lock. Set the sticky bit (chmod +t %s: mode "
                "3770 for a group of DR operators, 1777 for everyone), or take their write access away "
                "(chmod go-w %s), or set another lock directory (failover_run_lock_dir / failback_run_lock_dir, or "
                "VAULTOPS_DR_LOCK_DIR)." % (path, mode, _owner(st.st_uid), who, path, path))
    return None


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
            fd = os.open(path, _READ_FLAGS)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK) or os.path.islink(path):  # EMLINK: the BSDs' O_NOFOLLOW
                raise LockError(
                    "The lock file %s is a symbolic link: refusing to follow it (a link planted there could make this "
                    "run read, or remove, a file elsewhere). See who created it (ls -l %s), remove it, and run again."
                    % (path, path)) from None
            raise LockError("Cannot read the lock file %s (%s): check its permissions." % (path, exc.strerror)) from None
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise LockError("The lock file %s is not a regular file: see who created it (ls -l %s), remove it, and "
                                "run again." % (path, path))
            data = handle.read(MAX_LOCK_BYTES + 1)
        try:
            holder = json.loads(data.decode("utf-8")) if len(data) <= MAX_LOCK_BYTES else None
        except ValueError:
            return {}
        return holder if isinstance(holder, dict) else {}

    def is_mine(self, holder):
        # The same pid in another PID namespace or boot is another run (two containers both run pid 7).
        return bool(holder) and holder.get("host") == self.me["host"] and holder.get("pid") == self.me["pid"] and (
            holder.get("boot_id") == self.me.get("boot_id") and holder.get("pid_ns") == self.me.get("pid_ns")) and (
            not holder.get("pid_start") or not self.me.get("pid_start") or holder["pid_start"] == self.me["pid_start"])

    def unverifiable(self, holder):
        """Why this run cannot tell whether `holder` still runs; None when it can (same host, boot, PID namespace)."""
        if holder.get("host") != self.me["host"]:
            return "it was taken on another host (%s)" % holder.get("host", "?")
        if not isinstance(holder.get("pid"), int):
            return "it records no pid"
        if not self.me.get("boot_id") or not self.me.get("pid_ns"):
            return ("this controller cannot read its own boot id and PID namespace (%s, %s), so it cannot tell whether "
                    "pid %s is that run" % (BOOT_ID_FILE, PID_NS_FILE, holder["pid"]))
        # A lock from an older vaultops.dr (hostname + pid only) is not taken over: its pid may belong to another
        # PID namespace with the same hostname, and a live run mistaken for a dead one means two DR runs at once.
        if not holder.get("boot_id") or not holder.get("pid_ns"):
            return ("it records no boot id or PID namespace (written by an older vaultops.dr), so its pid %s may belong "
                    "to a container or a cloned machine with the same hostname" % holder["pid"])
        if holder["boot_id"] != self.me["boot_id"]:
            return ("it was taken under another boot (boot id %s; this one is %s): either this machine has rebooted "
                    "since, and that run is gone, or another machine with the same hostname (a cloned VM) holds it"
                    % (holder["boot_id"], self.me["boot_id"]))
        if holder["pid_ns"] != self.me["pid_ns"]:
            return ("it was taken in another PID namespace (%s; this run is in %s): a container or another controller "
                    "with the same hostname, whose pid %s means nothing here" % (holder["pid_ns"], self.me["pid_ns"], holder["pid"]))
        return None

    def is_stale(self, holder):
        """A holder in this host's boot and PID namespace whose process is gone; any other holder is taken as live."""
        if not holder or self.unverifiable(holder):
            return False
        return not pid_alive(holder["pid"], holder.get("pid_start"))

    # ------------------------------------------------------------------ writing
    def _create(self, path, record):
        """Create the lock file with its full content, atomically; False when it exists."""
        data = json.dumps(record, indent=2, sort_keys=True) + "\n"
        tmp = "%s.%s.tmp" % (path, self.me["run_id"])
        try:
            fd = os.open(tmp, _CREATE_FLAGS, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(data)
                handle.flush()
                # Complete: readable by the other operators of a shared directory, so a refused run can name the
                # holder (a lock holds no secret). Nobody but its owner can write it.
                os.fchmod(handle.fileno(), 0o644)
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
                fd = os.open(path, _CREATE_FLAGS, 0o600)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(data)
                handle.flush()
                os.fchmod(handle.fileno(), 0o644)
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
                os.makedirs(self.dir, mode=0o700)
                os.chmod(self.dir, 0o700)  # owner only, whatever the umask
            except FileExistsError:
                pass
            except OSError as exc:
                raise LockError("Cannot create the lock directory %s (%s): create it, or set another lock "
                                "directory." % (self.dir, exc.strerror)) from None
        self._check_dir(check)
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

    def _check_dir(self, check):
        """Refuse a lock directory that another user could tamper with (check mode too: a real run would fail).

        release() does not check: it removes only files that name this run, taken where this check passed.
        """
        try:
            st = os.stat(self.dir)  # a symlinked directory is judged by the directory it points to
        except FileNotFoundError:
            if check:
                return  # check mode creates nothing; a real run creates it owner-only
            raise LockError("The lock directory %s vanished: run again." % self.dir) from None
        except OSError as exc:
            raise LockError("Cannot read the lock directory %s (%s): check its permissions, or set another lock "
                            "directory." % (self.dir, exc.strerror)) from None
        problem = lock_dir_problem(self.dir, st, os.geteuid())
        if problem:
            raise LockError(problem)

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
                       "writes to the same clusters. Wait for it to finish and run again"
                       % (self.me.get("purpose") or "this run", describe(holder), name, path))
                why = self.unverifiable(holder)
                if why:
                    msg += (". Whether that run still runs cannot be checked from here: %s. Once you have made sure it "
                            "has ended (ps -p %s where it ran, or its AWX job's status), remove %s and run again."
                            % (why, holder.get("pid", "?"), path))
                else:
                    msg += " (it runs on this host: a run that is killed is taken over automatically)."
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
