/*
 * tests/fuzz/fuzz_tokenizer.c - libFuzzer target for the tokenizers: SentencePiece (llama,
 * phi-3), byte-level BPE (GPT-2, SmolLM2, DeepSeek, Falcon) and WordPiece (bge) on any bytes.
 *
 * The first byte of an input picks the vocabulary (bits 0-2), parse_special (bit 3),
 * add_special (bit 4), an output bound too small for most texts (bit 5) and
 * COVE_DETOK_STRIP_SPACE (bit 6); the rest is the text. Checked on every input:
 *  - tokenizing succeeds, or fails with COVE_ERR_LIMIT exactly when the bound is too small
 *    (and a second call with room for the count it reported then succeeds with that count);
 *  - every id lies in the vocabulary; BOS and EOS are where add_special puts them;
 *  - the streaming detokenizer writes the same bytes as the pieces one by one;
 *  - round trip: the text comes back from its tokens for SentencePiece with byte fallback
 *    (valid UTF-8 without U+2581, less the space put before each fragment) and byte-level
 *    BPE (when every byte of the text has a token); WordPiece normalises, so not there;
 *  - the text read as token ids (3 bytes each, some out of range) goes through the
 *    detokenizer: valid ids give their pieces, the others COVE_ERR_INVALID_ARG.
 * A violation is __builtin_trap(), which libFuzzer reports as a crash.
 *
 * The vocabularies are the vocab-only GGUFs of the fixture models ($COVE_TEST_MODELS, else
 * ../shared/models beside the source tree), loaded once; a missing one stops the run.
 *
 *   ./fuzz_tokenizer -max_total_time=60 /tmp/tok-corpus tests/fuzz/corpus/tokenizer
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"
#include "cove/engine.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer_int.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Eight vocabularies: the first byte's low three bits pick one. */
static const char *const VOCAB_FILES[8] = {
    "vocab/ggml-vocab-llama-spm.gguf",      "vocab/ggml-vocab-phi-3.gguf",
    "vocab/ggml-vocab-gpt-2.gguf",          "vocab/ggml-vocab-smollm2.gguf",
    "vocab/ggml-vocab-deepseek-llm.gguf",   "vocab/ggml-vocab-deepseek-coder.gguf",
    "vocab/ggml-vocab-falcon.gguf",         "vocab/ggml-vocab-bert-bge.gguf",
};

enum fz_kind { FZ_SPM, FZ_BPE, FZ_WPM };

typedef struct fz_vocab {
    cove_model *model;
    const cove_vocab *v;
    enum fz_kind kind;
    int byte_ok[256]; /* the byte round-trips on its own (BPE) / has a byte token (SPM) */
    int all_bytes;    /* SentencePiece: byte fallback for every byte */
} fz_vocab;

static fz_vocab vocabs[8];

/* Appends to a harness string (unbounded: SIZE_MAX), trapping on failure. */
static void str_put(struct cove_buf *s, const char *p, size_t n)
{
    CHECK_FZ(cove_buf_append(s, p, n) == COVE_OK);
}

/* Tokens of text[0..len) into a fresh array (*n of them), plain text only; NULL on failure. */
static int32_t *tokenize_plain(const fz_vocab *fv, const char *text, size_t len, int32_t *n)
{
    int32_t max = (int32_t)(2 * len + 8);
    int32_t *ids = malloc((size_t)max * sizeof *ids);
    CHECK_FZ(ids != NULL);
    if (cove_tokenize(fv->model, text, len, 0, 0, ids, max, n, NULL) != COVE_OK) {
        free(ids);
        return NULL;
    }
    return ids;
}

/* Pieces of ids[0..n) back to back (control tokens as their text). */
static void pieces(const fz_vocab *fv, const int32_t *ids, size_t n, struct cove_buf *out)
{
    char piece[COVE_TOKEN_PIECE_MAX];
    for (size_t i = 0; i < n; i++) {
        size_t len;
        CHECK_FZ(cove_vocab_piece(fv->v, ids[i], 1, piece, sizeof piece, &len) == COVE_OK);
        str_put(out, piece, len);
    }
}

/* BPE: which bytes come back from tokenizing them alone. */
static void probe_bpe_bytes(fz_vocab *fv)
{
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        int32_t n = 0;
        int32_t *ids = tokenize_plain(fv, &c, 1, &n);
        struct cove_buf s;
    cove_buf_init(&s, SIZE_MAX);
        if (ids)
            pieces(fv, ids, (size_t)n, &s);
        fv->byte_ok[b] = ids && s.len == 1 && s.data[0] == c;
        free(ids);
        cove_buf_release(&s);
    }
}

