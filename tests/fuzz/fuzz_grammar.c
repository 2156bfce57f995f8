/*
 * fuzz_grammar.c - libFuzzer target for the GBNF parser and the grammar matcher.
 *
 * Input: GBNF text, then optionally a NUL byte and bytes that drive a matcher. Any text
 * must compile or fail with a message; a compiled grammar is walked: each driver byte
 * picks a token among those the mask allows (the token must then be accepted), asks for
 * jump-forward, or feeds raw bytes (which may be refused). A token the mask allows may
 * still meet a bound of limits.h (COVE_ERR_LIMIT: ambiguous grammars multiply stacks),
 * never a refusal. The vocabulary is every
 * single byte plus some multi-byte and partial UTF-8 pieces.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cove/grammar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cove_grammar_vocab *make_vocab(void)
{
    static const char *const extra[] = {"\":", "{\"", "\"}", "true", "ab", "abc", "\xCE\xB1\xCE",
                                        "\xB2", "\xC3", "\xA9", "\xF0\x9F\x98", "\x80", "  ", "\n", ""};
    enum { N_EXTRA = sizeof extra / sizeof extra[0] };
    char single[256];
    const char *pieces[256 + N_EXTRA];
    size_t lens[256 + N_EXTRA];
    for (int i = 0; i < 256; i++) {
        single[i] = (char)i;
        pieces[i] = single + i;
        lens[i] = 1;
    }
    for (int i = 0; i < N_EXTRA; i++) {
        pieces[256 + i] = extra[i];
        lens[256 + i] = strlen(extra[i]);
    }
    int32_t eog = 256 + N_EXTRA - 1;
    cove_grammar_vocab *v = NULL;
    cove_grammar_vocab_create_from_pieces(pieces, lens, 256 + N_EXTRA, &eog, 1, &v, NULL);
    return v;
}

static void drive(cove_grammar *g, const cove_grammar_vocab *v, const uint8_t *d, size_t n)
{
    cove_grammar_matcher *m = NULL;
    if (cove_grammar_matcher_create(g, &m, NULL) != COVE_OK)
        return;
    int32_t nt = cove_grammar_vocab_n_tokens(v);
    uint32_t mask[16];
    for (size_t i = 0; i < n && i < 96; i++) {
        if (cove_grammar_matcher_fill_mask(m, mask, NULL) != COVE_OK)
            break;
        uint8_t c = d[i];
        if ((c & 3) == 0) {
            int32_t tok[16], k = 0;
            char b[64];
            size_t nb = 0;
            if (cove_grammar_matcher_jump_forward(m, tok, 16, &k, b, sizeof b, &nb, NULL) != COVE_OK)
                break;
            for (int32_t j = 0; j < k; j++)
                if (cove_grammar_matcher_accept_token(m, tok[j], NULL) == COVE_ERR_FORMAT)
                    abort(); /* a forced token must be accepted (bounds aside) */
        } else if ((c & 3) == 1) {
            cove_grammar_matcher_accept_bytes(m, (const char *)d + i, n - i < 3 ? n - i : 3, NULL);
        } else {
            int32_t want = c % nt, t = -1;
            for (int32_t j = 0; j < nt && t < 0; j++)
                if (cove_grammar_mask_test(mask, (want + j) % nt))
                    t = (want + j) % nt;
            if (t < 0)
                break;
            cove_status st = cove_grammar_matcher_accept_token(m, t, NULL);
            if (st == COVE_ERR_FORMAT)
                abort(); /* the mask allowed it */
            if (st != COVE_OK)
                break; /* a bound of limits.h: an answer, not a bug */
        }
        if ((c & 0xF0) == 0xF0) {
            cove_grammar_matcher *c2 = NULL;
            if (cove_grammar_matcher_clone(m, &c2, NULL) == COVE_OK) {
                cove_grammar_matcher_free(m);
                m = c2;
            }
        }
    }
    cove_grammar_matcher_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t glen = nul ? (size_t)(nul - data) : size;
    cove_grammar_vocab *v = make_vocab();
    cove_grammar *g = NULL;
    cove_error err = {0};
    if (v && cove_grammar_compile(v, (const char *)data, glen, &g, &err) == COVE_OK)
        drive(g, v, nul ? nul + 1 : data + size, nul ? size - glen - 1 : 0);
    else if (v && err.msg[0] == 0)
        abort(); /* a failure must say why */
    cove_grammar_free(g);
    cove_grammar_vocab_free(v);
    return 0;
}
