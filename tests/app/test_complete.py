#!/usr/bin/env python3
"""`cove complete` and `cove tokenize` on the real test models.

usage: test_complete.py COVE MODELS_DIR   ($COVE_TEST_MODELS overrides MODELS_DIR)

The golden output of stories260K is in models/README.md: greedy decoding from BOS,
60 tokens. A missing model is a failure, not a skip.
"""
import json
import os
import subprocess
import sys

cove = sys.argv[1]
models = os.environ.get("COVE_TEST_MODELS") or sys.argv[2]
stories = os.path.join(models, "stories260K.gguf")
spm = os.path.join(models, "vocab", "ggml-vocab-llama-spm.gguf")
GOLDEN_TEXT = (" Once upon a time, there was a little girl named Lily. She loved to play outside"
               " in the park. One day, she saw a big, red ball. She wanted to play with it, but it"
               " was too high")
GOLDEN_IDS = ("1 403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337"
              " 410 408 419 292 411 322 265 282 295 433 426 385 328 432 358 394 261 370 432 352"
              " 266 268 388 426 338 391 266 267 337 335 312 432 398 312 286 267 414 270 333 415")
passed = failed = 0


def run(*args):
    return subprocess.run([cove, *args], capture_output=True, timeout=120)


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}", file=sys.stderr)


for path in (stories, spm):
    check(f"model present: {path}", os.path.isfile(path))

r = run("complete", "-m", stories, "-n", "60", "--temp", "0")
check("golden run exits 0", r.returncode == 0, r.stderr.decode(errors="replace"))
check("golden text, exactly", r.stdout == GOLDEN_TEXT.encode(), repr(r.stdout))
check("nothing on stderr without -v", r.stderr == b"", r.stderr)

r = run("complete", "-m", stories, "-n", "60", "--temp", "0", "-v")
check("-v keeps stdout the same", r.stdout == GOLDEN_TEXT.encode(), repr(r.stdout))
check("-v reports tokens/s on stderr", b"tok/s" in r.stderr, r.stderr)

r = run("complete", "-m", stories, "-p", "Once upon a time,", "-n", "10", "--temp", "0")
check("prompt run exits 0", r.returncode == 0, r.stderr)
check("prompt continues the story", r.stdout == b" there was a little girl named Lily.",
      repr(r.stdout))

r1 = run("complete", "-m", stories, "-n", "30", "--seed", "7", "--temp", "1")
r2 = run("complete", "-m", stories, "-n", "30", "--seed", "7", "--temp", "1")
check("a seed reproduces", r1.returncode == 0 and r1.stdout == r2.stdout and r1.stdout, r1.stderr)

r = run("complete", "-m", stories, "--ctx", "4", "-p", "Once upon a time, there was a girl")
check("prompt too long exits 1", r.returncode == 1, r.stderr)
check("prompt too long says so", b"too long" in r.stderr, r.stderr)
r = run("complete", "-m", stories, "-n", "abc")
check("bad -n exits 2", r.returncode == 2, r.stderr)
r = run("complete", "-p", "x")
check("no -m exits 2", r.returncode == 2, r.stderr)
r = run("complete", "-m", spm, "-n", "1")
check("vocab-only model exits 1", r.returncode == 1, r.stderr)

text = GOLDEN_TEXT[1:]
r = run("tokenize", "-m", stories, text)
check("tokenize golden text", r.returncode == 0 and r.stdout.decode().strip() == GOLDEN_IDS, r.stdout)
r = run("tokenize", "-m", spm, "--raw", " Hello world")
check("tokenize --raw", r.stdout == b"29871 15043 3186\n", r.stdout)
r = run("tokenize", "-m", spm, "<s>Hello")
check("tokenize parses special text", r.stdout == b"1 1 15043\n", r.stdout)
r = run("tokenize", "-m", spm, "--raw", "<s>")
check("tokenize --raw keeps special text plain", b" 1 " not in b" " + r.stdout, r.stdout)
r = run("tokenize", "-m", spm)
check("tokenize without text exits 2", r.returncode == 2, r.stderr)

# cove bench: one object per thread count; the bandwidth bound is read between the decoded
# tokens, so a run of a few tokens still has a reading of each buffer.
r = run("bench", "-m", stories, "-p", "8", "-n", "6", "-r", "1", "-t", "1,2", "--json")
check("bench exits 0", r.returncode == 0, r.stderr)
try:
    rows = json.loads(r.stdout)
except ValueError:
    rows = []
check("bench: one object per thread count", [x.get("threads") for x in rows] == [1, 2], r.stdout)
for x in rows:
    check("bench: speeds and memory measured",
          x["pp_tps"] > 0 and x["tg_tps"] > 0 and x["peak_rss_mb"] > 0, x)
    check("bench: read bandwidth measured", 0.1 < x["bw_gbs"] < 10000, x)
    check("bench: a fraction of the bound", 0 < x["bw_fraction"] < 100, x)  # >1 in cache
r = run("bench", "-m", stories, "-r", "0")
check("bench -r 0 exits 2", r.returncode == 2, r.stderr)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
