/*
 * tests/engine/test_tokenizer.c - vocabulary loading, SentencePiece tokenizing, decoding.
 *
 * The conformance vectors are llama.cpp's: vocab/ggml-vocab-llama-spm.gguf.inp holds the
 * inputs separated by "\n__ggml_vocab_test__\n", .out one line of expected ids per input
 * (no BOS, special-token text not parsed).
 */
#include <stdlib.h>
#include <string.h>

#include "cove/engine.h"
#include "engine/gguf/gguf.h"
#include "test.h"

#define SPM_VOCAB "vocab/ggml-vocab-llama-spm.gguf"
#define SEP "\n__ggml_vocab_test__\n"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
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

static cove_model *load_vocab(const char *name)
{
    cove_model_params mp = cove_model_default_params();
    mp.vocab_only = 1;
    cove_model *m = NULL;
    cove_error err = {0};
    if (cove_model_load(test_model_path(name), mp, &m, &err) != COVE_OK)
        fprintf(stderr, "  load %s: %s\n", name, cove_error_msg(&err));
    return m;
}

/* Tokenize without BOS into ids (room for max); returns the count or -1. */
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

/* Detokenize ids through a streaming detokenizer into out (NUL-terminated). */
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

/* Parse one line of ids; returns the count. */
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

/* One vector case: tokens match and decoding gives the input back. */
static int check_case(const cove_model *m, const char *in, size_t in_len, const char *line, int k)
{
    int32_t want[512], got[512];
    static char back[8192];
    int n_want = parse_ids(line, want, 512);
    int n_got = tok(m, in, in_len, 0, 0, got, 512);
    if (n_got != n_want || memcmp(want, got, (size_t)n_got * sizeof got[0]) != 0) {
        fprintf(stderr, "  case %d: \"%.*s\": got %d tokens, want %d:\n   ", k, (int)in_len, in,
                n_got, n_want);
        for (int i = 0; i < n_got; i++)
            fprintf(stderr, " %d", got[i]);
        fprintf(stderr, "\n");
        return 0;
    }
    int n_back = detok_all(m, COVE_DETOK_STRIP_SPACE, got, n_got, back, sizeof back);
    if (n_back != (int)in_len || memcmp(back, in, in_len) != 0) {
        fprintf(stderr, "  case %d: decode(encode(\"%.*s\")) = \"%s\"\n", k, (int)in_len, in, back);
        return 0;
    }
    return 1;
}

TEST(tokenizer_spm_vectors)
{
    size_t li, lo;
    char *inp = slurp(test_model_path(SPM_VOCAB ".inp"), &li);
    char *out = slurp(test_model_path(SPM_VOCAB ".out"), &lo);
    cove_model *m = load_vocab(SPM_VOCAB);
    int ok = inp && out && m, n_cases = 0, n_ok = 0;
    char *p = inp, *line = out;
    while (ok) {
        char *sep = strstr(p, SEP);
        if (!sep)
            break;
        char *eol = strchr(line, '\n');
        if (!eol) {
            ok = 0;
            break;
        }
        *eol = '\0';
        n_ok += check_case(m, p, (size_t)(sep - p), line, n_cases);
        n_cases++;
        p = sep + strlen(SEP);
        line = eol + 1;
    }
    cove_model_free(m);
    free(inp);
    free(out);
    CHECK_MSG(ok, "missing or unreadable %s", SPM_VOCAB);
    CHECK_EQ_INT(n_cases, 46);
    CHECK_EQ_INT(n_ok, n_cases);
}

