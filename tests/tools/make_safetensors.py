#!/usr/bin/env python3
"""Write small safetensors files and Hugging Face style model directories for tests.

Standard library only (no numpy, no torch). Values are random with a fixed seed.

    python3 make_safetensors.py llama DIR     # a tiny llama directory

As a module: write_safetensors(path, tensors) with tensors a list of
(name, dtype, shape, values), dtype one of F32, F16, BF16.
"""
import json
import os
import random
import struct
import sys


def _pack(dtype, values):
    if dtype == "F32":
        return struct.pack("<%df" % len(values), *values)
    if dtype == "F16":
        return struct.pack("<%de" % len(values), *values)
    if dtype == "BF16":
        raw = struct.pack("<%df" % len(values), *values)
        return b"".join(raw[i + 2:i + 4] for i in range(0, len(raw), 4))
    raise ValueError(dtype)


def write_safetensors(path, tensors):
    """tensors: list of (name, dtype, shape, values)."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, dtype, shape, values in tensors:
        blob = _pack(dtype, values)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def _rand(rng, n, scale=0.5, offset=0.0):
    return [rng.uniform(-scale, scale) + offset for _ in range(n)]


def tiny_llama(d, seed=1):
    """A 1-block llama (32 wide, 4 heads, 2 KV heads) with a SentencePiece-style vocabulary."""
    rng = random.Random(seed)
    os.makedirs(d)
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
        vocab["\u2581" + c] = len(vocab)
    vocab["\u2581"] = len(vocab)
    tok = {
        "added_tokens": [{"id": i, "content": t, "special": True}
                         for i, t in enumerate(["<unk>", "<s>", "</s>"])],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "model": {"type": "BPE", "byte_fallback": True, "unk_token": "<unk>", "vocab": vocab,
                  "merges": ["\u2581 " + c for c in "abcdefghijklmnopqrstuvwxyz"]},
    }
    n_vocab, E, F = len(vocab), 32, 48
    cfg = {"model_type": "llama", "vocab_size": n_vocab, "hidden_size": E, "intermediate_size": F,
           "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
           "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "bos_token_id": 1,
           "eos_token_id": 2, "tie_word_embeddings": True}
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    p = "model.layers.0."
    t = [("model.embed_tokens.weight", "F16", (n_vocab, E), _rand(rng, n_vocab * E)),
         ("model.norm.weight", "F32", (E,), _rand(rng, E, 0.1, 1.0)),
         (p + "input_layernorm.weight", "F32", (E,), _rand(rng, E, 0.1, 1.0)),
         (p + "post_attention_layernorm.weight", "F32", (E,), _rand(rng, E, 0.1, 1.0))]
    for name, rows, cols in (("self_attn.q_proj", 32, E), ("self_attn.k_proj", 16, E),
                             ("self_attn.v_proj", 16, E), ("self_attn.o_proj", E, 32),
                             ("mlp.gate_proj", F, E), ("mlp.up_proj", F, E),
                             ("mlp.down_proj", E, F)):
        t.append((p + name + ".weight", "BF16", (rows, cols), _rand(rng, rows * cols)))
    write_safetensors(os.path.join(d, "model.safetensors"), t)


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "llama":
        sys.exit("usage: make_safetensors.py llama DIR")
    tiny_llama(sys.argv[2])


if __name__ == "__main__":
    main()
