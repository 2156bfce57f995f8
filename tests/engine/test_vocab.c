/*
 * tests/engine/test_vocab.c - every tokenizer type against real vocabularies.
 *
 * vocab_<name>: the conformance vectors of vocab/ggml-vocab-<name>.gguf (llama.cpp's; the
 * .inp inputs are separated by "\n__ggml_vocab_test__\n", .out holds one line of expected
 * ids per input) tokenized as `cove tokenize --raw` does: no BOS/EOS, control-token text
 * read as plain text. For byte-level BPE vocabularies decode(encode(x)) must give x back;
 * for SentencePiece ones x after the space the tokenizer puts first. Each is registered
 * as its own ctest (tests/engine/CMakeLists.txt), labelled `model`: a missing file fails.
 *
 * pretok_cases: the pre-tokenizer scanners against tests/engine/pretok_cases.txt, the
 * splits the families' regular expressions give (tests/tools/gen_pretok_cases.py).
 */
#include <stdlib.h>
#include <string.h>

#include "cove/engine.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer_int.h"
#include "engine/tokenizer/unicode.h"
#include "test.h"

#define SEP "\n__ggml_vocab_test__\n"
#define MAX_IDS 1024

enum roundtrip { RT_NONE, RT_EXACT, RT_SPACE_PREFIX };

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

static cove_model *load_path(const char *path)
{
    cove_model_params mp = cove_model_default_params();
    mp.vocab_only = 1;
    cove_model *m = NULL;
    cove_error err = {0};
    if (cove_model_load(path, mp, &m, &err) != COVE_OK)
        fprintf(stderr, "  load %s: %s\n", path, cove_error_msg(&err));
    return m;
}

static cove_model *load_vocab(const char *name)
{
    char file[256];
    snprintf(file, sizeof file, "vocab/ggml-vocab-%s.gguf", name);
    return load_path(test_model_path(file));
}

/* Tokenize into ids (room for max); returns the count or -1. */
static int tok(const cove_model *m, const char *s, size_t len, int add_special, int parse_special,
               int32_t *ids, int max)
{
    int32_t n = 0;
    cove_error err = {0};
    if (cove_tokenize(m, s, len, add_special, parse_special, ids, max, &n, &err) != COVE_OK) {
        fprintf(stderr, "  tokenize: %s\n", cove_error_msg(&err));
        return -1;
    }
    return n;
}

/* Detokenize ids through a streaming detokenizer into out (NUL-terminated); -1 on error. */
static int detok_all(const cove_model *m, unsigned flags, const int32_t *ids, int n, char *out,
                     size_t cap)
{
    cove_detok *d = NULL;
    char buf[COVE_DETOK_BUF_MIN];
    size_t at = 0, len;
    if (cove_detok_create(m, flags, &d) != COVE_OK)
        return -1;
    for (int i = 0; i <= n; i++) {
        cove_status st = i < n ? cove_detok_push(d, ids[i], buf, sizeof buf, &len)
                               : cove_detok_flush(d, buf, sizeof buf, &len);
        if (st != COVE_OK || at + len >= cap) {
            cove_detok_free(d);
            return -1;
        }
        memcpy(out + at, buf, len);
        at += len;
    }
    out[at] = '\0';
    cove_detok_free(d);
    return (int)at;
}

static int parse_ids(const char *line, int32_t *ids, int max)
{
    int n = 0;
    char *end;
    for (const char *p = line; n < max;) {
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        ids[n++] = (int32_t)v;
        p = end;
    }
    return n;
}

static void print_ids(const char *what, const int32_t *ids, int n)
{
    fprintf(stderr, "    %s:", what);
    for (int i = 0; i < n; i++)
        fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "\n");
}

/* One vector: the ids match, and decoding gives the input back as `rt` asks. */
static int check_case(const cove_model *m, const char *in, size_t in_len, const char *line, int k,
                      enum roundtrip rt)
{
    static int32_t want[MAX_IDS], got[MAX_IDS];
    static char back[16384];
    int n_want = parse_ids(line, want, MAX_IDS);
    int n_got = tok(m, in, in_len, 0, 0, got, MAX_IDS);
    if (n_got != n_want || memcmp(want, got, (size_t)n_got * sizeof got[0]) != 0) {
        fprintf(stderr, "  case %d: \"%.*s\"\n", k, (int)in_len, in);
        print_ids("want", want, n_want);
        print_ids("got ", got, n_got);
        return 0;
    }
    if (rt == RT_NONE)
        return 1;
    unsigned flags = rt == RT_SPACE_PREFIX ? COVE_DETOK_STRIP_SPACE : 0;
    int n_back = detok_all(m, flags, got, n_got, back, sizeof back);
    if (n_back != (int)in_len || memcmp(back, in, in_len) != 0) {
        fprintf(stderr, "  case %d: decode(encode(\"%.*s\")) = \"%s\"\n", k, (int)in_len, in, back);
        return 0;
    }
    return 1;
}

