"""The gateway process: bootstrap OpenBao, serve the API and cluster addresses, follow a primary, stop on
SIGTERM/SIGINT (stopping OpenBao too)."""

from __future__ import annotations

import argparse
import os
import signal
import threading
import traceback
from types import FrameType

from .core import Gateway
from .server import Routes, TLSServer, make_ctx


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m drlab.gateway")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--name", required=True)
    args = ap.parse_args(argv)
    gw = Gateway(args.dir, args.name)
    servers: list[TLSServer] = []

    def _term(signum: int, frame: FrameType | None) -> None:
        gw.stop_event.set()
        for srv in servers:
            threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    ready = os.path.join(gw.cdir, "gateway.ready")
    if os.path.exists(ready):
        os.unlink(ready)
    try:
        gw.bao.bootstrap()
    except Exception:  # noqa: BLE001 - reported in gateway.log
        traceback.print_exc()
        gw.bao.stop()
        return 1
    ctx = make_ctx(gw.cfg)
    routes = Routes(gw)
    servers += [TLSServer(("127.0.0.1", gw.cfg["api_port"]), ctx, gw, routes, "api"),
                TLSServer(("127.0.0.1", gw.cfg["cluster_port"]), ctx, gw, routes, "cluster")]
    threads = [threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True) for srv in servers]
    threads.append(threading.Thread(target=gw.follower.loop, daemon=True))
    for t in threads:
        t.start()
    with open(ready, "w") as fh:
        fh.write(str(os.getpid()))
    print(f"drlab gateway {gw.name}: api {gw.cfg['api_addr']} cluster {gw.cfg['cluster_addr']} bao {gw.cfg['bao_addr']}", flush=True)
    while not gw.stop_event.wait(1):
        pass
    for srv in servers:
        srv.server_close()
    gw.bao.stop()
    try:
        os.unlink(ready)
    except FileNotFoundError:
        pass
    return 0
