#!/usr/bin/env python3
"""tests/app/test_pull.py - `cove pull` and `cove models` against a local HTTP server.

usage: test_pull.py PATH-TO-COVE

Starts an HTTP server on 127.0.0.1 (a free port, in a thread) that serves a
generated file with Range support and can drop a connection half-way, ignore
Range, redirect or answer 404, and the source files of a tiny llama in
Hugging Face form for models that the catalogue builds (cove pull converts
them in-process; the GGUF it must give is what `cove convert` writes from the
same files). Every cove run gets a fresh temporary COVE_MODELS and HOME, and a
temporary COVE_CATALOGUE for catalogue names. Standard library only (and
tests/tools/make_safetensors.py). Ends with "N passed, N failed".
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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import make_safetensors  # noqa: E402

COVE = None
RUN_TIMEOUT = 30
PAYLOAD = random.Random(20240611).randbytes(3 * 1024 * 1024 + 123)
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
WRONG_SHA = "0" * 64
HEAD = ("name\tpurpose\tdefault\tformat\tstate\tfile\tsize\tsha256\turl\tpypi\t"
        "pypi_path\tbuild\tlicence\n")
TINY_BUILD = "convert --type f16 --name tiny-llama"
TINY = {}  # source file name -> bytes, served at /hf/NAME
TINY_GGUF = {}  # "bytes": what `cove convert` + TINY_BUILD writes from TINY


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
        if self.path.startswith("/hf/") and self.path[4:] in TINY:
            self.send_file(rng, TINY[self.path[4:]])
            return
        if not self.path.startswith("/files/"):
            body = b"not found\n"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_file(rng, PAYLOAD)

    def send_file(self, rng, data):
        start = 0
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m and not STATE.ignore_range:
            start = int(m.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range",
                             "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        body = data[start:]
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
        with open(self.catalogue, "w") as f:
            f.write("# test catalogue\n" + HEAD)
            for name, file, size, sha, url in rows:
                f.write("\t".join([name, "instruct", "yes", "gguf-q4_0", "ready", file,
                                   str(size), sha, url, "test-pkg==1.0", "test/" + file,
                                   "-", "mit"]) + "\n")

    def write_built_catalogue(self, srv, gguf_sha=None, build=TINY_BUILD, missing=None):
        """tiny-llama: a built GGUF and its source files, served at /hf/."""
        gguf = TINY_GGUF["bytes"]
        with open(self.catalogue, "w") as f:
            f.write("# test catalogue\n" + HEAD)
            f.write("\t".join(["tiny-llama", "instruct", "yes", "gguf-f16", "built",
                               "tiny-llama.gguf", str(len(gguf)),
                               gguf_sha or hashlib.sha256(gguf).hexdigest(), "-", "-", "-",
                               build, "mit"]) + "\n")
            for name, data in TINY.items():
                url = srv.url("/hf/" + (name if name != missing else "no-such-file"))
                f.write("\t".join(["tiny-llama", "instruct", "yes", "json", "source",
                                   "tiny-llama/" + name, str(len(data)),
                                   hashlib.sha256(data).hexdigest(), url, "test-pkg==1.0",
                                   "test/" + name, "-", "mit"]) + "\n")

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
    head = HEAD
    url = srv.url("/files/model.bin")

    def row(name="m", state="ready", file="m.gguf", size="10", sha=PAYLOAD_SHA, purpose="base"):
        return "\t".join([name, purpose, "yes", "gguf", state, file, size, sha, url, "p==1",
                          "p/m", "-", "mit"]) + "\n"

    cases = {
        "unknown column": head.replace("licence", "license") + row(),
        "sha256 must be": head + row(sha="ABC"),
        "bad size": head + row(size="12x"),
        "purpose must be": head + row(purpose="chat"),
        "not adjacent": head + row() + row("n", file="n.gguf") + row(file="m2"),
        "listed twice": head + row() + row("n"),
        "exactly one ready or built row": head + row() + row(file="m2.gguf"),
        "expected 13": head + row().replace("\tmit", ""),
        "source rows need a built file": head + row() + row(state="source", file="m/a.json"),
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


def test_built_model(srv, env):
    env.write_built_catalogue(srv)
    r = env.run("models")
    expect(r.returncode == 0 and re.search(r"tiny-llama .* gguf-f16 .* no\n", r.stdout),
           "models: a built model that is absent", r)
    r = env.run("pull", "tiny-llama")
    expect(r.returncode == 0, "pull of a built model failed", r)
    expect(read(env.path("tiny-llama.gguf")) == TINY_GGUF["bytes"],
           "the in-process conversion differs from `cove convert`")
    lines = r.stdout.splitlines()
    gguf_sha = hashlib.sha256(TINY_GGUF["bytes"]).hexdigest()
    expect(len(lines) == len(TINY) + 1 and
           lines[-1] == "%s  %s" % (gguf_sha, env.path("tiny-llama.gguf")),
           "one line per source file, then the GGUF", r)
    for name, data in TINY.items():
        expect(read(env.path("tiny-llama/" + name)) == data, "source %s differs" % name)
    expect(not [n for n in os.listdir(env.cache) if ".part" in n or ".tmp." in n],
           "temporary files left: %r" % os.listdir(env.cache))
    r = env.run("models", "--verify")
    expect(r.returncode == 0 and re.search(r"tiny-llama .* verified", r.stdout), "verify", r)
    before = STATE.count()
    shutil.rmtree(env.path("tiny-llama"))
    r = env.run("pull", "tiny-llama")
    expect(r.returncode == 0 and "already in place" in r.stderr, "a cached GGUF is enough", r)
    expect(STATE.count() == before, "nothing is downloaded when the GGUF is in place")


def test_built_model_from_cached_sources(srv, env):
    env.write_built_catalogue(srv)
    r = env.run("pull", "tiny-llama")
    expect(r.returncode == 0, "first pull failed", r)
    os.remove(env.path("tiny-llama.gguf"))
    r = env.run("models")
    expect(re.search(r"tiny-llama .* no \(sources %d/%d\)" % (len(TINY), len(TINY)), r.stdout),
           "models: sources without the GGUF", r)
    before = STATE.count()
    r = env.run("pull", "tiny-llama")
    expect(r.returncode == 0 and STATE.count() == before, "converting cached sources", r)
    expect(read(env.path("tiny-llama.gguf")) == TINY_GGUF["bytes"], "GGUF differs")


def test_built_model_wrong_checksum(srv, env):
    env.write_built_catalogue(srv, gguf_sha=WRONG_SHA)
    r = env.run("pull", "tiny-llama")
    expect(r.returncode == 1 and "conversion gave" in r.stderr and "removed" in r.stderr and
           "(does this cove match its catalogue?)" in r.stderr,
           "a conversion that does not give the catalogue's GGUF fails", r)
    expect(not os.path.exists(env.path("tiny-llama.gguf")), "the wrong GGUF was kept")
    expect(not [n for n in os.listdir(env.cache) if ".part" in n or ".tmp." in n],
           "temporary files left: %r" % os.listdir(env.cache))


def test_built_model_missing_source(srv, env):
    env.write_built_catalogue(srv, missing="config.json")
    r = env.run("pull", "tiny-llama")
    expect(r.returncode == 1 and "404" in r.stderr, "a missing source fails the pull", r)
    expect(not os.path.exists(env.path("tiny-llama.gguf")), "no GGUF without its sources")


def test_built_model_path_for_commands(srv, env):
    """cove_catalogue_model_path (through `cove chat`'s default model) gives the built GGUF."""
    env.write_built_catalogue(srv)
    r = env.run("chat", "-p", "hi", "-n", "2", "--temp", "0")
    expect(r.returncode == 1 and "run 'cove pull tiny-llama'" in r.stderr and
           "converts them" in r.stderr and "scripts/models.sh tiny-llama" in r.stderr,
           "the hint for an absent built model", r)
    r = env.run("pull", "tiny-llama")
    expect(r.returncode == 0, "pull failed", r)
    r = env.run("chat", "-p", "hi", "-n", "2", "--temp", "0")
    expect(r.returncode == 0 and env.path("tiny-llama.gguf") in r.stderr,
           "chat loads the converted GGUF (and says it has no chat template)", r)


def test_built_catalogue_errors(srv, env):
    env.write_built_catalogue(srv)
    with open(env.catalogue) as f:
        good = f.read()
    built = good.splitlines()[2]
    cases = {
        "a built file has '-'": good.replace("\t-\t-\t-\t" + TINY_BUILD,
                                             "\thttp://x/y\t-\t-\t" + TINY_BUILD),
        "needs its build command": good.replace(TINY_BUILD, "-"),
        "must be 'convert": good.replace(TINY_BUILD, "quantize q4_0"),
        "unknown type": good.replace(TINY_BUILD, "convert --type q9_9"),
        "unknown option": good.replace(TINY_BUILD, "convert --bogus 1"),
        "needs a value": good.replace(TINY_BUILD, "convert --type"),
        "must lie in the directory": good.replace("tiny-llama/config.json", "other/config.json"),
        "source rows need a built file": good.replace(built + "\n", ""),
        "exactly one ready or built": good + built.replace("tiny-llama.gguf", "two.gguf") + "\n",
        "state must be": good.replace("\tbuilt\t", "\tconvert\t"),
    }
    for want, text in cases.items():
        with open(env.catalogue, "w") as f:
            f.write(text)
        r = env.run("models")
        expect(r.returncode == 1 and want in r.stderr, "catalogue error '%s'" % want, r)
    expect(STATE.count() == 0, "no request for a bad catalogue")


CASES = [v for k, v in list(globals().items()) if k.startswith("test_")]


def make_tiny_model():
    """TINY: the tiny llama's files; TINY_GGUF: what `cove convert` makes of them."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src")
        make_safetensors.tiny_llama(src)
        for name in sorted(os.listdir(src)):
            TINY[name] = read(os.path.join(src, name))
        out = os.path.join(tmp, "ref.gguf")
        r = subprocess.run([COVE, *TINY_BUILD.split(), src, "-o", out, "-q"],
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
        expect(r.returncode == 0, "cove convert of the tiny llama failed", r)
        TINY_GGUF["bytes"] = read(out)


def main():
    global COVE
    if len(sys.argv) != 2:
        print("usage: test_pull.py PATH-TO-COVE", file=sys.stderr)
        return 2
    COVE = os.path.abspath(sys.argv[1])
    make_tiny_model()
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