/* Run every vector of vocab `name` on the vocabulary at `path` (NULL: the vocab's own
 * file); fails unless all 46 cases pass. */
static void run_vectors_on(const char *name, const char *path, enum roundtrip rt)
{
    char file[256];
    size_t li = 0, lo = 0;
    snprintf(file, sizeof file, "vocab/ggml-vocab-%s.gguf.inp", name);
    char *inp = slurp(test_model_path(file), &li);
    snprintf(file, sizeof file, "vocab/ggml-vocab-%s.gguf.out", name);
    char *out = slurp(test_model_path(file), &lo);
    cove_model *m = path ? load_path(path) : load_vocab(name);
    int ok = inp && out && m, n_cases = 0, n_ok = 0;
    for (char *p = inp, *line = out; ok;) {
        char *sep = strstr(p, SEP), *eol = strchr(line, '\n');
        if (!sep)
            break;
        if (!eol) {
            ok = 0;
            break;
        }
        *eol = '\0';
        n_ok += check_case(m, p, (size_t)(sep - p), line, n_cases++, rt);
        p = sep + strlen(SEP);
        line = eol + 1;
    }
    cove_model_free(m);
    free(inp);
    free(out);
    fprintf(stderr, "  vocab %s: %d of %d cases pass\n", name, n_ok, n_cases);
    CHECK_MSG(ok, "missing or unreadable vocab/ggml-vocab-%s.gguf(.inp, .out)", name);
    CHECK_EQ_INT(n_cases, 46);
    CHECK_EQ_INT(n_ok, n_cases);
}

static void run_vectors(const char *name, enum roundtrip rt)
{
    run_vectors_on(name, NULL, rt);
}

TEST(vocab_bert_bge) { run_vectors("bert-bge", RT_NONE); }
TEST(vocab_deepseek_coder) { run_vectors("deepseek-coder", RT_EXACT); }
TEST(vocab_deepseek_llm) { run_vectors("deepseek-llm", RT_EXACT); }
TEST(vocab_falcon) { run_vectors("falcon", RT_EXACT); }
TEST(vocab_gpt_2) { run_vectors("gpt-2", RT_EXACT); }
TEST(vocab_llama_spm) { run_vectors("llama-spm", RT_SPACE_PREFIX); }
TEST(vocab_mpt) { run_vectors("mpt", RT_EXACT); }
TEST(vocab_phi_3) { run_vectors("phi-3", RT_NONE); }
TEST(vocab_refact) { run_vectors("refact", RT_EXACT); }
TEST(vocab_smollm2) { run_vectors("smollm2", RT_EXACT); }
TEST(vocab_starcoder) { run_vectors("starcoder", RT_EXACT); }

/* bert-bge respelled as Hugging Face's vocab.txt spells it ("##ing" continuations, word
 * starts bare) gives the same ids. */
