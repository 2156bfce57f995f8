#!/usr/bin/env python3
"""`cove convert` and `cove quantize` as a user runs them: help, exit codes (0 ok, 1 error,
2 usage), messages that name the file, no output left behind on failure."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import make_safetensors  # noqa: E402

cove = sys.argv[1]
passed = failed = 0


def run(*args):
    return subprocess.run([cove, *args], capture_output=True, text=True, timeout=120)


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}", file=sys.stderr)


with tempfile.TemporaryDirectory() as tmp:
    src, out = os.path.join(tmp, "tiny-llama"), os.path.join(tmp, "tiny.gguf")
    make_safetensors.tiny_llama(src)

    for cmd in ("convert", "quantize"):
        r = run(cmd, "--help")
        check(f"{cmd} --help", r.returncode == 0 and f"usage: cove {cmd}" in r.stdout, r.stderr)
    for args in ([], [src], [src, "-o"], [src, "-o", out, "--type", "q9_9"], [src, "-o", out, "--bogus"],
                 [src, src, "-o", out], [src, "-o", out, "--type", "iq2_xxs"]):
        r = run("convert", *args)
        check(f"convert {args} is a usage error", r.returncode == 2 and "cove convert" in r.stderr,
              f"{r.returncode} {r.stderr}")

    r = run("convert", os.path.join(tmp, "missing"), "-o", out)
    check("missing directory exits 1", r.returncode == 1, f"{r.returncode} {r.stderr}")
    check("missing directory is named", "missing" in r.stderr and "config.json" in r.stderr, r.stderr)
    check("nothing written", not os.path.exists(out))

    r = run("convert", src, "-o", out, "--type", "f16")
    check("convert exits 0", r.returncode == 0, r.stderr)
    check("convert prints a summary on stdout", r.stdout.startswith("wrote ") and "llama" in r.stdout,
          r.stdout)
    check("no progress when stderr is not a terminal", "%" not in r.stderr, r.stderr)
    r = run("inspect", out)
    check("inspect reads the output", r.returncode == 0 and "blk.0.attn_q.weight" in r.stdout, r.stderr)
    check("the name is the directory's", '"tiny-llama"' in r.stdout)

    r = run("convert", src, "-o", os.path.join(tmp, "v.gguf"), "--vocab-only", "--name", "x", "-q")
    check("vocab-only quiet exits 0 silently", r.returncode == 0 and r.stdout == "", r.stdout + r.stderr)

    q8 = os.path.join(tmp, "tiny-q8.gguf")
    r = run("quantize", out, q8, "q8_0")
    check("quantize exits 0", r.returncode == 0 and r.stdout.startswith("wrote "), r.stderr)
    r = run("inspect", q8)
    check("quantized tensors", r.returncode == 0 and "q8_0" in r.stdout and "general.file_type" in r.stdout)
    for args in ([], [out], [out, q8], [out, q8, "q9"], [out, q8, "q8_0", "extra"], ["-z", out, q8, "q8_0"]):
        r = run("quantize", *args)
        check(f"quantize {args} is a usage error", r.returncode == 2, f"{r.returncode} {r.stderr}")
    r = run("quantize", os.path.join(tmp, "nope.gguf"), q8, "q4_0")
    check("quantize of a missing file exits 1 and names it",
          r.returncode == 1 and "nope.gguf" in r.stderr, r.stderr)
    r = run("quantize", out, out, "q4_0")
    check("quantize onto its input exits 1", r.returncode == 1, r.stderr)

    # a truncated weights file: exit 1, the file is named, nothing left in the directory
    st = os.path.join(src, "model.safetensors")
    with open(st, "rb") as f:
        data = f.read()
    with open(st, "wb") as f:
        f.write(data[: len(data) // 2])
    bad = os.path.join(tmp, "bad.gguf")
    r = run("convert", src, "-o", bad)
    check("truncated weights exit 1", r.returncode == 1, r.stderr)
    check("truncated weights are named", "model.safetensors" in r.stderr, r.stderr)
    left = [n for n in os.listdir(tmp) if n.startswith("bad.gguf")]
    check("no output or temporary file left", not left, str(left))

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