TEST(tokenizer_spm_specials)
{
    cove_model *m = load_vocab(SPM_VOCAB);
    CHECK(m);
    int32_t ids[64];
    CHECK_EQ_INT(cove_model_token_bos(m), 1);
    CHECK_EQ_INT(cove_model_token_eos(m), 2);
    CHECK_EQ_INT(cove_model_token_unk(m), 0);
    CHECK(cove_token_is_eog(m, 2) && !cove_token_is_eog(m, 1));
    /* add_special adds BOS; empty text gives no tokens or only BOS */
    CHECK_EQ_INT(tok(m, "", 0, 0, 0, ids, 64), 0);
    CHECK_EQ_INT(tok(m, "", 0, 1, 0, ids, 64), 1);
    CHECK_EQ_INT(ids[0], 1);
    int n = tok(m, "Hello world", 11, 1, 0, ids, 64);
    CHECK(n == 3 && ids[0] == 1 && ids[1] == 15043 && ids[2] == 3186);
    /* parse_special: "<s>" becomes BOS, with a space prefix after it */
    n = tok(m, "<s>Hello", 8, 0, 1, ids, 64);
    CHECK(n == 2 && ids[0] == 1 && ids[1] == 15043);
    /* without parse_special it is plain text */
    n = tok(m, "<s>Hello", 8, 0, 0, ids, 64);
    CHECK(n > 2);
    for (int i = 0; i < n; i++)
        CHECK(ids[i] != 1);
    cove_model_free(m);
}

TEST(tokenizer_buffer_too_small)
{
    cove_model *m = load_vocab(SPM_VOCAB);
    CHECK(m);
    int32_t ids[2], n = -1;
    cove_error err = {0};
    CHECK_EQ_INT(cove_tokenize(m, "Hello, world!", 13, 0, 0, ids, 2, &n, &err), COVE_ERR_LIMIT);
    CHECK_EQ_INT(n, 4); /* the count needed */
    CHECK_EQ_INT(cove_tokenize(m, "x", 1, 0, 0, NULL, 0, &n, &err), COVE_ERR_LIMIT);
    CHECK(n >= 1);
    cove_model_free(m);
}

