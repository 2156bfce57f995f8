#!/usr/bin/env python3
"""`cove embed` on the real embedding model, all-MiniLM-L6-v2.

usage: test_embed.py COVE SOURCE_DIR

The model is $COVE_MODELS/all-minilm-l6-v2.gguf (default ~/.cache/cove/models), made by
`cove convert` from the catalogue's source files. A missing model is a failure, not a
skip. The reference vectors (tests/engine/bert_minilm_ref.txt) were computed by
sentence-transformers with tests/tools/gen_minilm_ref.py.
"""
import json
import math
import os
import subprocess
import sys

cove, source = sys.argv[1], sys.argv[2]
cache = os.environ.get("COVE_MODELS") or os.path.expanduser("~/.cache/cove/models")
model = os.path.join(cache, "all-minilm-l6-v2.gguf")
DIM = 384
CAT, CAT2, MONEY = ("The cat sits on the mat", "A cat is sitting on a rug",
                    "Quarterly revenue rose by 8 percent")
passed = failed = 0


def run(*args, env=None):
    return subprocess.run([cove, "embed", *args], capture_output=True, timeout=120, env=env)


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}", file=sys.stderr)


def vectors(r):
    """The JSON of a run, or None when it is not an array of arrays of numbers."""
    try:
        v = json.loads(r.stdout)
    except ValueError:
        return None
    ok = isinstance(v, list) and all(isinstance(row, list) and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in row) for row in v)
    return v if ok else None


def norm(a):
    return math.sqrt(sum(x * x for x in a))


def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / (norm(a) * norm(b))


check(f"model present: {model}", os.path.isfile(model))

r = run("-m", model, CAT, CAT2, MONEY)
v = vectors(r)
check("exits 0", r.returncode == 0, r.stderr)
check("valid JSON array of arrays of numbers", v is not None, r.stdout[:200])
v = v or [[0.0] * DIM] * 3
check("one vector per text, 384 numbers each", len(v) == 3 and all(len(x) == DIM for x in v))
check("unit length", all(abs(norm(x) - 1) < 1e-4 for x in v), [norm(x) for x in v])
near, far1, far2 = cos(v[0], v[1]), cos(v[0], v[2]), cos(v[1], v[2])
check("paraphrases closer than unrelated sentences", near > far1 + 0.3 and near > far2 + 0.3,
      (near, far1, far2))
check("nothing on stderr without -v", r.stderr == b"", r.stderr)

with open(os.path.join(source, "tests", "engine", "bert_minilm_ref.txt")) as f:
    ref = [[float(x) for x in line.split()] for line in f]
check("matches sentence-transformers", all(cos(v[i], ref[i]) >= 0.999 for i in range(3)),
      [cos(v[i], ref[i]) for i in range(3)])

r = run("-m", model, "--no-normalize", CAT, MONEY)
raw = vectors(r) or [[1.0] * DIM] * 2
check("--no-normalize exits 0", r.returncode == 0, r.stderr)
check("--no-normalize: not unit length", all(abs(norm(x) - 1) > 1e-3 for x in raw),
      [norm(x) for x in raw])
check("--no-normalize: same direction", cos(raw[0], v[0]) > 0.9999 and cos(raw[1], v[2]) > 0.9999)

r = run("-m", model, "--pooling", "cls", "-t", "2", "-v", CAT)
cls = vectors(r) or [[0.0] * DIM]
check("--pooling cls exits 0", r.returncode == 0, r.stderr)
check("--pooling cls: another vector", len(cls) == 1 and len(cls[0]) == DIM and
      cos(cls[0], v[0]) < 0.9999)
check("-v reports texts/s on stderr", b"texts/s" in r.stderr, r.stderr)

env = dict(os.environ, COVE_MODELS=cache)
r = run("--", "-leading dash text", env=env)
check("default model from the cache, -- before texts", r.returncode == 0 and
      len(vectors(r) or []) == 1, r.stderr)

long_text = " ".join(["word"] * 300)
r = run("-m", model, long_text)
check("too long text exits 1", r.returncode == 1, r.stderr)
check("too long text says so", b"too long" in r.stderr, r.stderr)
r = run("-m", model, "--truncate", long_text)
check("--truncate embeds it", r.returncode == 0 and len(vectors(r) or []) == 1, r.stderr)

r = run("--help")
check("--help exits 0", r.returncode == 0 and b"usage: cove embed" in r.stdout, r.stdout)
r = run("-m", model)
check("no text exits 2", r.returncode == 2, r.stderr)
r = run("-m", model, "--pooling", "max", CAT)
check("bad --pooling exits 2", r.returncode == 2, r.stderr)
r = run("-m", model, "--bogus", CAT)
check("unknown option exits 2", r.returncode == 2, r.stderr)
r = run("-m", "/nonexistent/model.gguf", CAT)
check("missing model file exits 1", r.returncode == 1, r.stderr)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
