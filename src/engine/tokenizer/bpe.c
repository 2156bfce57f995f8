/*
 * engine/tokenizer/bpe.c - byte-level BPE ("gpt2" vocabularies: GPT-2, SmolLM2, Llama 3,
 * Qwen 2, DeepSeek, StarCoder, Falcon, MPT, ...).
 *
 * Token texts are written in GPT-2's byte alphabet: every byte stands for one printable
 * code point (the printable bytes of Latin-1 for themselves, the others for U+0100 and
 * up, in order: the space is "Ġ" U+0120, the newline "Ċ" U+010A). Encoding one fragment:
 *  1. Pre-tokenize: the vocabulary's family scanner (bpe_pretok.c, picked by
 *     tokenizer.ggml.pre) cuts the text into words.
 *  2. Each word starts as one symbol per byte: the token of that byte's character.
 *  3. Merge: repeatedly join the adjacent pair with the lowest merge rank
 *     (tokenizer.ggml.merges, first = best; ties: the leftmost pair) until no adjacent
 *     pair has a merge. Merges are kept as token-id pairs in a hash table, so a merge
 *     step is an integer look-up. Candidate pairs wait in a binary heap; a pair is stale
 *     when either side has changed since it was queued.
 *  4. Emit each symbol's token. (llama 3: a word that is a token as a whole is emitted
 *     whole without merging.) A byte whose character the vocabulary lacks (SmolLM2 has
 *     no 0xFF: bytes that never occur in UTF-8) becomes <unk> when the vocabulary has a
 *     token of type unknown, and is dropped otherwise, as Hugging Face does.
 * Control, user-defined and other special tokens are matched in vocab.c before this.
 *
 * Decoding maps each character of a token's text back to its byte; user-defined tokens
 * are stored as plain text and come out as they are; control tokens give nothing (their
 * text when asked). (DeepSeek's vocabularies have user-defined tokens "\u00f8" ... for the
 * bytes that never occur in UTF-8: such a byte, 0xF8, encodes to that token, which
 * decodes as the text "\u00f8", the way the text "\u00f8" itself is matched to it.)
 */
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "engine/tokenizer/tokenizer_int.h"
#include "engine/tokenizer/unicode.h"

#define KEY_PRE "tokenizer.ggml.pre"
#define KEY_MERGES "tokenizer.ggml.merges"
#define KEY_ADD_BOS "tokenizer.ggml.add_bos_token"

#define N_MAPPED 324 /* the byte alphabet uses code points below this */

/* One merge in the hash table: (left, right) token ids -> rank and result. */
typedef struct bpe_merge {
    uint64_t key; /* left << 32 | right; EMPTY_KEY when the slot is free */
    int32_t rank;
    int32_t id;
} bpe_merge;

#define EMPTY_KEY UINT64_MAX

typedef struct bpe_data {
    const cove_pretok *pre;
    int ignore_merges;
    int32_t byte_id[256];       /* token of each byte's character, -1 when absent */
    uint16_t byte_cp[256];      /* byte -> code point of the alphabet */
    int16_t cp_byte[N_MAPPED];  /* code point -> byte, -1 when not in the alphabet */
    bpe_merge *merges;
    uint64_t merge_mask;
} bpe_data;

/* ------------------------------------------------------------ byte alphabet */

static int byte_is_printable(int b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

static void build_alphabet(bpe_data *d)
{
    int next = 256;
    for (int i = 0; i < N_MAPPED; i++)
        d->cp_byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        d->byte_cp[b] = (uint16_t)(byte_is_printable(b) ? b : next++);
        d->cp_byte[d->byte_cp[b]] = (int16_t)b;
    }
}

/* The word's bytes in the alphabet (UTF-8) into out (room for 2 * len); returns the length. */
static size_t to_alphabet(const bpe_data *d, const char *s, size_t len, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += cove_uni_put(d->byte_cp[(uint8_t)s[i]], out + n);
    return n;
}

/* ------------------------------------------------------------------ merges */

static uint64_t merge_hash(uint64_t key)
{
    key ^= key >> 29;
    key *= 0xbf58476d1ce4e5b9ull;
    key ^= key >> 32;
    return key;
}