static int write_hf_spelling(const char *src, const char *dst)
{
    cove_gguf *g = NULL;
    cove_gguf_writer *w = NULL;
    cove_error err = {0};
    enum cove_gguf_vtype et;
    uint64_t n = 0;
    int ok = cove_gguf_open(src, &g, &err) == COVE_OK && cove_gguf_writer_create(&w) == COVE_OK &&
             cove_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n) == COVE_OK;
    char **toks = ok ? calloc(n, sizeof *toks) : NULL;
    const void *types = NULL;
    for (uint64_t i = 0; toks && i < n; i++) {
        cove_gguf_str t;
        cove_gguf_arr_str(g, "tokenizer.ggml.tokens", i, &t);
        toks[i] = malloc(t.len + 3);
        if (!toks[i])
            break;
        if (t.len >= 3 && memcmp(t.ptr, "\xe2\x96\x81", 3) == 0)
            snprintf(toks[i], t.len + 3, "%.*s", (int)t.len - 3, t.ptr + 3);
        else if (t.len && t.ptr[0] == '[' && t.ptr[t.len - 1] == ']')
            snprintf(toks[i], t.len + 3, "%.*s", (int)t.len, t.ptr);
        else
            snprintf(toks[i], t.len + 3, "##%.*s", (int)t.len, t.ptr);
    }
    ok = ok && toks && cove_gguf_arr_data(g, "tokenizer.ggml.token_type", &types) == COVE_OK &&
         cove_gguf_writer_set_str(w, "tokenizer.ggml.model", "bert") == COVE_OK &&
         cove_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks, n) ==
             COVE_OK &&
         cove_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", COVE_GGUF_INT32, types, n) ==
             COVE_OK &&
         cove_gguf_writer_set_u32(w, "tokenizer.ggml.cls_token_id", 101) == COVE_OK &&
         cove_gguf_writer_set_u32(w, "tokenizer.ggml.seperator_token_id", 102) == COVE_OK &&
         cove_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 100) == COVE_OK &&
         cove_gguf_writer_save(w, dst, &err) == COVE_OK;
    for (uint64_t i = 0; toks && i < n; i++)
        free(toks[i]);
    free(toks);
    cove_gguf_writer_free(w);
    cove_gguf_free(g);
    return ok;
}

TEST(wpm_hf_spelling)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bert-hf.gguf", test_tmpdir());
    CHECK(write_hf_spelling(test_model_path("vocab/ggml-vocab-bert-bge.gguf"), path));
    run_vectors_on("bert-bge", path, RT_NONE);
    if (test_failed_now())
        return;
    cove_model *m = load_path(path);
    CHECK(m);
    int32_t ids[64];
    char out[256];
    static const char text[] = "Tokenization, unaffable!";
    int n = tok(m, text, strlen(text), 1, 0, ids, 64);
    int n_back = detok_all(m, COVE_DETOK_STRIP_SPACE, ids, n, out, sizeof out);
    cove_model_free(m);
    CHECK(n > 4 && ids[0] == 101 && ids[n - 1] == 102);
    CHECK(n_back > 0);
    CHECK_STR_EQ(out, "tokenization, unaffable!");
}

/* ------------------------------------------------------------ pre-tokenizers */

typedef struct split_rec {
    size_t lens[4096];
    size_t n;
} split_rec;

static cove_status record_piece(void *ctx, const char *word, size_t len)
{
    split_rec *r = ctx;
    (void)word;
    if (r->n == sizeof r->lens / sizeof r->lens[0])
        return COVE_ERR_LIMIT;
    r->lens[r->n++] = len;
    return COVE_OK;
}

static size_t unhex(const char *h, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        char b[3] = {h[i], h[i + 1], 0};
        out[k++] = (char)strtol(b, NULL, 16);
    }
    return k;
}

/* One line "FAMILY \t HEX \t LENGTHS"; 1 when the scanner agrees. */
static int check_split_line(char *line, int k)
{
    char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
    if (!t2)
        return 0;
    *t1 = '\0';
    static char text[8192];
    size_t len = unhex(t1 + 1, (size_t)(t2 - t1 - 1), text);
    const cove_pretok *p = cove_pretok_find(line, strlen(line));
    static split_rec got;
    got.n = 0;
    int32_t want[MAX_IDS];
    int n_want = parse_ids(t2 + 1, want, MAX_IDS), same = p != NULL;
    if (p && cove_pretok_split(p, text, len, record_piece, &got) != COVE_OK)
        same = 0;
    same = same && got.n == (size_t)n_want;
    for (int i = 0; same && i < n_want; i++)
        same = got.lens[i] == (size_t)want[i];
    if (!same) {
        fprintf(stderr, "  line %d (%s): \"%.*s\"\n   want", k, line, (int)len, text);
        for (int i = 0; i < n_want; i++)
            fprintf(stderr, " %d", want[i]);
        fprintf(stderr, "\n   got ");
        for (size_t i = 0; i < got.n; i++)
            fprintf(stderr, " %zu", got.lens[i]);
        fprintf(stderr, "\n");
    }
    return same;
}

