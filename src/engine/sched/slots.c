/*
 * engine/sched/slots.c - which slot a request gets, and how much of its prompt is cached.
 *
 * Every slot remembers the tokens its cache holds, also after its request finished. For a
 * new prompt, the slot (free or busy) whose tokens share the longest prefix with it is the
 * best source. Reuse stops one token short of the whole prompt: the last prompt token is
 * always computed, since its logits give the first generated token. A prefix shorter than
 * MIN_REUSE tokens is not reused.
 *
 *   - The best source is free and most of its cache is that prefix (at least half): the
 *     request takes that slot and its cache is cut back to the prefix.
 *   - Otherwise the request takes a victim slot (an empty free slot, else the least
 *     recently used free one) and, when the best source shares anything, the prefix is
 *     copied into it (cove_context_seq_copy). A victim that held other tokens is an
 *     eviction.
 *
 * Copying instead of taking over a source whose cache is mostly something else keeps that
 * longer cache for a later request that shares all of it.
 */
#include <string.h>

#include "engine/sched/sched_int.h"

/* Shorter shared prefixes (a BOS token, a role marker) are not worth a copy or a hit. */
#define MIN_REUSE 4

static int32_t common_prefix(const int32_t *a, int32_t na, const int32_t *b, int32_t nb)
{
    int32_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* An empty free slot, else the least recently used free one; -1 when none is free. */
static int32_t pick_victim(const cove_sched *s)
{
    int32_t best = -1;
    for (int32_t i = 0; i < s->p.n_slots; i++) {
        const sched_slot *sl = &s->slots[i];
        if (sl->req)
            continue;
        if (sl->n_tokens == 0)
            return i;
        if (best < 0 || sl->last_used < s->slots[best].last_used)
            best = i;
    }
    return best;
}

/* The slot sharing the longest prefix with r's prompt (capped at n_prompt - 1). */
static int32_t best_source(const cove_sched *s, const sched_req *r, int32_t *len)
{
    int32_t best = -1;
    *len = 0;
    for (int32_t i = 0; i < s->p.n_slots; i++) {
        const sched_slot *sl = &s->slots[i];
        int32_t l = common_prefix(sl->tokens, sl->n_tokens, r->prompt, r->n_prompt - 1);
        if (l > *len || (l == *len && l > 0 && !sl->req && best >= 0 && s->slots[best].req)) {
            best = i;
            *len = l;
        }
    }
    return best;
}

/* Which slot r takes and how many cached tokens it keeps; sets up the cache. */
static int32_t place(cove_sched *s, sched_req *r, int32_t *reused)
{
    int32_t len = 0, src = -1;
    const int use_cache = s->p.prefix_cache && r->cache_prompt;
    if (use_cache)
        src = best_source(s, r, &len);
    if (len < MIN_REUSE) {
        src = -1;
        len = 0;
    }
    if (src >= 0 && !s->slots[src].req && 2 * len >= s->slots[src].n_tokens) {
        cove_context_seq_truncate(s->ctx, src, len);
        s->slots[src].n_tokens = len;
        *reused = len;
        return src;
    }
    const int32_t v = pick_victim(s);
    sched_slot *vs = &s->slots[v];
    if (src >= 0 && len > 0) {
        if (src != v) {
            if (vs->n_tokens > 0)
                s->m.prefix_evictions++;
            cove_context_seq_copy(s->ctx, src, v, len);
            memcpy(vs->tokens, s->slots[src].tokens, (size_t)len * sizeof(int32_t));
            s->m.prefix_copies++;
        } else {
            cove_context_seq_truncate(s->ctx, v, len);
        }
        vs->n_tokens = len;
        *reused = len;
        return v;
    }
    if (vs->n_tokens > 0 && use_cache)
        s->m.prefix_evictions++;
    cove_context_seq_clear(s->ctx, v);
    vs->n_tokens = 0;
    *reused = 0;
    return v;
}

void cove_sched_admit(cove_sched *s, sched_req *r)
{
    int32_t reused = 0;
    const int32_t slot = place(s, r, &reused);
    sched_slot *sl = &s->slots[slot];
    sl->req = r;
    sl->last_used = ++s->tick;
    r->slot = slot;
    r->n_prompt_done = reused;
    r->n_cached = reused;
    r->t_admit = cove_sched_now_ms();
    for (int32_t i = 0; i < r->n_prompt; i++)
        cove_sampler_accept(r->smp, r->prompt[i]);
    s->n_active++;
    s->m.tokens_prompt += (uint64_t)r->n_prompt;
    s->m.tokens_reused += (uint64_t)reused;
    s->m.tokens_evaluated += (uint64_t)(r->n_prompt - reused);
    if (s->p.prefix_cache && r->cache_prompt) {
        s->m.prefix_lookups++;
        s->m.prefix_hits += reused > 0;
    }
}
