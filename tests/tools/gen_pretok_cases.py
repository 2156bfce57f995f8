#!/usr/bin/env python3
"""Generate tests/engine/pretok_cases.txt: how each BPE pre-tokenizer family splits text.

    gen_pretok_cases.py [--out PATH] [--check]

The expected splits come from the families' regular expressions run by the third-party
`regex` module (pip install regex), with Hugging Face's semantics for a sequence of
Split(pattern, behavior="isolated") steps: each step cuts every piece of the step before
into its matches and the gaps between them. cove's hand-written scanners
(src/engine/tokenizer/bpe_pretok.c) must give the same pieces; test_vocab.c checks that.

Inputs: the llama.cpp conformance inputs (vocab/ggml-vocab-gpt-2.gguf.inp under
$COVE_TEST_MODELS or ../shared/models) and the hand-picked cases below.

Output, one line per case:  FAMILY <TAB> HEX(UTF-8 text) <TAB> piece byte lengths
--check regenerates into memory and exits 1 when the committed file differs.
"""
import argparse
import os
import sys

import regex

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
          r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")
DS_CJK = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"

# The cased-letter class of deepseek-llm's pattern, as code point ranges.
DS_LETTERS = [
    (0x41, 0x5A), (0x61, 0x7A), (0xB5, 0xB5), (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x1BA),
    (0x1BC, 0x1BF), (0x1C4, 0x293), (0x295, 0x2AF), (0x370, 0x373), (0x376, 0x377),
    (0x37B, 0x37D), (0x37F, 0x37F), (0x386, 0x386), (0x388, 0x38A), (0x38C, 0x38C),
    (0x38E, 0x3A1), (0x3A3, 0x3F5), (0x3F7, 0x481), (0x48A, 0x52F), (0x531, 0x556),
    (0x10A0, 0x10C5), (0x13A0, 0x13F5), (0x13F8, 0x13FD), (0x1C90, 0x1CBA), (0x1CBD, 0x1CBF),
    (0x1D00, 0x1D2B), (0x1D6B, 0x1D77), (0x1D79, 0x1D9A), (0x1E00, 0x1F15), (0x1F18, 0x1F1D),
    (0x1F20, 0x1F45), (0x1F48, 0x1F4D), (0x1F50, 0x1F57), (0x1F59, 0x1F59), (0x1F5B, 0x1F5B),
    (0x1F5D, 0x1F5D), (0x1F5F, 0x1F7D), (0x1F80, 0x1FB4), (0x1FB6, 0x1FBC), (0x1FBE, 0x1FBE),
    (0x1FC2, 0x1FC4), (0x1FC6, 0x1FCC), (0x1FD0, 0x1FD3), (0x1FD6, 0x1FDB), (0x1FE0, 0x1FEC),
    (0x1FF2, 0x1FF4), (0x1FF6, 0x1FFC), (0x2102, 0x2102), (0x2107, 0x2107), (0x210A, 0x2113),
    (0x2115, 0x2115), (0x2119, 0x211D), (0x2124, 0x2124), (0x2126, 0x2126), (0x2128, 0x2128),
    (0x212A, 0x212D), (0x212F, 0x2134), (0x2139, 0x2139), (0x213C, 0x213F), (0x2145, 0x2149),
    (0x214E, 0x214E), (0x2183, 0x2184), (0x2C00, 0x2C7B), (0x2C7E, 0x2CE4), (0x2CEB, 0x2CEE),
    (0x2CF2, 0x2CF3), (0xA640, 0xA66D), (0xA680, 0xA69B), (0xA722, 0xA76F), (0xA771, 0xA787),
    (0xA78B, 0xA78E), (0xAB70, 0xABBF), (0xFB00, 0xFB06), (0xFB13, 0xFB17), (0xFF21, 0xFF3A),
    (0xFF41, 0xFF5A), (0x10400, 0x1044F), (0x104B0, 0x104D3), (0x104D8, 0x104FB),
    (0x10C80, 0x10CB2), (0x10CC0, 0x10CF2), (0x118A0, 0x118DF), (0x1E900, 0x1E943),
]