TEST(pretok_cases)
{
    size_t n;
    char *all = slurp(COVE_SOURCE_DIR "/tests/engine/pretok_cases.txt", &n);
    CHECK_MSG(all, "cannot read tests/engine/pretok_cases.txt");
    int lines = 0, ok = 0;
    for (char *line = all, *eol; (eol = strchr(line, '\n')); line = eol + 1) {
        *eol = '\0';
        ok += check_split_line(line, lines++);
    }
    free(all);
    fprintf(stderr, "  %d of %d splits agree\n", ok, lines);
    CHECK(lines > 500);
    CHECK_EQ_INT(ok, lines);
}

/* Every family splits any bytes (not UTF-8 included) into pieces that cover them. */
TEST(pretok_covers_any_bytes)
{
    static const char *const fams[] = {"gpt2", "llama3", "qwen2", "starcoder", "falcon",
                                       "deepseek-coder", "deepseek-llm"};
    static char text[2048];
    static split_rec got;
    uint32_t seed = 12345;
    for (int round = 0; round < 200; round++) {
        size_t len = (size_t)(round * 7 % 300) + 1;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            static const char pool[] = "aZ 9'\n\t.!\xc3\xa9\xe4\xb8\x96\xf0\x9f\x98\x80\x80\xff";
            text[i] = pool[(seed >> 16) % (sizeof pool - 1)];
        }
        for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
            const cove_pretok *p = cove_pretok_find(fams[f], strlen(fams[f]));
            CHECK(p);
            got.n = 0;
            CHECK_OK(cove_pretok_split(p, text, len, record_piece, &got));
            size_t sum = 0;
            for (size_t i = 0; i < got.n; i++) {
                CHECK(got.lens[i] > 0);
                sum += got.lens[i];
            }
            CHECK_EQ_INT(sum, len);
        }
    }
}

TEST(pretok_registry)
{
    CHECK(cove_pretok_find("smollm", 6));
    CHECK_STR_EQ(cove_pretok_family(cove_pretok_find("smollm", 6)), "starcoder");
    CHECK_STR_EQ(cove_pretok_family(cove_pretok_find("llama-bpe", 9)), "llama3");
    CHECK(cove_pretok_ignore_merges(cove_pretok_find("llama-bpe", 9)));
    CHECK(!cove_pretok_ignore_merges(cove_pretok_find("qwen2", 5)));
    CHECK_STR_EQ(cove_pretok_family(cove_pretok_default()), "gpt2");
    CHECK(cove_pretok_find("no-such-thing", 13) == NULL);
    CHECK(cove_pretok_find("smoll", 5) == NULL);
}

/* ---------------------------------------------------------------- unicode */

TEST(unicode_tables)
{
    uint32_t o[COVE_UNI_MAP_MAX];
    CHECK(cove_uni_flags('a') & COVE_UNI_L);
    CHECK(cove_uni_flags(0x4E16) & COVE_UNI_L && cove_uni_flags(0x4E16) & COVE_UNI_CJK);
    CHECK(cove_uni_flags(0x0663) & COVE_UNI_N);
    CHECK(cove_uni_flags(0x3000) & COVE_UNI_WS);
    CHECK(!(cove_uni_flags(0x200B) & COVE_UNI_WS));
    CHECK(cove_uni_flags(0x0301) & COVE_UNI_MN);
    CHECK(cove_uni_flags(0x10FFFF) & COVE_UNI_C); /* unassigned counts as other */
    CHECK_EQ_INT(cove_uni_flags(COVE_UNI_INVALID), 0);
    CHECK(cove_uni_lower(0x0130, o) == 2 && o[0] == 'i' && o[1] == 0x0307);
    CHECK(cove_uni_lower(0x0410, o) == 1 && o[0] == 0x0430);
    CHECK(cove_uni_strip(0x00E9, o) == 1 && o[0] == 'e');
    CHECK_EQ_INT(cove_uni_strip(0x0301, o), 0);
    CHECK(cove_uni_strip(0xAC01, o) == 3 && o[0] == 0x1100 && o[1] == 0x1161 && o[2] == 0x11A8);
    uint32_t cp;
    CHECK(cove_uni_next("\xe4\xb8\x96", 3, &cp) == 3 && cp == 0x4E16);
    CHECK(cove_uni_next("\xe4\xb8", 2, &cp) == 1 && cp == COVE_UNI_INVALID);
    CHECK(cove_uni_next("\xc0\xaf", 2, &cp) == 1 && cp == COVE_UNI_INVALID);
    CHECK(cove_uni_next("\xed\xa0\x80", 3, &cp) == 1 && cp == COVE_UNI_INVALID);
}