static const bpe_merge *merge_find(const bpe_data *d, int32_t left, int32_t right)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (uint64_t i = merge_hash(key) & d->merge_mask;; i = (i + 1) & d->merge_mask) {
        const bpe_merge *m = &d->merges[i];
        if (m->key == key)
            return m;
        if (m->key == EMPTY_KEY)
            return NULL;
    }
}

/* Insert unless present (the first, best-ranked merge of a pair wins). */
static void merge_insert(bpe_data *d, int32_t left, int32_t right, int32_t rank, int32_t id)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    uint64_t i = merge_hash(key) & d->merge_mask;
    while (d->merges[i].key != EMPTY_KEY) {
        if (d->merges[i].key == key)
            return;
        i = (i + 1) & d->merge_mask;
    }
    d->merges[i] = (bpe_merge){key, rank, id};
}

/* Parse merge `rank` ("left right") and insert it; returns 0 when it names no tokens. */
static int load_merge(const cove_vocab *v, bpe_data *d, cove_gguf_str m, int32_t rank, char *buf)
{
    const char *sp = m.len > 1 ? memchr(m.ptr + 1, ' ', m.len - 1) : NULL;
    if (!sp || m.len - 1 > COVE_MAX_TOKEN_BYTES)
        return 0;
    size_t ll = (size_t)(sp - m.ptr), rl = m.len - ll - 1;
    int32_t left = cove_vocab_find(v, m.ptr, ll), right = cove_vocab_find(v, sp + 1, rl);
    memcpy(buf, m.ptr, ll);
    memcpy(buf + ll, sp + 1, rl);
    int32_t id = cove_vocab_find(v, buf, ll + rl);
    if (left < 0 || right < 0 || id < 0)
        return 0;
    merge_insert(d, left, right, rank, id);
    return 1;
}

static cove_status load_merges(const cove_vocab *v, bpe_data *d, const cove_gguf *g,
                               cove_error *err)
{
    enum cove_gguf_vtype et;
    uint64_t count;
    if (cove_gguf_get_arr(g, KEY_MERGES, &et, &count) != COVE_OK || et != COVE_GGUF_STRING)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s is missing or not a list of strings",
                              KEY_MERGES);
    if (count > COVE_MAX_MERGES)
        return cove_error_set(err, COVE_ERR_LIMIT, "%llu BPE merges exceed the limit of %u",
                              (unsigned long long)count, (unsigned)COVE_MAX_MERGES);
    uint64_t slots = 16;
    while (slots < count * 2)
        slots <<= 1;
    d->merges = cove_malloc(slots * sizeof *d->merges);
    if (!d->merges)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading the BPE merges");
    memset(d->merges, 0xff, slots * sizeof *d->merges);
    d->merge_mask = slots - 1;
    char buf[2 * COVE_MAX_TOKEN_BYTES];
    uint64_t unused = 0;
    for (uint64_t i = 0; i < count; i++) {
        cove_gguf_str m;
        if (cove_gguf_arr_str(g, KEY_MERGES, i, &m) != COVE_OK)
            return cove_error_set(err, COVE_ERR_FORMAT, "cannot read BPE merge %llu",
                                  (unsigned long long)i);
        unused += !load_merge(v, d, m, (int32_t)i, buf);
    }
    if (unused)
        cove_log_warn("%llu of %llu BPE merges name tokens the vocabulary lacks; ignored",
                      (unsigned long long)unused, (unsigned long long)count);
    return COVE_OK;
}

/* ------------------------------------------------------------- load, free */

static cove_status pick_pretok(bpe_data *d, const cove_gguf *g, cove_error *err)
{
    cove_gguf_str pre;
    if (cove_gguf_get_str(g, KEY_PRE, &pre) != COVE_OK) {
        d->pre = cove_pretok_default();
    } else {
        d->pre = cove_pretok_find(pre.ptr, pre.len);
        if (!d->pre)
            return cove_error_set(err, COVE_ERR_UNSUPPORTED,
                                  "BPE pre-tokenizer '%.*s' is not supported",
                                  pre.len > 40 ? 40 : (int)pre.len, pre.ptr);
    }
    d->ignore_merges = cove_pretok_ignore_merges(d->pre);
    return COVE_OK;
}

