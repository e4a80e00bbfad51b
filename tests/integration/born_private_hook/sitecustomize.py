"""Test-only (tests/integration/born_private.py): imported at start-up by every Python process of a playbook run
whose PYTHONPATH starts with this directory (ansible-playbook, its workers, each module).

Before each file operation the process makes (audit events: open, chmod, rename, chown, utime, shutil's copies),
it records every regular file in VAULTOPS_WATCH_DIR whose inode, mode or emptiness changed since it last looked.
Every change a process makes to a file is thus seen at its next file operation: a secret file written and then
chmod'ed to 0600 is seen with its bytes and its first mode at that chmod. Names, modes and sizes only: no content.
"""

import os
import stat
import sys

_DIR = os.environ.get("VAULTOPS_WATCH_DIR")
_LOG = os.environ.get("VAULTOPS_WATCH_LOG")
_EVENTS = frozenset({
    "open", "os.chmod", "os.chown", "os.rename", "os.replace", "os.link", "os.symlink", "os.truncate", "os.utime",
    "os.remove", "os.rmdir", "os.mkdir", "shutil.copyfile", "shutil.copymode", "shutil.copystat", "shutil.move",
})
_busy = False
_seen = {}


def _look(event, _args):
    global _busy  # noqa: PLW0603 - the hook must not see its own scandir/open
    if _busy or event not in _EVENTS:
        return
    _busy = True
    try:
        lines = []
        with os.scandir(_DIR) as entries:
            for entry in entries:
                try:
                    st = os.lstat(entry.path)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                key = (st.st_ino, stat.S_IMODE(st.st_mode), st.st_size > 0)
                if _seen.get(entry.name) != key:
                    _seen[entry.name] = key
                    lines.append("%d\t%s\t%s\t%o\t%d\t%d\n" % (
                        os.getpid(), event, entry.name, stat.S_IMODE(st.st_mode), st.st_size, st.st_ino))
        if lines:
            fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, "".join(lines).encode())
            finally:
                os.close(fd)
    except OSError:
        pass
    finally:
        _busy = False


if _DIR and _LOG:
    sys.addaudithook(_look)