/* ------------------------------------------------------------- byte-level BPE */

TEST(bpe_specials)
{
    cove_model *m = load_vocab("gpt-2");
    CHECK(m);
    int32_t ids[64];
    static const char eot[] = "a<|endoftext|>b";
    int n = tok(m, eot, strlen(eot), 0, 1, ids, 64);
    int n_plain = tok(m, eot, strlen(eot), 0, 0, ids + 8, 56);
    int n_bos = tok(m, "Hello world", 11, 1, 0, ids + 32, 32);
    cove_model_free(m);
    CHECK(n == 3 && ids[1] == 50256);
    CHECK(n_plain > 3);
    for (int i = 0; i < n_plain; i++)
        CHECK(ids[8 + i] != 50256);
    CHECK(n_bos == 2 && ids[32] == 15496 && ids[33] == 995); /* gpt-2 adds no BOS */
    m = load_vocab("deepseek-coder");
    CHECK(m);
    n = tok(m, "Hello", 5, 1, 0, ids, 64);
    cove_model_free(m);
    CHECK(n >= 2 && ids[0] == 32013); /* add_bos_token = true */
}

TEST(bpe_pieces_and_detok)
{
    cove_model *m = load_vocab("gpt-2");
    CHECK(m);
    char buf[COVE_TOKEN_PIECE_MAX], out[256];
    size_t len;
    CHECK_OK(cove_token_to_piece(m, 995, buf, sizeof buf, &len)); /* "Ġworld" */
    CHECK(len == 6 && memcmp(buf, " world", 6) == 0);
    CHECK_OK(cove_token_to_piece(m, 50256, buf, sizeof buf, &len)); /* control: nothing */
    CHECK_EQ_INT(len, 0);
    /* a 4-byte character split over byte tokens streams out whole */
    int32_t ids[32];
    static const char text[] = "x \xf0\x9f\xa6\x99 y\xe4\xb8\x96";
    int n = tok(m, text, strlen(text), 0, 0, ids, 32);
    int n_back = detok_all(m, 0, ids, n, out, sizeof out);
    int n_special = detok_all(m, COVE_DETOK_SPECIAL, (const int32_t[]){50256, 15496}, 2, out + 128,
                              128);
    cove_model_free(m);
    CHECK(n > 3);
    CHECK_EQ_INT(n_back, (int)strlen(text));
    CHECK_STR_EQ(out, text);
    CHECK(n_special > 0);
    CHECK_STR_EQ(out + 128, "<|endoftext|>Hello");
}

/* Long words merge in pieces; bytes that are not UTF-8 go through byte tokens unchanged. */
TEST(bpe_long_and_invalid)
{
    cove_model *m = load_vocab("gpt-2");
    CHECK(m);
    size_t len = 200000;
    char *text = malloc(len + 1);
    int32_t *ids = malloc(len * sizeof *ids);
    char *back = malloc(len + 16);
    CHECK(text && ids && back);
    for (size_t i = 0; i < len; i++) /* one word of 200000 bytes, then words of 96 */
        text[i] = (char)(i >= len / 2 && i % 97 == 0 ? '\xff' : "abcdefghij"[i % 10]);
    int n = tok(m, text, len, 0, 0, ids, (int)len);
    int n_back = n > 0 ? detok_all(m, 0, ids, n, back, len + 16) : -1;
    int same = n_back == (int)len && memcmp(back, text, len) == 0;
    cove_model_free(m);
    free(text);
    free(ids);
    free(back);
    CHECK(n > 0 && n < (int)len / 2);
    CHECK(same);
}

/* Prose of `len` bytes from a small word list (some of it not ASCII). */
static void make_prose(char *text, size_t len)
{
    static const char *const w[] = {"the", "tokenizer", "caf\xc3\xa9", "don't", "42,", "and",
                                    "\xe4\xb8\x96\xe7\x95\x8c", "Hello.", "world!", "x\n\n",
                                    "merges", "(BPE)", "\xd0\xbf\xd1\x80\xd0\xb8"};
    uint32_t seed = 99;
    size_t at = 0;
    while (at < len) {
        seed = seed * 1664525u + 1013904223u;
        const char *word = w[(seed >> 16) % (sizeof w / sizeof w[0])];
        for (size_t i = 0; word[i] && at < len; i++)
            text[at++] = word[i];
        if (at < len)
            text[at++] = ' ';
    }
}

