/*
 * bench/bench_tokenize.c - tokenizer throughput on English text, one thread.
 *
 *     bench_tokenize [MODELS_DIR] [--mb N] [--only NAME]
 *
 * The corpus: the inputs of the vocabulary test vectors plus generated English prose
 * (sentences from a word list, with numbers, contractions, punctuation, quotes and
 * paragraph breaks), N MB of it (default 1). Each vocabulary tokenizes the whole corpus
 * in one cove_tokenize call (raw: no BOS/EOS, no special-token parsing), five times; the
 * table shows the best run; --only runs the rows whose label contains NAME. MODELS_DIR defaults to $COVE_TEST_MODELS or
 * ../shared/models beside the source tree.
 *
 * There is no Llama 3 vocabulary among the test files, so the "llama3-style" row runs
 * the GPT-2 vocabulary through the Llama 3 pre-tokenizer and its ignore_merges rule: a
 * GGUF the bench writes to /tmp with tokenizer.ggml.pre = "llama-bpe".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "cove/engine.h"
#include "engine/gguf/gguf.h"

#ifndef COVE_SOURCE_DIR
#define COVE_SOURCE_DIR "."
#endif

static const char *const words[] = {
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be",
    "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have",
    "an", "had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has",
    "there", "been", "if", "more", "when", "will", "would", "who", "so", "no", "time", "people",
    "language", "model", "private", "agents", "small", "local", "inference", "tokenizer",
    "vocabulary", "document", "knowledge", "question", "answer", "government", "development",
    "information", "understanding", "international", "responsibility", "characteristics",
    "river", "mountain", "village", "children", "teacher", "library", "morning", "evening",
    "quickly", "carefully", "beautiful", "important", "different", "several", "between",
    "through", "during", "without", "however", "although", "because", "therefore", "London",
    "Paris", "Monday", "September", "Alice", "Bob", "Europe", "Python", "JSON", "HTTP",
};

static const char *const tails[] = {".", ".", ".", "?", "!", ";", ":", ","};
static const char *const specials[] = {"don't", "it's", "we'll", "they've", "I'm", "(see",
                                       "below)", "\"quoted\"", "e.g.", "3.14", "1,024",
                                       "2024", "42%", "$19.99", "#1", "--", "well-known"};

static uint32_t rnd(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Append generated English prose to buf (room for size + SLACK) until it holds `size`
 * bytes or a little more (a sentence is far shorter than SLACK). */
#define SLACK 4096

static size_t gen_prose(char *buf, size_t at, size_t size)
{
    uint32_t s = 7;
    size_t n_words = sizeof words / sizeof words[0];
    while (at < size) {
        int len = 6 + (int)(rnd(&s) % 18);
        for (int i = 0; i < len; i++) {
            const char *w = rnd(&s) % 12 == 0
                                ? specials[rnd(&s) % (sizeof specials / sizeof specials[0])]
                                : words[rnd(&s) % n_words];
            int cap = i == 0;
            at += (size_t)snprintf(buf + at, size + SLACK - at, "%s%c%s", i ? " " : "",
                                   cap && w[0] >= 'a' && w[0] <= 'z' ? w[0] - 32 : w[0], w + 1);
        }
        at += (size_t)snprintf(buf + at, size + SLACK - at, "%s", tails[rnd(&s) % 8]);
        at += (size_t)snprintf(buf + at, size + SLACK - at, "%s",
                               rnd(&s) % 6 == 0 ? "\n\n" : " ");
    }
    return at;
}

/* The corpus: the test inputs (separators dropped), then prose up to `size` bytes. */
static char *make_corpus(const char *models, size_t size, size_t *len)
{
    char *buf = malloc(size + SLACK), path[1024];
    if (!buf)
        return NULL;
    size_t at = 0;
    snprintf(path, sizeof path, "%s/vocab/ggml-vocab-gpt-2.gguf.inp", models);
    FILE *f = fopen(path, "rb");
    if (f) {
        at = fread(buf, 1, size / 4, f);
        fclose(f);
    }
    for (char *p; (p = memmem(buf, at, "__ggml_vocab_test__", 19));) {
        memmove(p, p + 19, at - (size_t)(p - buf) - 19);
        at -= 19;
    }
    *len = gen_prose(buf, at, size);
    return buf;
}