static void bpe_release(cove_vocab *v)
{
    bpe_data *d = v->tt_data;
    if (d)
        cove_free(d->merges);
    cove_free(d);
    v->tt_data = NULL;
}

static cove_status bpe_init(cove_vocab *v, const cove_gguf *g, cove_error *err)
{
    bpe_data *d = cove_calloc(1, sizeof *d);
    if (!d)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading the vocabulary");
    v->tt_data = d;
    v->add_space_prefix = 0; /* byte-level BPE keeps every space itself */
    build_alphabet(d);
    for (int b = 0; b < 256; b++) {
        char c[4];
        size_t n = cove_uni_put(d->byte_cp[b], c);
        d->byte_id[b] = cove_vocab_find(v, c, n);
    }
    cove_status st = pick_pretok(d, g, err);
    if (st == COVE_OK)
        st = load_merges(v, d, g, err);
    /* llama 3 vocabularies add BOS unless the file says otherwise */
    int flag;
    if (st == COVE_OK && d->ignore_merges && cove_gguf_get_bool(g, KEY_ADD_BOS, &flag) != COVE_OK)
        v->add_bos = 1;
    return st;
}

/* ------------------------------------------------------------------ encode */

typedef struct bpe_sym {
    int32_t id; /* -1 once merged into its left neighbour */
    int32_t prev, next;
} bpe_sym;

typedef struct bpe_pair {
    int32_t rank;
    int32_t left; /* symbol index; the right one is sym[left].next */
    int32_t lid, rid, out;
} bpe_pair;

/*
 * A cache of recent words and their tokens, for one long encode call: text repeats its
 * words, and a hit skips the merge table (whose look-ups miss the CPU caches). Direct
 * mapped; the byte and id stores only grow, and everything is forgotten when one is full.
 */
#define CACHE_MIN_TEXT 8192 /* shorter texts do without */
#define CACHE_SLOTS 8192
#define CACHE_WORD_MAX 32 /* longer words are not cached */
#define CACHE_BYTES (CACHE_SLOTS * 8)
#define CACHE_IDS (CACHE_SLOTS * 4)

typedef struct bpe_cache_slot {
    uint32_t hash;
    uint32_t byte_off, id_off;
    uint8_t len, n_ids; /* len 0: empty */
} bpe_cache_slot;

typedef struct bpe_cache {
    bpe_cache_slot slot[CACHE_SLOTS];
    char bytes[CACHE_BYTES];
    int32_t ids[CACHE_IDS];
    uint32_t n_bytes, n_ids;
} bpe_cache;

/* Scratch of one encode call, sized for the longest word merged at once. */
typedef struct bpe_work {
    const cove_vocab *v;
    const bpe_data *d;
    cove_tokbuf *out;
    bpe_sym *sym;
    bpe_pair *heap;
    size_t n_heap;
    size_t cap;       /* bytes of word the arrays hold */
    bpe_cache *cache; /* NULL for short texts */
} bpe_work;

static int pair_less(const bpe_pair *a, const bpe_pair *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(bpe_work *w, bpe_pair p)
{
    size_t i = w->n_heap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!pair_less(&p, &w->heap[up]))
            break;
        w->heap[i] = w->heap[up];
        i = up;
    }
    w->heap[i] = p;
}

static bpe_pair heap_pop(bpe_work *w)
{
    bpe_pair top = w->heap[0], last = w->heap[--w->n_heap];
    size_t i = 0, n = w->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && pair_less(&w->heap[c + 1], &w->heap[c]))
            c++;
        if (!pair_less(&w->heap[c], &last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n)
        w->heap[i] = last;
    return top;
}

/* Queue the pair (left, its right neighbour) when a merge joins them. */
static void try_pair(bpe_work *w, int32_t left)
{
    if (left < 0)
        return;
    int32_t right = w->sym[left].next;
    if (right < 0 || w->sym[left].id < 0 || w->sym[right].id < 0)
        return;
    const bpe_merge *m = merge_find(w->d, w->sym[left].id, w->sym[right].id);
    if (m)
        heap_push(w, (bpe_pair){m->rank, left, w->sym[left].id, w->sym[right].id, m->id});
}