static void load_vocab(fz_vocab *fv, const char *file)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", fuzz_models_dir(), file);
    cove_model_params mp = cove_model_default_params();
    mp.vocab_only = 1;
    cove_error err = {0};
    if (cove_model_load(path, mp, &fv->model, &err) != COVE_OK) {
        fprintf(stderr, "fuzz_tokenizer: %s: %s\n", path, cove_error_msg(&err));
        exit(1);
    }
    fv->v = cove_model_vocab(fv->model);
    const char *name = cove_vocab_model_name(fv->v);
    fv->kind = strcmp(name, "llama") == 0 ? FZ_SPM : strcmp(name, "gpt2") == 0 ? FZ_BPE : FZ_WPM;
    fv->all_bytes = 1;
    for (int b = 0; b < 256; b++) {
        fv->byte_ok[b] = fv->v->byte_tok[b] >= 0;
        fv->all_bytes &= fv->byte_ok[b];
    }
    if (fv->kind == FZ_BPE)
        probe_bpe_bytes(fv);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const char *const kinds[] = {"SentencePiece", "byte-level BPE", "WordPiece"};
    for (size_t i = 0; i < 8; i++) {
        load_vocab(&vocabs[i], VOCAB_FILES[i]);
        int ok = 0;
        for (int b = 0; b < 256; b++)
            ok += vocabs[i].byte_ok[b];
        fprintf(stderr, "fuzz_tokenizer: %d: %s, %s, %d tokens, %d bytes round-trip alone\n",
                (int)i, VOCAB_FILES[i], kinds[vocabs[i].kind],
                cove_model_n_vocab(vocabs[i].model), ok);
        for (int b = 0; b < 256 && vocabs[i].kind == FZ_BPE; b++)
            if (!vocabs[i].byte_ok[b])
                fprintf(stderr, " %02x", b);
        if (vocabs[i].kind == FZ_BPE && ok < 256)
            fprintf(stderr, "\n");
    }
    return 0;
}

/* Tokens matched in the text by vocab.c: each ends a fragment of plain text. */
static int is_boundary(const fz_vocab *fv, int32_t id, int parse_special)
{
    return cove_vocab_is_special_type(fv->v->type[id], parse_special);
}

/*
 * Tokenize with the bound the flags ask for; returns the ids (*n) of a successful call.
 * A COVE_ERR_LIMIT must report a count past the bound, and that count must then fit.
 */
static int32_t *tokenize_checked(const fz_vocab *fv, const char *text, size_t len, int add,
                                 int parse, int tight, int32_t *n)
{
    int32_t max = tight ? (int32_t)(len / 8) : (int32_t)(2 * len + 8);
    int32_t *ids = malloc(((size_t)max + 1) * sizeof *ids);
    CHECK_FZ(ids != NULL);
    cove_error err = {0};
    cove_status st = cove_tokenize(fv->model, text, len, add, parse, ids, max, n, &err);
    if (st == COVE_ERR_LIMIT && tight) {
        CHECK_FZ(*n > max);
        max = *n;
        free(ids);
        ids = malloc((size_t)max * sizeof *ids);
        CHECK_FZ(ids != NULL);
        st = cove_tokenize(fv->model, text, len, add, parse, ids, max, n, &err);
        CHECK_FZ(st != COVE_OK || *n == max);
    }
    if (st != COVE_OK)
        fprintf(stderr, "fuzz_tokenizer: %s\n", cove_error_msg(&err));
    CHECK_FZ(st == COVE_OK);
    CHECK_FZ(*n >= 0 && *n <= max);
    return ids;
}

/* Every id in range; the BOS/EOS add_special adds are there. Returns how many lead (0/1). */
static size_t check_ids(const fz_vocab *fv, const int32_t *ids, int32_t n, int add)
{
    int32_t n_vocab = cove_model_n_vocab(fv->model);
    for (int32_t i = 0; i < n; i++)
        CHECK_FZ(ids[i] >= 0 && ids[i] < n_vocab);
    int bos = add && fv->v->add_bos && fv->v->bos >= 0;
    int eos = add && fv->v->add_eos && fv->v->eos >= 0;
    CHECK_FZ(n >= bos + eos);
    if (bos)
        CHECK_FZ(ids[0] == fv->v->bos);
    if (eos)
        CHECK_FZ(ids[n - 1] == fv->v->eos);
    return (size_t)bos;
}

/* The streaming detokenizer over ids must write `want` (its STRIP_SPACE applied). */
static void check_detok(const fz_vocab *fv, const int32_t *ids, size_t n, unsigned flags,
                        const struct cove_buf *want)
{
    cove_detok *d = NULL;
    CHECK_FZ(cove_detok_create(fv->model, flags, &d) == COVE_OK);
    char buf[COVE_DETOK_BUF_MIN];
    size_t len;
    struct cove_buf got;
    cove_buf_init(&got, SIZE_MAX);
    for (size_t i = 0; i < n; i++) {
        CHECK_FZ(cove_detok_push(d, ids[i], buf, sizeof buf, &len) == COVE_OK);
        CHECK_FZ(len <= sizeof buf);
        str_put(&got, buf, len);
    }
    CHECK_FZ(cove_detok_flush(d, buf, sizeof buf, &len) == COVE_OK);
    str_put(&got, buf, len);
    cove_detok_free(d);
    size_t skip = (flags & COVE_DETOK_STRIP_SPACE) && cove_vocab_adds_space_prefix(fv->v) &&
                  want->len && want->data[0] == ' ';
    CHECK_FZ(got.len == want->len - skip);
    CHECK_FZ(got.len == 0 || memcmp(got.data, want->data + skip, got.len) == 0);
    cove_buf_release(&got);
}

