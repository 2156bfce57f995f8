/*
 * fuzz_schema.c - libFuzzer target for the schema module: any bytes as a JSON Schema
 * (and, after a NUL byte, as an instance) must be converted, validated or refused with
 * a status, never crash. A grammar the converter produces must compile in the engine's
 * GBNF compiler (a syntax error there is a converter bug and aborts).
 *
 * Input: SCHEMA [NUL INSTANCE]; the last byte of the input also picks the options.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "cove/grammar.h"
#include "schema/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cove_grammar_vocab *vocab(void)
{
    static cove_grammar_vocab *v; /* built once, read-only afterwards */
    if (!v) {
        static char bytes[256];
        const char *pieces[256];
        size_t lens[256];
        for (int i = 0; i < 256; i++) {
            bytes[i] = (char)i;
            pieces[i] = &bytes[i];
            lens[i] = 1;
        }
        cove_grammar_vocab_create_from_pieces(pieces, lens, 256, NULL, 0, &v, NULL);
    }
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t slen = nul ? (size_t)(nul - text) : size;
    uint8_t pick = size ? data[size - 1] : 0;
    cove_schema_opts o = cove_schema_default_opts();
    o.max_ws = pick % 3;
    o.allow_extra_props = (pick >> 2) & 1;
    o.strict = (pick >> 3) & 1;
    char *g = NULL;
    cove_error err = {0};
    if (cove_schema_to_gbnf(text, slen, &o, &g, &err) == COVE_OK) {
        cove_grammar *cg = NULL;
        cove_status st = cove_grammar_compile(vocab(), g, strlen(g), &cg, &err);
        if (st == COVE_ERR_FORMAT || st == COVE_ERR_INVALID_ARG)
            abort(); /* the converter wrote GBNF the engine cannot read */
        cove_grammar_free(cg);
    }
    cove_free(g);
    if (nul)
        cove_schema_validate_text(text, slen, nul + 1, size - slen - 1, &err);
    return 0;
}