/* Merge the symbols of one word (n >= 1 symbols, already in w->sym). */
static void merge_word(bpe_work *w, int32_t n)
{
    w->n_heap = 0;
    for (int32_t i = 0; i + 1 < n; i++)
        try_pair(w, i);
    while (w->n_heap) {
        bpe_pair p = heap_pop(w);
        bpe_sym *l = &w->sym[p.left];
        if (l->id != p.lid || l->next < 0 || w->sym[l->next].id != p.rid)
            continue; /* stale */
        bpe_sym *r = &w->sym[l->next];
        l->id = p.out;
        r->id = -1;
        l->next = r->next;
        if (r->next >= 0)
            w->sym[r->next].prev = p.left;
        try_pair(w, l->prev);
        try_pair(w, p.left);
    }
}

/* BPE one word of at most w->cap bytes and emit its tokens. */
static cove_status encode_piece(bpe_work *w, const char *s, size_t len)
{
    int32_t n = (int32_t)len;
    for (int32_t i = 0; i < n; i++)
        w->sym[i] = (bpe_sym){w->d->byte_id[(uint8_t)s[i]], i - 1, i + 1 < n ? i + 1 : -1};
    merge_word(w, n);
    cove_status st = COVE_OK;
    for (int32_t i = 0; i >= 0 && st == COVE_OK; i = w->sym[i].next) {
        int32_t id = w->sym[i].id, unk = w->v->unk;
        if (id < 0 && unk >= 0 && w->v->type[unk] == COVE_TOKEN_UNKNOWN)
            id = unk; /* a byte the vocabulary lacks: <unk> when it has a real one */
        if (id >= 0)
            st = cove_tokbuf_push(w->out, id); /* else dropped, as Hugging Face does */
    }
    return st;
}

/* The start of the character that contains byte `at` (at < len), or 0. */
static size_t char_start(const char *s, size_t at)
{
    size_t p = at;
    while (p > 0 && at - p < 3 && ((uint8_t)s[p] & 0xC0) == 0x80)
        p--;
    return ((uint8_t)s[p] & 0xC0) == 0x80 ? at : p;
}

static uint32_t word_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* The cache slot of word s[0..len), and whether it holds that word. */
static bpe_cache_slot *cache_find(bpe_cache *c, const char *s, size_t len, uint32_t h, int *hit)
{
    bpe_cache_slot *e = &c->slot[h & (CACHE_SLOTS - 1)];
    *hit = e->len == len && e->hash == h && memcmp(c->bytes + e->byte_off, s, len) == 0;
    return e;
}

/* Remember the ids the word just produced (out->ids[from..]). */
static void cache_store(bpe_cache *c, bpe_cache_slot *e, const char *s, size_t len, uint32_t h,
                        const cove_tokbuf *out, size_t from)
{
    size_t n = out->n - from;
    if (n > len || n > 255)
        return;
    if (c->n_bytes + len > CACHE_BYTES || c->n_ids + n > CACHE_IDS) {
        memset(c->slot, 0, sizeof c->slot);
        c->n_bytes = c->n_ids = 0;
    }
    memcpy(c->bytes + c->n_bytes, s, len);
    memcpy(c->ids + c->n_ids, out->ids + from, n * sizeof *c->ids);
    *e = (bpe_cache_slot){h, c->n_bytes, c->n_ids, (uint8_t)len, (uint8_t)n};
    c->n_bytes += (uint32_t)len;
    c->n_ids += (uint32_t)n;
}

/* BPE a word, in pieces of at most w->cap bytes. */
static cove_status encode_long(bpe_work *w, const char *s, size_t len)
{
    cove_status st = COVE_OK;
    while (len > 0 && st == COVE_OK) {
        size_t n = len;
        if (n > w->cap) {
            n = char_start(s, w->cap);
            n = n ? n : w->cap;
        }
        st = encode_piece(w, s, n);
        s += n;
        len -= n;
    }
    return st;
}

