/*
 * engine/sample/s_topk.c - keep the k candidates with the highest logits.
 *
 * Selection with a heap of k (worst on top) in O(n log k), then a sort of the k, so the
 * list comes out sorted.
 */
#include "engine/sample/sample_int.h"

static int topk_active(const cove_sampler_params *p)
{
    return p->top_k > 0;
}

/* Restore the heap below i: the parent ranks after (is worse than) its children. */
static void sift_down(cove_cand *h, int32_t n, int32_t i)
{
    for (;;) {
        int32_t w = i, l = 2 * i + 1, r = l + 1;
        if (l < n && cove_cand_before(&h[w], &h[l]))
            w = l;
        if (r < n && cove_cand_before(&h[w], &h[r]))
            w = r;
        if (w == i)
            return;
        cove_cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

static void topk_apply(cove_sampler *s, cove_cand_list *cl)
{
    int32_t k = s->p.top_k;
    if (k >= cl->n)
        return;
    cove_cand *c = cl->c;
    for (int32_t i = k / 2 - 1; i >= 0; i--)
        sift_down(c, k, i);
    for (int32_t i = k; i < cl->n; i++) {
        if (cove_cand_before(&c[i], &c[0])) {
            c[0] = c[i];
            sift_down(c, k, 0);
        }
    }
    cl->n = k;
    cl->sorted = 0;
    cove_cand_sort(cl);
}

const cove_sample_stage cove_stage_top_k = {
    .name = "top-k",
    .active = topk_active,
    .apply = topk_apply,
};