def char_class(ranges):
    return "[" + "".join(regex.escape(chr(a)) + ("-" + regex.escape(chr(b)) if b > a else "")
                         for a, b in ranges) + "]"


FAMILIES = {
    "gpt2": [GPT2],
    "llama3": [LLAMA3],
    "qwen2": [QWEN2],
    "starcoder": [r"\p{N}", GPT2],
    "falcon": [r"[\p{P}\$\+<=>\^~\|`]+", GPT2, r"[0-9][0-9][0-9]"],
    "deepseek-coder": [r"[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", DS_CJK, r"\p{N}"],
    "deepseek-llm": [r"[\r\n]", r"\s?" + char_class(DS_LETTERS) + "+",
                     "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+",
                     r"\s+$", DS_CJK, r"\p{N}+"],
}

EXTRA = [
    "I'M HERE, you'RE there; they'Ll go. It'S 'tis 'Twas", "don't won't can't I'd we've",
    "a\tb \t c\n\nd \n e", "  \n\n  x", "x  \n", "\r\n\r\nfoo\r\n", "end with space ",
    "tab\t", "\u00a0nbsp\u3000ideographic\u2028line\u2029para", "\u0663\u0664 \u00b2\u00b3 \u2167",
    "(parens) [brackets] {braces} <angle>", "a+b=c; x^2 ~ y | z `code`", "$100 + 25%",
    "1234567 12 123 1,234.56", "\u4f60\u597d\u4e16\u754c hello\u4e16\u754c",
    "\uac00\ub098\ub2e4 \u3042\u3044\u3046", "caf\u00e9 na\u0131ve \u00c5ngstr\u00f6m",
    "emoji \U0001f600\U0001f600 mix", "!!! ??? ... --- ===", "'''''' \"\"\" ```",
    "\u2018quoted\u2019 \u201cdouble\u201d \uff01\uff1f", "a\u0300b\u0301 combining", "x" * 300,
    "   ", "\t\t", "'", "'s", " 's", "\n", "a", "3", " 3", "x3y", "CamelCaseWord HTTPServer",
    "path/to/file.txt", "https://example.com/a?b=c&d=e", "   leading", "trailing   ",
    "mixed \t\n spaces\u3000\u3000here", "\u0394\u03b5\u03bb\u03c4\u03b1 \u1f00\u1f7d \u0410\u0411\u0412",
]


def split(patterns, text):
    pieces = [text]
    for pat in patterns:
        r = regex.compile(pat)
        out = []
        for p in pieces:
            at = 0
            for m in r.finditer(p):
                if m.start() > at:
                    out.append(p[at:m.start()])
                out.append(m.group())
                at = m.end()
            if at < len(p):
                out.append(p[at:])
        pieces = out
    return pieces


def inputs(models):
    path = os.path.join(models, "vocab", "ggml-vocab-gpt-2.gguf.inp")
    with open(path, encoding="utf-8") as f:
        cases = f.read().split("\n__ggml_vocab_test__\n")[:-1]
    return cases + EXTRA


def generate(models):
    lines = []
    for fam, pats in FAMILIES.items():
        for text in inputs(models):
            pieces = split(pats, text)
            assert "".join(pieces) == text
            lens = " ".join(str(len(p.encode("utf-8"))) for p in pieces)
            lines.append(f"{fam}\t{text.encode('utf-8').hex()}\t{lens}")
    return "\n".join(lines) + "\n"


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(root, "tests/engine/pretok_cases.txt"))
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    models = os.environ.get("COVE_TEST_MODELS") or os.path.join(root, "..", "shared", "models")
    text = generate(models)
    if args.check:
        with open(args.out, encoding="utf-8") as f:
            if f.read() != text:
                print(f"{args.out} is out of date: run {sys.argv[0]}", file=sys.stderr)
                return 1
        return 0
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
