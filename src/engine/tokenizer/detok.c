/*
 * engine/tokenizer/detok.c - the streaming detokenizer (cove_detok in cove/engine.h).
 *
 * Invariant: `held` holds at most 3 bytes, the start of one UTF-8 sequence that the
 * pieces so far have not finished. Each push writes held + piece, then holds back the
 * unfinished tail again.
 */
#include <string.h>

#include "base/alloc.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

struct cove_detok {
    const cove_vocab *v;
    unsigned flags;
    int started; /* a non-empty piece has been written */
    char held[4];
    size_t n_held;
};

cove_status cove_detok_create(const cove_model *model, unsigned flags, cove_detok **out)
{
    if (!out)
        return COVE_ERR_INVALID_ARG;
    *out = NULL;
    if (!model)
        return COVE_ERR_INVALID_ARG;
    cove_detok *d = cove_calloc(1, sizeof *d);
    if (!d)
        return COVE_ERR_NOMEM;
    d->v = cove_model_vocab(model);
    d->flags = flags;
    *out = d;
    return COVE_OK;
}

void cove_detok_free(cove_detok *d)
{
    cove_free(d);
}

void cove_detok_reset(cove_detok *d)
{
    d->started = 0;
    d->n_held = 0;
}

/* Bytes at the end of s[0..n) that start a UTF-8 sequence not yet complete (0..3). */
static size_t open_tail(const char *s, size_t n)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        uint8_t c = (uint8_t)s[n - back];
        if ((c & 0xc0) == 0x80)
            continue; /* continuation: look further back for the lead */
        size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (c >= 0xf8)
            return 0; /* never valid: pass it through */
        return need > back ? back : 0;
    }
    return 0;
}

cove_status cove_detok_push(cove_detok *d, int32_t token, char *buf, size_t n, size_t *len)
{
    *len = 0;
    if (!buf || n < COVE_DETOK_BUF_MIN)
        return COVE_ERR_LIMIT;
    if (token < 0 || token >= cove_vocab_n_tokens(d->v))
        return COVE_ERR_INVALID_ARG;
    memcpy(buf, d->held, d->n_held);
    size_t plen;
    cove_status st = cove_vocab_piece(d->v, token, (d->flags & COVE_DETOK_SPECIAL) != 0,
                                      buf + d->n_held, n - d->n_held, &plen);
    if (st != COVE_OK)
        return st;
    size_t total = d->n_held + plen;
    if (!d->started && total > 0) {
        d->started = 1;
        if ((d->flags & COVE_DETOK_STRIP_SPACE) && cove_vocab_adds_space_prefix(d->v) &&
            buf[0] == ' ')
            memmove(buf, buf + 1, --total);
    }
    size_t keep = open_tail(buf, total);
    memcpy(d->held, buf + total - keep, keep);
    d->n_held = keep;
    *len = total - keep;
    return COVE_OK;
}

cove_status cove_detok_flush(cove_detok *d, char *buf, size_t n, size_t *len)
{
    *len = 0;
    if (!buf || n < d->n_held)
        return COVE_ERR_LIMIT;
    memcpy(buf, d->held, d->n_held);
    *len = d->n_held;
    d->n_held = 0;
    return COVE_OK;
}
