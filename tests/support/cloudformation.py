"""CloudFormation's side of a custom resource: the pre-signed URL it waits on for the answer, stood in for by
a listener on 127.0.0.1 that keeps each answer PUT to it (with its Content-Type, which must be empty)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any


class ResponseListener:
    def __init__(self) -> None:
        self.answers: list[tuple[str | None, dict[str, Any]]] = []
        listener = self

        class Answer(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                listener.answers.append((self.headers.get("Content-Type"), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = HTTPServer(("127.0.0.1", 0), Answer)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/cloudformation-response"

    def stop(self) -> None:
        self._server.shutdown()