/* SentencePiece's decoded text without the space put before each fragment. */
static void strip_fragment_spaces(const fz_vocab *fv, const int32_t *ids, size_t n, int parse,
                                  struct cove_buf *out)
{
    char piece[COVE_TOKEN_PIECE_MAX];
    int after = 1;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        CHECK_FZ(cove_vocab_piece(fv->v, ids[i], 1, piece, sizeof piece, &len) == COVE_OK);
        int boundary = is_boundary(fv, ids[i], parse);
        const char *p = piece;
        if (after && !boundary && fv->v->add_space_prefix) {
            CHECK_FZ(len > 0 && piece[0] == ' ');
            p++, len--;
        }
        after = boundary;
        str_put(out, p, len);
    }
}

/* Whether the tokenizer promises the text back from its tokens. */
static int round_trips(const fz_vocab *fv, const char *text, size_t len)
{
    if (fv->kind == FZ_WPM)
        return 0;
    if (fv->kind == FZ_SPM)
        return fv->all_bytes && cove_utf8_valid(text, len) &&
               !memmem(text, len, "\xe2\x96\x81", 3);
    for (size_t i = 0; i < len; i++)
        if (!fv->byte_ok[(uint8_t)text[i]])
            return 0;
    return 1;
}

static void check_round_trip(const fz_vocab *fv, const char *text, size_t len,
                             const int32_t *ids, size_t n, int parse)
{
    struct cove_buf back;
    cove_buf_init(&back, SIZE_MAX);
    if (fv->kind == FZ_SPM)
        strip_fragment_spaces(fv, ids, n, parse, &back);
    else
        pieces(fv, ids, n, &back);
    if (back.len != len || (len && memcmp(back.data, text, len) != 0)) {
        fprintf(stderr, "fuzz_tokenizer: %s: %zu bytes decode to %zu other bytes\n",
                VOCAB_FILES[fv - vocabs], len, back.len);
        __builtin_trap();
    }
    cove_buf_release(&back);
}

/* The text as 3-byte token ids, some past the vocabulary, through the detokenizer. */
static void check_random_ids(const fz_vocab *fv, const uint8_t *p, size_t len, unsigned flags)
{
    int32_t n_vocab = cove_model_n_vocab(fv->model), ids[256];
    size_t n = 0;
    for (size_t i = 0; i + 3 <= len && n < 256; i += 3) {
        uint32_t x = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16;
        ids[n++] = (int32_t)(x % ((uint32_t)n_vocab + 16));
    }
    cove_detok *d = NULL;
    CHECK_FZ(cove_detok_create(fv->model, flags, &d) == COVE_OK);
    char buf[COVE_DETOK_BUF_MIN];
    size_t got = 0, want = 0, plen;
    for (size_t i = 0; i < n; i++) {
        size_t len_out;
        cove_status st = cove_detok_push(d, ids[i], buf, sizeof buf, &len_out);
        CHECK_FZ(st == (ids[i] < n_vocab ? COVE_OK : COVE_ERR_INVALID_ARG));
        got += len_out;
        if (ids[i] < n_vocab) {
            CHECK_FZ(cove_token_to_piece(fv->model, ids[i], NULL, 0, &plen) != COVE_ERR_INVALID_ARG);
            CHECK_FZ(plen <= COVE_TOKEN_PIECE_MAX);
            CHECK_FZ(cove_vocab_piece(fv->v, ids[i], (flags & COVE_DETOK_SPECIAL) != 0, buf,
                                      sizeof buf, &plen) == COVE_OK);
            want += plen;
        }
    }
    CHECK_FZ(cove_detok_flush(d, buf, sizeof buf, &plen) == COVE_OK);
    got += plen;
    cove_detok_free(d);
    CHECK_FZ(got == want || ((flags & COVE_DETOK_STRIP_SPACE) && got + 1 == want));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const fz_vocab *fv = &vocabs[data[0] & 7];
    int parse = (data[0] >> 3) & 1, add = (data[0] >> 4) & 1, tight = (data[0] >> 5) & 1;
    unsigned flags = COVE_DETOK_SPECIAL | ((data[0] >> 6) & 1 ? COVE_DETOK_STRIP_SPACE : 0);
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    int32_t n = 0;
    int32_t *ids = tokenize_checked(fv, text, len, add, parse, tight, &n);
    size_t lead = check_ids(fv, ids, n, add);
    size_t n_text = (size_t)n - lead - (add && fv->v->add_eos && fv->v->eos >= 0);

    struct cove_buf all;
    cove_buf_init(&all, SIZE_MAX);
    pieces(fv, ids, (size_t)n, &all);
    check_detok(fv, ids, (size_t)n, flags, &all);
    cove_buf_release(&all);
    if (round_trips(fv, text, len))
        check_round_trip(fv, text, len, ids + lead, n_text, parse);
    free(ids);
    check_random_ids(fv, data + 1, len, flags);
    return 0;
}
