"""The double-launch guard's lock files (plugins/plugin_utils/_run_lock.py) and its action plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail
from ansible_collections.vaultops.dr.plugins.action.run_lock import ActionModule
from ansible_collections.vaultops.dr.plugins.plugin_utils import _run_lock as rl

NAMES = ["https://vault-a.example.com:8200", "https://vault-b.example.com:8200"]


def ident(pid=None, host=None, **extra):
    me = rl.run_identity({"ansible_play_name": "Fail over Vault DR"}, "failover to b")
    if pid is not None:
        me.update(pid=pid, pid_start=rl.pid_start_time(pid))
    if host:
        me["host"] = host
    me.update(extra)
    return me


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_acquire_writes_one_lock_per_name_naming_the_run(tmp_path):
    me = ident()
    out = rl.RunLock(str(tmp_path), me).acquire(NAMES)
    assert out["acquired"] == sorted(NAMES) and out["changed"] and not out["warnings"]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["https_vault-a.example.com_8200.lock", "https_vault-b.example.com_8200.lock"]
    held = json.loads((tmp_path / files[0]).read_text())
    assert held["pid"] == os.getppid() and held["purpose"] == "failover to b" and held["play"] == "Fail over Vault DR"
    assert held["user"] and held["host"] and held["started"].endswith("Z")


def test_the_same_run_joins_and_releases(tmp_path):
    lock = rl.RunLock(str(tmp_path), ident())
    lock.acquire(NAMES)
    again = rl.RunLock(str(tmp_path), ident()).acquire(NAMES)  # a new task of the same ansible-playbook
    assert again["joined"] == sorted(NAMES) and again["acquired"] == [] and not again["changed"]
    out = rl.RunLock(str(tmp_path), ident()).release(NAMES)
    assert out["released"] == sorted(NAMES) and list(tmp_path.iterdir()) == []
    assert not rl.RunLock(str(tmp_path), ident()).release(NAMES)["changed"]  # nothing left: no change


def test_a_live_run_refuses_the_second_all_or_nothing(tmp_path):
    other = ident(pid=os.getpid(), awx_job_id="57", awx_job_template="DR change", awx_user="alice")
    rl.RunLock(str(tmp_path), other).acquire(NAMES[1:])
    with pytest.raises(rl.LockBusy) as err:
        rl.RunLock(str(tmp_path), ident()).acquire(NAMES)
    msg = str(err.value)
    assert "Refusing to start failover to b" in msg and "pid %d" % os.getpid() in msg
    assert "AWX job 57 of 'DR change' launched by alice" in msg and NAMES[1] in msg
    assert err.value.holder["run_id"] == other["run_id"]
    # The name taken before the refusal was given back: only the other run's lock is left.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["https_vault-b.example.com_8200.lock"]
    # And the refused run cannot release the other's lock.
    out = rl.RunLock(str(tmp_path), ident()).release(NAMES)
    assert out["released"] == [] and "not by this run" in out["warnings"][0]


def test_a_dead_holder_on_this_host_is_taken_over_with_a_warning(tmp_path):
    stale = ident(pid=dead_pid())
    rl.RunLock(str(tmp_path), stale).acquire(NAMES)
    out = rl.RunLock(str(tmp_path), ident()).acquire(NAMES)
    assert out["acquired"] == sorted(NAMES) and [h["run_id"] for h in out["took_over"]] == [stale["run_id"]] * 2
    assert len(out["warnings"]) == 1 and "no longer runs" in out["warnings"][0]
    assert json.loads((tmp_path / rl.lock_file_name(NAMES[0])).read_text())["pid"] == os.getppid()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(rl.lock_file_name(n) for n in NAMES)  # nothing aside


def test_a_reused_pid_is_not_the_holder(tmp_path):
    reused = ident(pid=os.getpid())
    reused["pid_start"] = "1"  # the pid runs, but it is another process than the one that took the lock
    rl.RunLock(str(tmp_path), reused).acquire(NAMES[:1])
    assert rl.RunLock(str(tmp_path), ident()).acquire(NAMES[:1])["took_over"]


def test_a_holder_on_another_host_is_never_taken_over(tmp_path):
    rl.RunLock(str(tmp_path), ident(pid=dead_pid(), host="controller-2")).acquire(NAMES[:1])
    with pytest.raises(rl.LockBusy) as err:
        rl.RunLock(str(tmp_path), ident()).acquire(NAMES[:1])
    assert "@controller-2" in str(err.value) and "remove %s" % err.value.path in str(err.value)


def test_an_unreadable_lock_refuses_with_what_to_do(tmp_path):
    (tmp_path / rl.lock_file_name(NAMES[0])).write_text("{not json")
    with pytest.raises(rl.LockBusy, match="unreadable.*remove it and run again"):
        rl.RunLock(str(tmp_path), ident()).acquire(NAMES[:1])


def test_check_mode_writes_nothing_and_warns(tmp_path):
    locks = tmp_path / "locks"
    out = rl.RunLock(str(locks), ident()).acquire(NAMES, check=True)
    assert out["acquired"] == sorted(NAMES) and not locks.exists()
    rl.RunLock(str(locks), ident(pid=os.getpid())).acquire(NAMES)
    out = rl.RunLock(str(locks), ident()).acquire(NAMES, check=True)
    assert out["acquired"] == [] and len(out["warnings"]) == 2 and out["warnings"][0].startswith("Check mode: Refusing")


def test_an_unwritable_directory_says_what_to_do(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(rl.LockError, match="Cannot create the lock directory .*set another lock directory"):
        rl.RunLock(str(blocker / "locks"), ident()).acquire(NAMES)


def test_default_directory_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(rl.LOCK_DIR_ENV, str(tmp_path / "shared"))
    assert rl.RunLock(None, ident()).dir == str(tmp_path / "shared")
    monkeypatch.delenv(rl.LOCK_DIR_ENV)
    assert rl.RunLock("", ident()).dir == os.path.expanduser("~/.ansible/vaultops_dr/locks")


def test_lock_file_names_are_safe():
    assert rl.lock_file_name("https://vault-a:8200/") == "https_vault-a_8200.lock"
    assert rl.lock_file_name("../../etc/passwd") == "etc_passwd.lock"
    assert rl.lock_file_name("///") == "lock.lock"


def _action(args, check_mode=False):
    task = mock.MagicMock(args=dict(args), check_mode=check_mode, async_val=0, action="vaultops.dr.run_lock")
    action = ActionModule(task, mock.MagicMock(), mock.MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    return action.run(task_vars={"ansible_play_name": "p", "awx_job_id": 7})


def test_action_plugin_ignores_connection_options_and_fails_cleanly(tmp_path):
    # Everything module_defaults for group/vaultops.dr.dr may set, wait options included.
    base = dict(lock_dir=str(tmp_path), url="https://x", token="s.secret-never-shown", wait=True, wait_timeout=60)
    out = _action(dict(base, names=NAMES))
    assert not out.get("failed") and out["acquired"] == sorted(NAMES) and out["holder"]["awx_job_id"] == "7"
    assert "s.secret" not in json.dumps(out)
    out = _action(dict(base, names=NAMES, state="absent"))
    assert out["released"] == sorted(NAMES)
    rl.RunLock(str(tmp_path), ident(pid=os.getpid())).acquire(NAMES[:1])
    refused = _action(dict(base, names=NAMES))
    assert refused["failed"] and "Refusing" in refused["msg"] and refused["lock_file"].endswith(".lock")
    # Ansible shows these as the task's failure message (no traceback).
    with pytest.raises(AnsibleActionFail, match="names is empty"):
        _action(dict(base, names=[]))
    with pytest.raises(AnsibleActionFail, match="state must be one of: present, absent"):
        _action(dict(base, names=NAMES, state="locked"))


# ---------------------------------------------------------------- issue 20 item 3: a lock nobody can plant or misread
def _plant(tmp_path, name, holder):
    """A lock file written by hand, as another controller (or an older vaultops.dr) would have left it."""
    path = tmp_path / rl.lock_file_name(name)
    path.write_text(json.dumps(holder))
    return path


def test_the_identity_records_boot_id_and_pid_namespace():
    me = ident()
    with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
        assert me["boot_id"] == handle.read().strip()
    ns = os.stat("/proc/self/ns/pid")
    assert me["pid_ns"] == "%d:%d" % (ns.st_dev, ns.st_ino)


@pytest.mark.parametrize("field, value, why", [
    ("pid_ns", "4:4026532999", "another PID namespace"),
    ("boot_id", "00000000-0000-4000-8000-000000000000", "another boot"),
])
def test_a_dead_pid_of_another_namespace_or_boot_is_busy_not_stale(tmp_path, field, value, why):
    # Same hostname, a pid that does not exist here: in another PID namespace (a container, a cloned VM) that
    # pid may well be the live ansible-playbook of another run. Taking it over would start a second DR run.
    holder = dict(ident(pid=dead_pid()), **{field: value})
    path = _plant(tmp_path, NAMES[0], holder)
    with pytest.raises(rl.LockBusy) as err:
        rl.RunLock(str(tmp_path), ident()).acquire(NAMES[:1])
    msg = " ".join(str(err.value).split())
    assert why in msg and "cannot be checked from here" in msg and "remove %s" % path in msg, msg
    assert json.loads(path.read_text())["run_id"] == holder["run_id"]  # left in place


def test_a_lock_without_boot_id_or_namespace_is_busy_not_stale(tmp_path):
    # Written by an older vaultops.dr (hostname + pid only): whether its pid is ours cannot be proven.
    holder = ident(pid=dead_pid())
    del holder["boot_id"], holder["pid_ns"]
    path = _plant(tmp_path, NAMES[0], holder)
    with pytest.raises(rl.LockBusy, match="older vaultops.dr") as err:
        rl.RunLock(str(tmp_path), ident()).acquire(NAMES[:1])
    assert "remove %s" % path in " ".join(str(err.value).split())


def test_a_controller_that_cannot_read_its_own_namespace_takes_nothing_over(tmp_path):
    rl.RunLock(str(tmp_path), ident(pid=dead_pid())).acquire(NAMES[:1])
    me = dict(ident(), boot_id=None)  # not Linux, or /proc hidden
    with pytest.raises(rl.LockBusy, match="cannot read its own boot id"):
        rl.RunLock(str(tmp_path), me).acquire(NAMES[:1])


def test_the_same_pid_in_another_namespace_is_not_this_run(tmp_path):
    # Two containers named alike both run ansible-playbook as pid 7: the other's lock must not be "joined".
    me = ident()
    _plant(tmp_path, NAMES[0], dict(me, run_id="other", pid_ns="4:4026532999"))
    with pytest.raises(rl.LockBusy):
        rl.RunLock(str(tmp_path), ident()).acquire(NAMES[:1])
    out = rl.RunLock(str(tmp_path), ident()).release(NAMES[:1])
    assert out["released"] == [] and (tmp_path / rl.lock_file_name(NAMES[0])).exists()


@pytest.mark.parametrize("target", ["a stale lock", "nothing"])
def test_a_symlink_at_the_lock_path_is_refused_never_followed(tmp_path, target):
    locks, elsewhere = tmp_path / "locks", tmp_path / "victim"
    locks.mkdir(mode=0o700)
    if target == "a stale lock":
        elsewhere.write_text(json.dumps(ident(pid=dead_pid())))
    link = locks / rl.lock_file_name(NAMES[0])
    link.symlink_to(elsewhere)
    before = elsewhere.read_text() if elsewhere.exists() else None
    with pytest.raises(rl.LockError, match="is a symbolic link: refusing to follow it") as err:
        rl.RunLock(str(locks), ident()).acquire(NAMES[:1])
    assert str(link) in str(err.value) and not isinstance(err.value, rl.LockBusy)
    assert link.is_symlink() and (elsewhere.read_text() if elsewhere.exists() else None) == before
    with pytest.raises(rl.LockError, match="symbolic link"):
        rl.RunLock(str(locks), ident()).release(NAMES[:1])


def test_a_fifo_at_the_lock_path_does_not_hang_the_run(tmp_path):
    os.mkfifo(tmp_path / rl.lock_file_name(NAMES[0]))
    with pytest.raises(rl.LockError, match="not a regular file"):
        rl.RunLock(str(tmp_path), ident()).acquire(NAMES[:1])


def test_the_temporary_file_is_created_exclusive_no_follow_and_private(tmp_path, monkeypatch):
    opened, real_open = [], os.open

    def spy(path, flags, mode=0o777, *args, **kwargs):
        fd = real_open(path, flags, mode, *args, **kwargs)
        if str(path).endswith(".tmp"):
            opened.append((flags, mode, os.fstat(fd).st_mode & 0o777))
        return fd

    monkeypatch.setattr(rl.os, "open", spy)
    old = os.umask(0)  # the mode the file is born with is the mode asked for, not the umask's
    try:
        rl.RunLock(str(tmp_path), ident()).acquire(NAMES[:1])
    finally:
        os.umask(old)
    ((flags, mode, born),) = opened
    assert flags & os.O_EXCL and flags & os.O_CREAT and flags & os.O_NOFOLLOW
    assert mode == 0o600 and born == 0o600


@pytest.mark.parametrize("mode, who", [(0o777, "group and others"), (0o770, "group"), (0o707, "others")])
def test_a_directory_others_can_write_without_the_sticky_bit_is_refused(tmp_path, mode, who):
    locks = tmp_path / "shared"
    locks.mkdir()
    locks.chmod(mode)
    with pytest.raises(rl.LockError) as err:
        rl.RunLock(str(locks), ident()).acquire(NAMES)
    msg = str(err.value)
    assert str(locks) in msg and "mode %04o" % mode in msg and "writable by %s without the sticky bit" % who in msg
    assert "chmod +t" in msg and "another lock directory" in msg
    assert list(locks.iterdir()) == []  # nothing written there
    with pytest.raises(rl.LockError, match="sticky"):
        rl.RunLock(str(locks), ident()).acquire(NAMES, check=True)  # check mode says so too
    locks.chmod(mode | 0o1000)  # sticky, like /tmp: nobody removes another's file
    assert rl.RunLock(str(locks), ident()).acquire(NAMES)["acquired"] == sorted(NAMES)


def _dir_stat(mode, uid):
    return os.stat_result((mode, 0, 0, 2, uid, 0, 4096, 0, 0, 0))


def test_lock_directory_owner_rules():
    me = 1000
    ok = [(0o40700, me), (0o41777, me), (0o41777, 0), (0o43770, 0), (0o40755, 0)]
    for mode, uid in ok:
        assert rl.lock_dir_problem("/d", _dir_stat(mode, uid), me) is None, (oct(mode), uid)
    # Another ordinary user owns it: sticky or not, its owner may remove or replace any file in it.
    for mode in (0o40700, 0o41777, 0o40755):
        msg = rl.lock_dir_problem("/srv/locks", _dir_stat(mode, 4242), me)
        assert "/srv/locks" in msg and "owned by uid 4242" in msg and "chown" in msg and "another lock directory" in msg
    assert "owned by uid 4242" in rl.lock_dir_problem("/d", _dir_stat(0o41777, 4242), 0)  # root too: its owner can
    assert "not a directory" in rl.lock_dir_problem("/d", _dir_stat(0o100600, me), me)


def test_a_missing_lock_directory_is_created_owner_only(tmp_path):
    old = os.umask(0)
    try:
        rl.RunLock(str(tmp_path / "a" / "locks"), ident()).acquire(NAMES[:1])
    finally:
        os.umask(old)
    assert (tmp_path / "a" / "locks").stat().st_mode & 0o7777 == 0o700