/* One word, without the cache. */
static cove_status encode_uncached(bpe_work *w, const char *s, size_t len)
{
    if (w->d->ignore_merges && len <= COVE_MAX_TOKEN_BYTES / 2) {
        char buf[COVE_MAX_TOKEN_BYTES];
        int32_t id = cove_vocab_find(w->v, buf, to_alphabet(w->d, s, len, buf));
        if (id >= 0)
            return cove_tokbuf_push(w->out, id);
    }
    return encode_long(w, s, len);
}

/* The pre-tokenizer's callback: one word. */
static cove_status encode_word(void *ctx, const char *s, size_t len)
{
    bpe_work *w = ctx;
    if (!w->cache || len > CACHE_WORD_MAX)
        return encode_uncached(w, s, len);
    int hit;
    uint32_t h = word_hash(s, len);
    bpe_cache_slot *e = cache_find(w->cache, s, len, h, &hit);
    cove_status st = COVE_OK;
    if (hit) {
        for (uint32_t i = 0; i < e->n_ids && st == COVE_OK; i++)
            st = cove_tokbuf_push(w->out, w->cache->ids[e->id_off + i]);
        return st;
    }
    size_t from = w->out->n;
    st = encode_uncached(w, s, len);
    if (st == COVE_OK)
        cache_store(w->cache, e, s, len, h, w->out, from);
    return st;
}

static cove_status bpe_encode(const cove_vocab *v, const char *text, size_t len, int after_special,
                              cove_tokbuf *out, cove_error *err)
{
    (void)after_special;
    (void)err;
    if (len == 0)
        return COVE_OK;
    bpe_work w = {.v = v, .d = v->tt_data, .out = out};
    w.cap = len < COVE_MAX_BPE_WORD ? len : COVE_MAX_BPE_WORD;
    w.sym = cove_malloc(w.cap * sizeof *w.sym);
    w.heap = cove_malloc(3 * w.cap * sizeof *w.heap); /* n - 1 pairs + 2 per merge */
    if (len >= CACHE_MIN_TEXT)
        w.cache = cove_calloc(1, sizeof *w.cache); /* optional: NULL only costs speed */
    cove_status st = COVE_ERR_NOMEM;
    if (w.sym && w.heap)
        st = cove_pretok_split(w.d->pre, text, len, encode_word, &w);
    cove_free(w.sym);
    cove_free(w.heap);
    cove_free(w.cache);
    return st;
}

/* ------------------------------------------------------------------ decode */

/* Append bytes to buf[0..n) at *at, counting what does not fit. */
static void put(char *buf, size_t n, size_t *at, const char *s, size_t len)
{
    if (*at < n)
        memcpy(buf + *at, s, len <= n - *at ? len : n - *at);
    *at += len;
}

static size_t bpe_piece(const cove_vocab *v, int32_t token, int special, char *buf, size_t n)
{
    const bpe_data *d = v->tt_data;
    const char *t = v->blob + v->off[token];
    uint32_t len = v->len[token];
    size_t at = 0;
    switch (v->type[token]) {
    case COVE_TOKEN_CONTROL:
    case COVE_TOKEN_UNKNOWN:
        if (special)
            put(buf, n, &at, t, len);
        return at;
    case COVE_TOKEN_USER_DEFINED:
        put(buf, n, &at, t, len);
        return at;
    default:
        break;
    }
    for (uint32_t i = 0; i < len;) {
        uint32_t cp;
        size_t cl = cove_uni_next(t + i, len - i, &cp);
        if (cp < N_MAPPED && d->cp_byte[cp] >= 0) {
            char b = (char)d->cp_byte[cp];
            put(buf, n, &at, &b, 1);
        } else {
            put(buf, n, &at, t + i, cl); /* not in the alphabet: as it is */
        }
        i += (uint32_t)cl;
    }
    return at;
}

const cove_tok_type cove_tok_bpe = {
    .name = "gpt2",
    .def_bos = -1,
    .def_eos = -1,
    .def_unk = -1,
    .def_add_bos = 0,
    .def_add_eos = 0,
    .def_add_space_prefix = 0,
    .init = bpe_init,
    .release = bpe_release,
    .encode = bpe_encode,
    .piece = bpe_piece,
};
