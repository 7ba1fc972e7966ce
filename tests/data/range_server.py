"""A small HTTP server with byte ranges (what object stores answer), run as its own
process by the shard tests: ``python -m tests.data.range_server FOLDER PORT_FILE [DROPS]``.

It serves FOLDER on 127.0.0.1 at a free port, written to PORT_FILE. With DROPS > 0 the
first DROPS range responses stop halfway and close the connection (a dropped
connection); DROPS = -1 drops every one."""

import http.server
import sys
from pathlib import Path


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_HEAD(self):  # noqa: N802
        self._answer(body=False)

    def do_GET(self):  # noqa: N802
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        path = self.server.folder / self.path.lstrip("/").split("?")[0]
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start, end = 0, len(data)
        ranged = self.headers.get("Range", "").startswith("bytes=")
        if ranged:
            first, _, last = self.headers["Range"][6:].partition("-")
            start = int(first or 0)
            end = min(int(last) + 1, len(data)) if last else len(data)
        chunk = data[start:end]
        self.send_response(206 if ranged else 200)
        self.send_header("Content-Length", str(len(chunk)))
        self.send_header("Accept-Ranges", "bytes")
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        self.end_headers()
        if not body:
            return
        if ranged and self.server.drops != 0:
            self.server.drops -= 1 if self.server.drops > 0 else 0
            self.wfile.write(chunk[: len(chunk) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(chunk)

    def log_message(self, *args):
        pass


def main() -> None:
    folder, port_file = Path(sys.argv[1]), Path(sys.argv[2])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.folder, server.drops = folder, int(sys.argv[3]) if len(sys.argv) > 3 else 0
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
