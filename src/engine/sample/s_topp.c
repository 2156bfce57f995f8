/*
 * engine/sample/s_topp.c - nucleus sampling: keep the smallest set of the most likely
 * candidates whose probabilities add up to at least top_p (at least one candidate).
 */
#include "engine/sample/sample_int.h"

static int topp_active(const cove_sampler_params *p)
{
    return p->top_p < 1.0f;
}

static void topp_apply(cove_sampler *s, cove_cand_list *cl)
{
    cove_cand_sort(cl);
    cove_cand_softmax(cl);
    double acc = 0.0;
    for (int32_t i = 0; i < cl->n; i++) {
        acc += cl->c[i].p;
        if (acc >= s->p.top_p) {
            cl->n = i + 1;
            return;
        }
    }
}

const cove_sample_stage cove_stage_top_p = {
    .name = "top-p",
    .active = topp_active,
    .apply = topp_apply,
};