/* A long text (with the word cache) gives what its pieces give one by one (without). */
static void check_cache_consistent(const char *vocab)
{
    enum { LEN = 60000, PIECE = 3000 };
    static char text[LEN];
    static int32_t whole[LEN], parts[LEN];
    make_prose(text, LEN);
    cove_model *m = load_vocab(vocab);
    CHECK(m);
    int n_whole = tok(m, text, LEN, 0, 0, whole, LEN), n_parts = 0;
    for (size_t at = 0, end; at < LEN && n_parts >= 0; at = end) {
        /* cut before " x" after a letter: a word boundary in every family */
        end = at + PIECE < LEN ? at + PIECE : LEN;
        while (end < LEN && !(text[end] == ' ' && text[end - 1] >= 'a' && text[end - 1] <= 'z' &&
                              text[end + 1] >= 'a' && text[end + 1] <= 'z'))
            end++;
        int n = tok(m, text + at, end - at, 0, 0, parts + n_parts, LEN - n_parts);
        n_parts = n < 0 ? -1 : n_parts + n;
    }
    cove_model_free(m);
    CHECK(n_whole > 1000);
    CHECK_EQ_INT(n_parts, n_whole);
    CHECK(memcmp(whole, parts, (size_t)n_whole * sizeof whole[0]) == 0);
}

TEST(bpe_cache_consistent)
{
    check_cache_consistent("smollm2");
    if (!test_failed_now())
        check_cache_consistent("gpt-2");
    if (!test_failed_now())
        check_cache_consistent("deepseek-llm");
}

/* Random bytes through every vocabulary: ids in range, and lossless for GPT-2, which has a
 * normal token for every byte. (DeepSeek's tokens for the bytes that never occur in UTF-8
 * are user-defined ones whose text is the byte's character, "\xc3\xb8" for 0xF8: they decode
 * as that text, as the text itself is matched to them.) */
static void random_bytes(const char *vocab, int lossless)
{
    static char text[4096], back[8192];
    static int32_t ids[8192];
    static const char pool[] = "aZ 9'\n\r\t.!<|>#\xc3\xa9\xe4\xb8\x96\xf0\x9f\x98\x80\x80\xff\xe2\x96\x81";
    cove_model *m = load_vocab(vocab);
    CHECK(m);
    uint32_t seed = 4242;
    int ok = 1;
    for (int round = 0; ok && round < 300; round++) {
        size_t len = (size_t)(round * 13 % 4000) + 1;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            text[i] = (seed >> 24) < 40 ? (char)(seed >> 16) : pool[(seed >> 16) % (sizeof pool - 1)];
        }
        int n = tok(m, text, len, round & 1, round & 2, ids, 8192);
        ok = n >= 0;
        for (int i = 0; ok && i < n; i++)
            ok = ids[i] >= 0 && ids[i] < cove_model_n_vocab(m);
        if (ok && lossless && !(round & 3)) {
            int n_back = detok_all(m, 0, ids, n, back, sizeof back);
            ok = n_back == (int)len && memcmp(back, text, len) == 0;
        }
        if (!ok)
            fprintf(stderr, "  %s: round %d failed: %.*s\n", vocab, round, (int)len, text);
    }
    cove_model_free(m);
    CHECK(ok);
}

TEST(vocab_random_bytes)
{
    static const struct {
        const char *name;
        int lossless;
    } v[] = {{"gpt-2", 1}, {"deepseek-coder", 0}, {"deepseek-llm", 0}, {"smollm2", 0},
             {"falcon", 0}, {"mpt", 0}, {"refact", 0}, {"starcoder", 0}, {"bert-bge", 0},
             {"llama-spm", 0}, {"phi-3", 0}};
    for (size_t i = 0; i < sizeof v / sizeof v[0] && !test_failed_now(); i++)
        random_bytes(v[i].name, v[i].lossless);
}

/* SmolLM2 has no token for the byte 0xFF and no <unk>: the byte is dropped. */
TEST(bpe_missing_byte)
{
    cove_model *m = load_vocab("smollm2");
    CHECK(m);
    int32_t ids[16], want[16];
    int n = tok(m, "abc\xff" "def", 7, 0, 0, ids, 16);
    int n_want = tok(m, "abcdef", 6, 0, 0, want, 16);
    int n_abc = tok(m, "abc", 3, 0, 0, want + 8, 8);
    cove_model_free(m);
    CHECK(n_want > 0 && n_abc == 1);
    CHECK_EQ_INT(n, 2);
    CHECK(ids[0] == want[8]);
}