/* Copy the GPT-2 vocabulary into a GGUF whose pre-tokenizer is Llama 3's. */
static int write_llama3_style(const char *src, const char *dst)
{
    cove_gguf *g = NULL;
    cove_gguf_writer *w = NULL;
    cove_error err = {0};
    static const char *const keys[] = {"tokenizer.ggml.tokens", "tokenizer.ggml.merges"};
    int ok = cove_gguf_open(src, &g, &err) == COVE_OK && cove_gguf_writer_create(&w) == COVE_OK;
    ok = ok && cove_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2") == COVE_OK &&
         cove_gguf_writer_set_str(w, "tokenizer.ggml.pre", "llama-bpe") == COVE_OK;
    for (int k = 0; ok && k < 2; k++) {
        enum cove_gguf_vtype et;
        uint64_t n = 0;
        ok = cove_gguf_get_arr(g, keys[k], &et, &n) == COVE_OK;
        char **strs = ok ? calloc(n, sizeof *strs) : NULL;
        for (uint64_t i = 0; strs && i < n; i++) {
            cove_gguf_str s;
            cove_gguf_arr_str(g, keys[k], i, &s);
            strs[i] = strndup(s.ptr, s.len);
            ok = ok && strs[i];
        }
        ok = ok && strs &&
             cove_gguf_writer_set_arr_str(w, keys[k], (const char *const *)strs, n) == COVE_OK;
        for (uint64_t i = 0; strs && i < n; i++)
            free(strs[i]);
        free(strs);
    }
    ok = ok && cove_gguf_writer_save(w, dst, &err) == COVE_OK;
    if (!ok)
        fprintf(stderr, "bench_tokenize: cannot write %s: %s\n", dst, cove_error_msg(&err));
    cove_gguf_writer_free(w);
    cove_gguf_free(g);
    return ok;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void bench_one(const char *label, const char *path, const char *text, size_t len)
{
    cove_model_params mp = cove_model_default_params();
    mp.vocab_only = 1;
    cove_model *m = NULL;
    cove_error err = {0};
    if (cove_model_load(path, mp, &m, &err) != COVE_OK) {
        printf("| %s | - | load failed: %s | | |\n", label, cove_error_msg(&err));
        return;
    }
    int32_t *ids = cove_malloc(len * sizeof *ids), n = 0;
    double best = 1e30;
    for (int rep = 0; ids && rep < 5; rep++) {
        double t0 = now();
        if (cove_tokenize(m, text, len, 0, 0, ids, (int32_t)len, &n, &err) != COVE_OK) {
            printf("| %s | - | tokenize failed: %s | | |\n", label, cove_error_msg(&err));
            break;
        }
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    if (n > 0)
        printf("| %s | %d | %.1f | %d | %.2f |\n", label, cove_model_n_vocab(m),
               (double)len / best / 1e6, n, (double)len / n);
    cove_free(ids);
    cove_model_free(m);
}

int main(int argc, char **argv)
{
    const char *env = getenv("COVE_TEST_MODELS"), *models = NULL, *only = "";
    double mb = 1.0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mb") == 0 && i + 1 < argc)
            mb = atof(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else
            models = argv[i];
    }
    if (!models)
        models = env && *env ? env : COVE_SOURCE_DIR "/../shared/models";
    if (mb <= 0 || mb > 64)
        mb = 1.0;
    size_t len = 0;
    char *text = make_corpus(models, (size_t)(mb * 1e6), &len), path[1024], tmp[64];
    if (!text)
        return 1;
    snprintf(tmp, sizeof tmp, "/tmp/bench-tok-llama3-%d.gguf", (int)getpid());
    printf("corpus: %zu bytes of English, one thread, best of 5\n\n", len);
    printf("| vocabulary | tokens | MB/s | ids | bytes/id |\n|---|---|---|---|---|\n");
    static const char *const rows[][2] = {{"smollm2 (BPE, smollm)", "smollm2"},
                                          {"gpt-2 (BPE, gpt-2)", "gpt-2"},
                                          {"deepseek-llm (BPE)", "deepseek-llm"},
                                          {"bert-bge (WordPiece)", "bert-bge"},
                                          {"llama-spm (SentencePiece)", "llama-spm"}};
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        snprintf(path, sizeof path, "%s/vocab/ggml-vocab-%s.gguf", models, rows[r][1]);
        if (strstr(rows[r][0], only))
            bench_one(rows[r][0], path, text, len);
        if (r == 1 && strstr("llama3-style", only)) {
            if (write_llama3_style(path, tmp))
                bench_one("llama3-style (gpt-2 vocab, llama-bpe)", tmp, text, len);
            unlink(tmp);
        }
    }
    free(text);
    return 0;
}
