"""The mode a secret file is born with, watched from inside the playbook run (issue 20, item 4).

A playbook run under umask 000 with `Watch(directory).env` loads born_private_hook/sitecustomize.py into each of
its Python processes: before every file operation a process makes, the hook notes each file in `directory` whose
inode, mode or emptiness changed. ansible-core's copy and uri (atomic_move) give a file they create 0666 & ~umask
and chmod it to `mode` only after the content is in: under umask 000 the hook sees that file, with its bytes, at
0666 when that chmod starts. A file born 0600 (created empty and 0600 first, then replaced) is never seen so.
"""

from __future__ import annotations

import fnmatch
import os
from contextlib import contextmanager
from pathlib import Path

HOOK = Path(__file__).resolve().parent / "born_private_hook"


@contextmanager
def umask(mask):
    """The test process's umask (the playbook it starts inherits it), put back afterwards."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


class Watch:
    def __init__(self, directory, log):
        self.directory, self.log = Path(directory), Path(log)

    @property
    def env(self):
        return {"PYTHONPATH": os.pathsep.join(p for p in (str(HOOK), os.environ.get("PYTHONPATH", "")) if p),
                "VAULTOPS_WATCH_DIR": str(self.directory), "VAULTOPS_WATCH_LOG": str(self.log)}

    def observations(self):
        if not self.log.exists():
            return []
        seen = []
        for line in self.log.read_text().splitlines():
            pid, event, name, mode, size, inode = line.split("\t")
            seen.append({"pid": int(pid), "event": event, "name": name, "mode": int(mode, 8), "size": int(size),
                         "inode": int(inode)})
        return seen

    def assert_born_private(self, *patterns):
        """Each file matching a pattern was seen holding bytes (the hook ran while it was written), never with
        bytes and a mode others can read, and is 0600 now."""
        seen = self.observations()
        for pattern in patterns:
            mine = [o for o in seen if fnmatch.fnmatch(o["name"], pattern)]
            assert any(o["size"] > 0 for o in mine), "%s: never seen written (%d observations in %s)" % (
                pattern, len(seen), self.log)
            exposed = [o for o in mine if o["size"] > 0 and o["mode"] & 0o077]
            assert not exposed, "%s held bytes while others could read it: %s" % (
                pattern, ", ".join("%s %o with %d bytes at %s (pid %d)" % (
                    o["name"], o["mode"], o["size"], o["event"], o["pid"]) for o in exposed))
            now = [p for p in self.directory.iterdir() if fnmatch.fnmatch(p.name, pattern)]
            assert now and all(p.stat().st_mode & 0o777 == 0o600 for p in now), [
                (p.name, oct(p.stat().st_mode & 0o777)) for p in now]
