"""tests/agent/fake_model.py - a scripted OpenAI-compatible model for the agent CLI tests.

    with fake_model([plan1, plan2]) as (url, requests):
        run("ask", "--remote", url, ...)
    path, auth, body = requests[0]

POST /v1/chat/completions answers each request with the next scripted reply (then "{}")
and records (path, Authorization header, JSON body). Listens on 127.0.0.1 only.
"""
import contextlib
import http.server
import json
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    replies = []
    requests = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append((self.path, self.headers.get("Authorization"), body))
        content = self.replies.pop(0) if self.replies else "{}"
        data = json.dumps({"choices": [{"message": {"role": "assistant",
                                                    "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def fake_model(replies):
    handler = type("Scripted", (_Handler,), {"replies": list(replies), "requests": []})
    srv = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", handler.requests
    finally:
        srv.shutdown()
        srv.server_close()
