#!/usr/bin/env python3
"""bench/load_serve.py - load test of `cove serve`: many concurrent clients for a while.

usage: load_serve.py COVE [--model GGUF] [--embed-model GGUF] [--clients 64] [--seconds 120]
                          [--parallel 8] [--queue 32] [--ctx 2048] [--threads N]

Starts `cove serve` on 127.0.0.1 (a free port) and runs CLIENTS threads that send, in turn,
chat completions (half of them streamed), llama.cpp /completion requests, and (with
--embed-model) embeddings, each client one request at a time, for SECONDS. The server's RSS is
sampled every second from /proc. At the end the server gets SIGTERM and must exit 0.

Pass/fail: every answer must be 200, 429 or 503 (backpressure); anything else (another
status, a broken connection, a malformed body or stream) is an error. RSS must stay bounded:
the peak of the second half of the run may not exceed the peak of the first half by more than
25% + 64 MiB. Prints a markdown table; exits 1 on a failure.
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

CACHE = os.environ.get("COVE_MODELS") or os.path.expanduser("~/.cache/cove/models")


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("cove")
    ap.add_argument("--model", default=os.path.join(CACHE, "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--embed-model", default=os.path.join(CACHE, "all-minilm-l6-v2.gguf"))
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--queue", type=int, default=32)
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=0)
    return ap.parse_args()


def start_server(a):
    cmd = [a.cove, "serve", "-m", a.model, "--port", "0", "--parallel", str(a.parallel),
           "--queue", str(a.queue), "--ctx", str(a.ctx), "--tenant-limit", "1000"]
    if a.embed_model:
        cmd += ["--embed-model", a.embed_model]
    if a.threads:
        cmd += ["-t", str(a.threads)]
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in p.stderr:
        if "listening on" in line:
            port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
            threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
            return p, port
    raise SystemExit("cove serve did not start")


def rss_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


QUESTIONS = ["What is the capital of France?", "Write a haiku about the sea.",
             "Explain what a CPU does in two sentences.", "List three fruits.",
             "What is 12 times 7?", "Say hello in Spanish."]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.codes, self.errors, self.lat, self.tokens = {}, [], [], 0

    def add(self, code, seconds, tokens=0, error=None):
        with self.lock:
            self.codes[code] = self.codes.get(code, 0) + 1
            if error:
                self.errors.append(error)
            if code == 200:
                self.lat.append(seconds)
                self.tokens += tokens


def request(url, body, stream):
    """(status, completion tokens); raises on a broken answer."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            if not stream:
                doc = json.loads(r.read())
                u = doc.get("usage") or {}
                return 200, u.get("completion_tokens", doc.get("tokens_predicted", 0))
            n, done = 0, False
            for raw in r:
                line = raw.decode().strip()
                if not line:
                    continue
                if not line.startswith("data: "):
                    raise ValueError("bad SSE line %r" % line[:80])
                if line == "data: [DONE]":
                    done = True
                    continue
                ev = json.loads(line[6:])
                if "error" in ev:
                    raise ValueError("error event %s" % line[:200])
                n += sum(1 for c in ev.get("choices", []) if c.get("delta", {}).get("content"))
            if not done:
                raise ValueError("stream without [DONE]")
            return 200, n
    except urllib.error.HTTPError as e:
        e.read()
        return e.code, 0


def client(base, a, stats, stop_at, seed):
    rnd = random.Random(seed)
    model = os.path.basename(a.model)[:-5]
    while time.time() < stop_at:
        kind = rnd.random()
        q = rnd.choice(QUESTIONS)
        t0 = time.time()
        try:
            if kind < 0.35:
                code, n = request(base + "/v1/chat/completions", {
                    "model": model, "messages": [{"role": "user", "content": q}],
                    "max_tokens": rnd.randint(16, 96), "stream": True}, True)
            elif kind < 0.7:
                code, n = request(base + "/v1/chat/completions", {
                    "model": model, "messages": [{"role": "user", "content": q}],
                    "max_tokens": rnd.randint(16, 96)}, False)
            elif kind < 0.9 or not a.embed_model:
                code, n = request(base + "/completion", {
                    "prompt": "Question: %s\nAnswer:" % q, "n_predict": rnd.randint(16, 64)}, False)
            else:
                code, n = request(base + "/v1/embeddings", {
                    "model": os.path.basename(a.embed_model)[:-5], "input": [q] * 4,
                    "encoding_format": "float"}, False)
            ok = code in (200, 429, 503)
            stats.add(code, time.time() - t0, n, None if ok else "status %d" % code)
            if code in (429, 503):
                time.sleep(0.2)
        except Exception as e:  # noqa: BLE001 - every failure counts as an error
            stats.add("error", time.time() - t0, 0, "%s: %s" % (type(e).__name__, e))


def main():
    a = parse_args()
    if a.embed_model and not os.path.isfile(a.embed_model):
        a.embed_model = None
    proc, port = start_server(a)
    base = "http://127.0.0.1:%d" % port
    stats, samples = Stats(), []
    t_start = time.time()
    stop_at = t_start + a.seconds
    threads = [threading.Thread(target=client, args=(base, a, stats, stop_at, i))
               for i in range(a.clients)]
    for t in threads:
        t.start()
    while time.time() < stop_at:
        samples.append((time.time() - t_start, rss_mib(proc.pid)))
        time.sleep(1)
    for t in threads:
        t.join(600)
    with urllib.request.urlopen(base + "/metrics", timeout=30) as r:
        metrics = r.read().decode()
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=120)
    half = [r for t, r in samples if t < a.seconds / 2] or [0]
    rest = [r for t, r in samples if t >= a.seconds / 2] or [0]
    rss_ok = max(rest) <= max(half) * 1.25 + 64
    lat = sorted(stats.lat)
    pct = (lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else 0)
    wall = time.time() - t_start
    print("| clients | seconds | requests | 200 | 429 | 503 | errors | completion tokens/s "
          "| p50 s | p95 s | RSS first half MiB | RSS second half MiB | exit |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    total = sum(stats.codes.values())
    print("| %d | %.0f | %d | %d | %d | %d | %d | %.1f | %.2f | %.2f | %.0f | %.0f | %d |" % (
        a.clients, a.seconds, total, stats.codes.get(200, 0), stats.codes.get(429, 0),
        stats.codes.get(503, 0), len(stats.errors), stats.tokens / wall, pct(0.5), pct(0.95),
        max(half), max(rest), rc))
    for name in ("cove_batch_size_mean", "cove_batch_sequences_mean", "cove_prefix_cache_hit_ratio",
                 "cove_tokens_generated_total", "cove_requests_rejected_total"):
        for line in metrics.splitlines():
            if line.startswith(name + " "):
                print("%s %s" % (name, line.split()[1]))
    for e in stats.errors[:10]:
        print("error:", e)
    ok = not stats.errors and rss_ok and rc == 0
    print("PASS" if ok else "FAIL (errors %d, rss bounded %s, exit %d)" % (
        len(stats.errors), rss_ok, rc))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
