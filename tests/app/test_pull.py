#!/usr/bin/env python3
"""tests/app/test_pull.py - `cove pull` and `cove models` against a local HTTP server.

usage: test_pull.py PATH-TO-COVE

Starts an HTTP server on 127.0.0.1 (a free port, in a thread) that serves a
generated file with Range support and can drop a connection half-way, ignore
Range, redirect or answer 404. Every cove run gets a fresh temporary
COVE_MODELS and HOME, and a temporary COVE_CATALOGUE for catalogue names.
Standard library only. Ends with "N passed, N failed".
"""
import hashlib
import http.server
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import traceback

COVE = None
RUN_TIMEOUT = 30
PAYLOAD = random.Random(20240611).randbytes(3 * 1024 * 1024 + 123)
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
WRONG_SHA = "0" * 64


class State:
    """What the server does next and what it has seen; guarded by lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []  # (path, Range header or None)
        self.drop_next = False  # send half of the next body, then close
        self.ignore_range = False  # answer 200 with the whole body to a Range request

    def record(self, path, rng):
        with self.lock:
            self.requests.append((path, rng))

    def count(self):
        with self.lock:
            return len(self.requests)

    def take_drop(self):
        with self.lock:
            drop, self.drop_next = self.drop_next, False
            return drop


STATE = State()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep the test output clean
        pass

    def do_GET(self):
        rng = self.headers.get("Range")
        STATE.record(self.path, rng)
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", "/files/" + self.path[len("/redirect/"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if not self.path.startswith("/files/"):
            body = b"not found\n"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_file(rng)

    def send_file(self, rng):
        start = 0
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m and not STATE.ignore_range:
            start = int(m.group(1))
            if start >= len(PAYLOAD):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(PAYLOAD))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range",
                             "bytes %d-%d/%d" % (start, len(PAYLOAD) - 1, len(PAYLOAD)))
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if STATE.take_drop():
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # cove closing a connection early is part of the tests


class Server:
    def __enter__(self):
        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)


def closed_port():
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Env:
    """A temporary cache, home and catalogue for one test."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="cove-test-pull-")
        self.cache = os.path.join(self.root, "models")
        self.catalogue = os.path.join(self.root, "catalogue.tsv")

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def write_catalogue(self, rows):
        head = ("name\tpurpose\tdefault\tformat\tstate\tfile\tsize\tsha256\turl\tpypi\t"
                "pypi_path\tlicence\n")
        with open(self.catalogue, "w") as f:
            f.write("# test catalogue\n" + head)
            for name, file, size, sha, url in rows:
                f.write("\t".join([name, "instruct", "yes", "gguf-q4_0", "ready", file,
                                   str(size), sha, url, "test-pkg==1.0", "test/" + file,
                                   "mit"]) + "\n")

    def run(self, *args):
        env = {k: v for k, v in os.environ.items()
               if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
        env.update(COVE_MODELS=self.cache, HOME=self.root, COVE_CATALOGUE=self.catalogue)
        return subprocess.run([COVE] + list(args), env=env, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT)

    def path(self, name):
        return os.path.join(self.cache, name)


def expect(cond, what, r=None):
    if not cond:
        extra = ""
        if r is not None:
            extra = "\n  exit %d\n  stdout: %s\n  stderr: %s" % (r.returncode, r.stdout.strip(),
                                                                r.stderr.strip())
        raise AssertionError(what + extra)


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ---- the cases: each gets the server and a fresh Env ----

def test_full_download(srv, env):
    r = env.run("pull", srv.url("/files/model.bin"), "--sha256", PAYLOAD_SHA)
    expect(r.returncode == 0, "download failed", r)
    expect(read(env.path("model.bin")) == PAYLOAD, "downloaded bytes differ")
    expect(not os.path.exists(env.path("model.bin.part")), ".part left behind")
    expect(r.stdout.split() == [PAYLOAD_SHA, env.path("model.bin")], "stdout", r)


def test_output_option_and_redirect(srv, env):
    out = os.path.join(env.root, "sub", "x.gguf")
    r = env.run("pull", srv.url("/redirect/model.bin"), "--sha256", PAYLOAD_SHA.upper(),
                "-o", out)
    expect(r.returncode == 0, "download through a redirect failed", r)
    expect(read(out) == PAYLOAD, "bytes differ")


def test_resume_after_drop(srv, env):
    STATE.drop_next = True
    r = env.run("pull", srv.url("/files/model.bin"), "--sha256", PAYLOAD_SHA)
    expect(r.returncode == 1, "a dropped connection must fail", r)
    expect("resume" in r.stderr, "the message should say how to resume", r)
    part = env.path("model.bin.part")
    expect(os.path.exists(part), ".part should be kept for a resume")
    have = os.path.getsize(part)
    expect(0 < have < len(PAYLOAD), "a half-full .part (%d bytes)" % have)
    expect(not os.path.exists(env.path("model.bin")), "no final file after a failure")
    before = STATE.count()
    r = env.run("pull", srv.url("/files/model.bin"), "--sha256", PAYLOAD_SHA)
    expect(r.returncode == 0, "resume failed", r)
    expect(STATE.requests[before:] == [("/files/model.bin", "bytes=%d-" % have)],
           "expected one Range request, saw %r" % (STATE.requests[before:],))
    expect(read(env.path("model.bin")) == PAYLOAD, "resumed bytes differ")
    expect(not os.path.exists(part), ".part left behind")


def test_resume_when_server_ignores_range(srv, env):
    os.makedirs(env.cache)
    with open(env.path("model.bin.part"), "wb") as f:
        f.write(b"garbage that a server without Range support makes us drop")
    STATE.ignore_range = True
    try:
        r = env.run("pull", srv.url("/files/model.bin"), "--sha256", PAYLOAD_SHA)
    finally:
        STATE.ignore_range = False
    expect(r.returncode == 0, "restart after a refused Range failed", r)
    expect(read(env.path("model.bin")) == PAYLOAD, "bytes differ")


def test_wrong_checksum(srv, env):
    r = env.run("pull", srv.url("/files/model.bin"), "--sha256", WRONG_SHA)
    expect(r.returncode == 1, "a wrong checksum must fail", r)
    expect("checksum" in r.stderr and "removed" in r.stderr, "message", r)
    expect(not os.path.exists(env.path("model.bin")), "file left after a wrong checksum")
    expect(not os.path.exists(env.path("model.bin.part")), ".part left after a wrong checksum")


def test_http_404(srv, env):
    r = env.run("pull", srv.url("/missing/model.bin"))
    expect(r.returncode == 1, "404 must fail", r)
    expect("404" in r.stderr, "the message should name the HTTP status", r)
    expect(not os.listdir(env.cache) if os.path.isdir(env.cache) else True,
           "nothing may be left in the cache after a 404")


def test_unreachable_url(srv, env):
    r = env.run("pull", "http://127.0.0.1:%d/model.bin" % closed_port())
    expect(r.returncode == 1, "an unreachable host must fail", r)
    expect("could not reach 127.0.0.1" in r.stderr, "message names the host", r)


def test_unreachable_catalogue_name(srv, env):
    url = "http://127.0.0.1:%d/model.bin" % closed_port()
    env.write_catalogue([("tiny-model", "tiny.gguf", len(PAYLOAD), PAYLOAD_SHA, url)])
    r = env.run("pull", "tiny-model")
    expect(r.returncode == 1, "an unreachable host must fail", r)
    expect("could not reach" in r.stderr and "scripts/models.sh tiny-model" in r.stderr,
           "the message should say to run scripts/models.sh", r)


def test_bad_usage(srv, env):
    url = srv.url("/files/model.bin")
    for args in (["pull"], ["pull", "a", "b"], ["pull", url, "--sha256", "xyz"],
                 ["pull", "--bogus"], ["pull", url, "--sha256"], ["pull", "ftp://h/x"],
                 ["pull", "some-name", "--sha256", PAYLOAD_SHA], ["models", "--bogus"]):
        r = env.run(*args)
        expect(r.returncode == 2, "cove %s: expected exit 2" % " ".join(args), r)
    expect(STATE.count() == 0, "bad usage must not reach the network")
    for cmd in ("pull", "models"):
        r = env.run(cmd, "--help")
        expect(r.returncode == 0 and "usage: cove " + cmd in r.stdout, cmd + " --help", r)


def test_cached_url_not_downloaded_again(srv, env):
    url = srv.url("/files/model.bin")
    r = env.run("pull", url, "--sha256", PAYLOAD_SHA)
    expect(r.returncode == 0, "first download failed", r)
    before = STATE.count()
    r = env.run("pull", url, "--sha256", PAYLOAD_SHA)
    expect(r.returncode == 0, "second pull failed", r)
    expect(STATE.count() == before, "a cached file must not be requested again")
    expect("already" in r.stderr, "should say the file is in place", r)


def test_catalogue_name(srv, env):
    env.write_catalogue([("tiny-model", "tiny/tiny.gguf", len(PAYLOAD), PAYLOAD_SHA,
                          srv.url("/files/model.bin"))])
    r = env.run("models")
    expect(r.returncode == 0 and re.search(r"tiny-model .* no\n", r.stdout), "models: absent", r)
    r = env.run("pull", "tiny-model")
    expect(r.returncode == 0, "pull by name failed", r)
    expect(read(env.path("tiny/tiny.gguf")) == PAYLOAD, "bytes differ")
    before = STATE.count()
    r = env.run("pull", "tiny-model")
    expect(r.returncode == 0 and STATE.count() == before, "cached name re-requested", r)
    r = env.run("models", "--verify")
    expect(r.returncode == 0 and re.search(r"tiny-model .* verified", r.stdout), "verify", r)
    data = bytearray(PAYLOAD)
    data[1000] ^= 0xFF
    with open(env.path("tiny/tiny.gguf"), "wb") as f:
        f.write(data)
    r = env.run("models", "--verify")
    expect(r.returncode == 1 and "DAMAGED" in r.stdout, "a corrupt file must be reported", r)
    r = env.run("pull", "tiny-model")
    expect(r.returncode == 0 and STATE.count() == before + 1, "a corrupt file is replaced", r)
    expect(read(env.path("tiny/tiny.gguf")) == PAYLOAD, "bytes differ after the repair")


def test_catalogue_wrong_checksum(srv, env):
    env.write_catalogue([("tiny-model", "tiny.gguf", len(PAYLOAD), WRONG_SHA,
                          srv.url("/files/model.bin"))])
    r = env.run("pull", "tiny-model")
    expect(r.returncode == 1 and "checksum" in r.stderr, "wrong catalogue checksum", r)
    expect(not os.path.exists(env.path("tiny.gguf")), "file left")
    expect(not os.path.exists(env.path("tiny.gguf.part")), ".part left")


def test_larger_than_catalogue_size(srv, env):
    env.write_catalogue([("tiny-model", "tiny.gguf", 1000, PAYLOAD_SHA,
                          srv.url("/files/model.bin"))])
    r = env.run("pull", "tiny-model")
    expect(r.returncode == 1, "a file larger than the catalogue says must fail", r)
    expect(not os.path.exists(env.path("tiny.gguf")), "file left")
    expect(not os.path.exists(env.path("tiny.gguf.part")), ".part left")


def test_unknown_name_and_bad_catalogue(srv, env):
    env.write_catalogue([("tiny-model", "tiny.gguf", len(PAYLOAD), PAYLOAD_SHA,
                          srv.url("/files/model.bin"))])
    r = env.run("pull", "no-such-model")
    expect(r.returncode == 1 and "no model" in r.stderr, "unknown name", r)
    env.write_catalogue([("tiny-model", "../escape.gguf", len(PAYLOAD), PAYLOAD_SHA,
                          srv.url("/files/model.bin"))])
    r = env.run("pull", "tiny-model")
    expect(r.returncode == 1 and "bad file path" in r.stderr, "a path outside the cache", r)
    expect(STATE.count() == 0, "no request for a bad catalogue")


def test_malformed_catalogues(srv, env):
    head = ("name\tpurpose\tdefault\tformat\tstate\tfile\tsize\tsha256\turl\tpypi\t"
            "pypi_path\tlicence\n")
    url = srv.url("/files/model.bin")

    def row(name="m", state="ready", file="m.gguf", size="10", sha=PAYLOAD_SHA, purpose="base"):
        return "\t".join([name, purpose, "yes", "gguf", state, file, size, sha, url, "p==1",
                          "p/m", "mit"]) + "\n"

    cases = {
        "unknown column": head.replace("licence", "license") + row(),
        "sha256 must be": head + row(sha="ABC"),
        "bad size": head + row(size="12x"),
        "purpose must be": head + row(purpose="chat"),
        "not adjacent": head + row(state="convert") + row("n", file="n.gguf")
                        + row(state="convert", file="m2"),
        "listed twice": head + row() + row("n"),
        "more than one file": head + row() + row(file="m2.gguf"),
        "expected 12": head + row().replace("\tmit", ""),
        "no header": "# only a comment\n",
    }
    for want, text in cases.items():
        with open(env.catalogue, "w") as f:
            f.write(text)
        r = env.run("models")
        expect(r.returncode == 1 and want in r.stderr, "catalogue error '%s'" % want, r)
    with open(env.catalogue, "w") as f:
        f.write("# comment\r\n\r\n" + head.replace("\n", "\r\n") + row().replace("\n", "\r\n"))
    r = env.run("models")
    expect(r.returncode == 0 and "\nm " in r.stdout, "CRLF catalogue", r)


CASES = [v for k, v in list(globals().items()) if k.startswith("test_")]


def main():
    global COVE
    if len(sys.argv) != 2:
        print("usage: test_pull.py PATH-TO-COVE", file=sys.stderr)
        return 2
    COVE = os.path.abspath(sys.argv[1])
    passed = failed = 0
    with Server() as srv:
        for case in CASES:
            env = Env()
            with STATE.lock:
                STATE.requests.clear()
            try:
                case(srv, env)
                passed += 1
                print("ok   %s" % case.__name__)
            except Exception:  # report and go on with the next case
                failed += 1
                print("FAIL %s\n%s" % (case.__name__, traceback.format_exc()))
            finally:
                env.close()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