/* The default model's GGUF carries the SmolLM2 vocabulary: it must tokenize the same. */
TEST(bpe_default_model_gguf)
{
    const char *dir = getenv("COVE_MODELS"), *home = getenv("HOME");
    char path[1024];
    if (dir && *dir)
        snprintf(path, sizeof path, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", dir);
    else
        snprintf(path, sizeof path, "%s/.cache/cove/models/SmolLM2-135M-Instruct.Q4_1.gguf",
                 home ? home : "");
    cove_model *a = load_path(path), *b = load_vocab("smollm2");
    static const char text[] = "<|im_start|>user\nHello, world! It's 2024 \xe2\x80\x94 caf\xc3\xa9."
                               "<|im_end|>\n";
    int32_t x[128], y[128];
    int nx = a ? tok(a, text, strlen(text), 1, 1, x, 128) : -1;
    int ny = b ? tok(b, text, strlen(text), 1, 1, y, 128) : -2;
    cove_model_free(a);
    cove_model_free(b);
    CHECK_MSG(a && b, "missing %s (make models) or the smollm2 vocabulary", path);
    CHECK_EQ_INT(nx, ny);
    CHECK(memcmp(x, y, (size_t)nx * sizeof x[0]) == 0);
    CHECK(x[0] == 1 && x[2] == 198); /* <|im_start|> user \n: no BOS added, specials parsed */
}

/* `cove tokenize --raw` on a BPE vocabulary. */
TEST(bpe_cli_tokenize)
{
    char cmd[2048], line[256] = "";
    snprintf(cmd, sizeof cmd, "'%s/app/cove' tokenize --raw -m '%s' \"Hello world\" 2>&1",
             COVE_BINARY_DIR, test_model_path("vocab/ggml-vocab-gpt-2.gguf"));
    FILE *p = popen(cmd, "r");
    CHECK(p);
    if (!fgets(line, sizeof line, p))
        line[0] = '\0';
    int rc = pclose(p);
    CHECK_EQ_INT(rc, 0);
    CHECK_STR_EQ(line, "15496 995\n");
}

/* ------------------------------------------------------------------ WordPiece */

TEST(wpm_basics)
{
    cove_model *m = load_vocab("bert-bge");
    CHECK(m);
    int32_t ids[64], nl[64], cjk[64];
    char out[256];
    CHECK_EQ_INT(cove_model_token_bos(m), 101);
    CHECK_EQ_INT(cove_model_token_eos(m), 102);
    CHECK_EQ_INT(cove_model_token_unk(m), 100);
    int n = tok(m, "Hello, WORLD!", 13, 1, 0, ids, 64);
    int n_back = detok_all(m, COVE_DETOK_STRIP_SPACE, ids, n, out, sizeof out);
    /* accents go and case folds: "Café" tokenizes as "cafe" */
    int n_nl = tok(m, "Caf\xc3\xa9 cafe", 11, 0, 0, nl, 64);
    /* an unknown character or an over-long word is [UNK] */
    static char lng[300];
    memset(lng, 'a', 150);
    int n_long = tok(m, lng, 150, 0, 0, cjk, 64);
    int long_unk = n_long == 1 && cjk[0] == 100;
    int n_cjk = tok(m, "\xe4\xb8\x96\xe7\x95\x8c", 6, 0, 0, cjk, 64); /* two ideographs */
    cove_model_free(m);
    CHECK(n >= 5 && ids[0] == 101 && ids[n - 1] == 102);
    CHECK_EQ_INT(n_back, 13);
    CHECK_STR_EQ(out, "hello, world!");
    CHECK(n_nl == 2 && nl[0] == nl[1]);
    CHECK(long_unk);
    CHECK_EQ_INT(n_cjk, 2);
}

TEST(wpm_continuations)
{
    cove_model *m = load_vocab("bert-bge");
    CHECK(m);
    int32_t ids[64];
    char out[256];
    static const char text[] = "tokenization unaffable";
    int n = tok(m, text, strlen(text), 0, 0, ids, 64);
    int n_back = detok_all(m, COVE_DETOK_STRIP_SPACE, ids, n, out, sizeof out);
    cove_model_free(m);
    CHECK(n > 2);
    CHECK(n_back > 0);
    CHECK_STR_EQ(out, text);
}
