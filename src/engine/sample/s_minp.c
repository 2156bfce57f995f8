/*
 * engine/sample/s_minp.c - drop candidates less likely than min_p times the most likely.
 *
 * p_i >= min_p * p_max  <=>  logit_i >= logit_max + log(min_p), so no softmax is needed.
 * Keeps the list's order.
 */
#include <math.h>

#include "engine/sample/sample_int.h"

static int minp_active(const cove_sampler_params *p)
{
    return p->min_p > 0.0f;
}

static void minp_apply(cove_sampler *s, cove_cand_list *cl)
{
    if (s->p.min_p >= 1.0f) {  /* only the best survive */
        cove_cand_sort(cl);
        cl->n = 1;
        return;
    }
    float max = -INFINITY;
    for (int32_t i = 0; i < cl->n; i++)
        if (cl->c[i].logit > max)
            max = cl->c[i].logit;
    float cut = max + logf(s->p.min_p);
    int32_t n = 0;
    for (int32_t i = 0; i < cl->n; i++)
        if (cl->c[i].logit >= cut)
            cl->c[n++] = cl->c[i];
    cl->n = n > 0 ? n : 1;
}

const cove_sample_stage cove_stage_min_p = {
    .name = "min-p",
    .active = minp_active,
    .apply = minp_apply,
};
