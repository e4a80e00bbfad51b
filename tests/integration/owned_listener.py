"""An HTTP listener the test owns, for drlab's redirect knob (`lab.redirect(name, listener.url, path=...)`): it
records every request that reaches it (method, path, headers, body) and answers 200 `{}`. A test asserts it
received nothing, or at least no secret, after the collection was redirected to it (issue 20, item 1)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Listener:
    def __init__(self):
        self.requests = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                             "body": self.rfile.read(length).decode("utf-8", "replace") if length else ""})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = do_PUT = do_DELETE = do_LIST = _record  # noqa: N815 - http.server's names

            def log_message(self, *_args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._server.shutdown()
        self._server.server_close()

    def received(self, secrets):
        """The secrets (of `secrets`) found in any request that reached the listener."""
        text = repr(self.requests)
        return [s for s in secrets if s and s in text]
