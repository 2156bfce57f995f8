#!/usr/bin/env python3
"""Cross-check cove's dequantization against gguf-py's, on real GGUF files.

For every tensor type cove has kernels for, a few tensors of each GGUF file
given are dequantized twice: by cove (`bench_kernels --dequant FILE TENSOR
OUT`) and by gguf-py's own reference dequantizers (gguf.quants.dequantize),
and the largest absolute difference is reported. With --synthetic the script
also writes a GGUF holding random blocks of every supported type (random bits,
finite scales), so that types no real file at hand contains are checked too.

Needs the PyPI packages `gguf` and `numpy` (e.g. in a venv). Not a ctest:

    python3 tests/tools/crosscheck_quants.py --bench build/bench/bench_kernels \
        --synthetic ~/.cache/cove/models/*.gguf

Exit status 0 when every difference is within --tol (default 0: cove must
reproduce gguf-py bit for bit, up to float rounding of the last place, see
--tol), 1 otherwise.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFReader, GGUFWriter
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

SUPPORTED = [Q.F32, Q.F16, Q.BF16, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0,
             Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K]

# byte offsets of the f16 scale fields in a block, per type (GGUF layouts)
F16_FIELDS = {Q.Q4_0: [0], Q.Q5_0: [0], Q.Q8_0: [0], Q.Q4_1: [0, 2], Q.Q5_1: [0, 2],
              Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q2_K: [80, 82], Q.Q3_K: [108], Q.Q6_K: [208]}


def random_tensor(qtype, rows, cols, rng):
    """Random blocks: every quant bit random, the f16 scales finite."""
    if qtype == Q.F32:
        return rng.standard_normal((rows, cols)).astype(np.float32), None
    if qtype == Q.F16:
        return rng.standard_normal((rows, cols)).astype(np.float16), None
    if qtype == Q.BF16:
        f = rng.standard_normal((rows, cols)).astype(np.float32)
        return (f.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8).reshape(rows, cols * 2), qtype
    block, size = GGML_QUANT_SIZES[qtype]
    data = rng.integers(0, 256, size=(rows, cols // block, size), dtype=np.uint8)
    for off in F16_FIELDS[qtype]:
        d = (rng.uniform(0.001, 0.05, size=(rows, cols // block)) *
             rng.choice([-1, 1], size=(rows, cols // block))).astype(np.float16)
        data[:, :, off:off + 2] = d.view(np.uint8).reshape(rows, cols // block, 2)
    return data.reshape(rows, -1), qtype


def write_synthetic(path, seed=1234):
    rng = np.random.default_rng(seed)
    w = GGUFWriter(path, "llama")
    for qtype in SUPPORTED:
        arr, raw = random_tensor(qtype, 16, 512, rng)
        w.add_tensor(f"synthetic.{qtype.name.lower()}", arr, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def cove_dequant(bench, path, name, out, level=None):
    cmd = [bench, "--dequant", path, name, out] + (["--level", level] if level else [])
    subprocess.run(cmd, check=True)
    return np.fromfile(out, dtype=np.float32)


def check_file(bench, path, per_type, tol, tmp, level=None):
    reader = GGUFReader(path)
    seen = {}
    worst = 0.0
    rows = []
    for t in reader.tensors:
        if t.tensor_type not in SUPPORTED or seen.get(t.tensor_type, 0) >= per_type:
            continue
        seen[t.tensor_type] = seen.get(t.tensor_type, 0) + 1
        ref = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
        got = cove_dequant(bench, path, t.name, os.path.join(tmp, "out.f32"), level)
        if got.shape != ref.shape:
            rows.append((t.tensor_type.name, t.name, ref.size, float("inf"), 0.0))
            worst = float("inf")
            continue
        diff = float(np.max(np.abs(got.astype(np.float64) - ref.astype(np.float64)))) if ref.size else 0.0
        scale = float(np.max(np.abs(ref))) if ref.size else 0.0
        exact = int(np.sum(got.view(np.uint32) == ref.view(np.uint32)))
        rows.append((t.tensor_type.name, t.name, ref.size, diff, exact / max(ref.size, 1), scale))
        worst = max(worst, diff)
    print(f"\n{path} (cove level: {level or 'best'})")
    print("| type | tensor | elements | max abs diff | bit-identical | max abs value |")
    print("|------|--------|---------:|-------------:|--------------:|--------------:|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.3g} | {100 * r[4]:.2f}% | {r[5]:.3g} |")
    return worst <= tol


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", required=True, help="path of the bench_kernels binary")
    ap.add_argument("--per-type", type=int, default=3, help="tensors checked per type and file")
    ap.add_argument("--tol", type=float, default=0.0, help="largest absolute difference accepted")
    ap.add_argument("--synthetic", action="store_true", help="also check a file of random blocks of every type")
    ap.add_argument("--level", action="append", help="cove kernel level(s) to check (default: the best)")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        files = list(args.files)
        if args.synthetic:
            syn = os.path.join(tmp, "synthetic.gguf")
            write_synthetic(syn)
            files.insert(0, syn)
        for level in args.level or [None]:
            for f in files:
                ok = check_file(args.bench, f, args.per_type, args.tol, tmp, level) and ok
    print("\ncrosscheck:", "OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