TEST(tokenizer_pieces)
{
    cove_model *m = load_vocab(SPM_VOCAB);
    CHECK(m);
    char buf[COVE_TOKEN_PIECE_MAX];
    size_t len;
    CHECK_OK(cove_token_to_piece(m, 15043, buf, sizeof buf, &len)); /* "▁Hello" */
    CHECK(len == 6 && memcmp(buf, " Hello", 6) == 0);
    CHECK_OK(cove_token_to_piece(m, 13, buf, sizeof buf, &len)); /* <0x0A> */
    CHECK(len == 1 && buf[0] == '\n');
    CHECK_OK(cove_token_to_piece(m, 1, buf, sizeof buf, &len)); /* BOS: nothing */
    CHECK_EQ_INT(len, 0);
    CHECK_EQ_INT(cove_token_to_piece(m, 15043, buf, 3, &len), COVE_ERR_LIMIT);
    CHECK_EQ_INT(len, 6);
    CHECK_EQ_INT(cove_token_to_piece(m, 32000, buf, sizeof buf, &len), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(cove_token_to_piece(m, -1, buf, sizeof buf, &len), COVE_ERR_INVALID_ARG);
    CHECK_STR_EQ(cove_token_text(m, 15043), "\xe2\x96\x81Hello");
    CHECK_STR_EQ(cove_token_text(m, 1), "<s>");
    CHECK(cove_token_text(m, 32000) == NULL);
    CHECK_EQ_INT(cove_token_type_of(m, 1), COVE_TOKEN_CONTROL);
    CHECK_EQ_INT(cove_token_type_of(m, 13), COVE_TOKEN_BYTE);
    CHECK_EQ_INT(cove_token_type_of(m, 15043), COVE_TOKEN_NORMAL);
    cove_model_free(m);
}

/* A 4-byte character split over byte tokens comes out only when complete. */
TEST(tokenizer_detok_utf8_split)
{
    cove_model *m = load_vocab(SPM_VOCAB);
    CHECK(m);
    static const int32_t llama_emoji[] = {243, 162, 169, 156}; /* F0 9F A6 99 */
    cove_detok *d = NULL;
    char buf[COVE_DETOK_BUF_MIN];
    size_t len;
    CHECK_OK(cove_detok_create(m, 0, &d));
    for (int i = 0; i < 3; i++) {
        CHECK_OK(cove_detok_push(d, llama_emoji[i], buf, sizeof buf, &len));
        CHECK_EQ_INT(len, 0);
    }
    CHECK_OK(cove_detok_push(d, llama_emoji[3], buf, sizeof buf, &len));
    CHECK(len == 4 && memcmp(buf, "\xf0\x9f\xa6\x99", 4) == 0);
    /* a broken sequence is passed through when it can no longer complete */
    CHECK_OK(cove_detok_push(d, 243, buf, sizeof buf, &len));
    CHECK_EQ_INT(len, 0);
    CHECK_OK(cove_detok_push(d, 15043, buf, sizeof buf, &len));
    CHECK(len == 7 && memcmp(buf, "\xf0 Hello", 7) == 0);
    /* flush gives what is held */
    CHECK_OK(cove_detok_push(d, 243, buf, sizeof buf, &len));
    CHECK_OK(cove_detok_flush(d, buf, sizeof buf, &len));
    CHECK(len == 1 && (uint8_t)buf[0] == 0xf0);
    CHECK_EQ_INT(cove_detok_push(d, 15043, buf, 16, &len), COVE_ERR_LIMIT);
    CHECK_EQ_INT(cove_detok_push(d, 99999, buf, sizeof buf, &len), COVE_ERR_INVALID_ARG);
    cove_detok_free(d);
    cove_model_free(m);
}

TEST(tokenizer_detok_flags)
{
    cove_model *m = load_vocab(SPM_VOCAB);
    CHECK(m);
    int32_t ids[8] = {1, 15043, 3186, 2};
    char out[64];
    CHECK_EQ_INT(detok_all(m, 0, ids, 4, out, sizeof out), 12);
    CHECK_STR_EQ(out, " Hello world");
    CHECK_EQ_INT(detok_all(m, COVE_DETOK_STRIP_SPACE, ids, 4, out, sizeof out), 11);
    CHECK_STR_EQ(out, "Hello world");
    CHECK(detok_all(m, COVE_DETOK_SPECIAL, ids, 4, out, sizeof out) > 0);
    CHECK_STR_EQ(out, "<s> Hello world</s>");
    cove_model_free(m);
}

/* The golden text of stories260K (models/README.md) tokenizes to the golden ids. */
TEST(tokenizer_stories_golden)
{
    static const char text[] = "Once upon a time, there was a little girl named Lily. She loved to "
                               "play outside in the park. One day, she saw a big, red ball. She "
                               "wanted to play with it, but it was too high";
    static const int32_t want[] = {
        1,   403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426,
        338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426,
        385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266,
        267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415};
    cove_model *m = load_vocab("stories260K.gguf");
    CHECK(m);
    int32_t ids[128];
    char back[512];
    int n = tok(m, text, strlen(text), 1, 0, ids, 128);
    int n_back = detok_all(m, COVE_DETOK_STRIP_SPACE, ids, n, back, sizeof back);
    cove_model_free(m);
    CHECK_EQ_INT(n, (int)(sizeof want / sizeof want[0]));
    CHECK(memcmp(ids, want, sizeof want) == 0);
    CHECK_EQ_INT(n_back, (int)strlen(text));
    CHECK_STR_EQ(back, text);
}

TEST(tokenizer_unsupported_type)
{
    /* a vocabulary-only file whose tokenizer type cove does not have */
    static const char *const toks[] = {"<unk>", "a", "b"};
    char path[512];
    snprintf(path, sizeof path, "%s/t5-vocab.gguf", test_tmpdir());
    cove_gguf_writer *w = NULL;
    cove_error err = {0};
    CHECK_OK(cove_gguf_writer_create(&w));
    int ok = cove_gguf_writer_set_str(w, "tokenizer.ggml.model", "t5") == COVE_OK &&
             cove_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3) == COVE_OK &&
             cove_gguf_writer_save(w, path, &err) == COVE_OK;
    cove_gguf_writer_free(w);
    CHECK(ok);
    cove_model_params mp = cove_model_default_params();
    mp.vocab_only = 1;
    cove_model *m = NULL;
    CHECK_EQ_INT(cove_model_load(path, mp, &m, &err), COVE_ERR_UNSUPPORTED);
    CHECK(m == NULL);
    CHECK(strstr(err.msg, "t5") != NULL);
}
