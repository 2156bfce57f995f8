/*
 * engine/sample/s_penalty.c - repetition penalty over the last repeat_last_n tokens.
 *
 * Each distinct recent token has its logit divided by the penalty when positive and
 * multiplied by it when negative (the CTRL paper's rule), once however often it occurred.
 * Runs first, on the list in id order.
 */
#include "engine/sample/sample_int.h"

static int penalty_active(const cove_sampler_params *p)
{
    return p->repeat_penalty != 1.0f && p->repeat_last_n > 0;
}

static void penalty_apply(cove_sampler *s, cove_cand_list *cl)
{
    const float r = s->p.repeat_penalty;
    for (int32_t i = 0; i < s->n_hist; i++) {
        int32_t id = s->hist[i];
        if (s->mark[id])
            continue;
        s->mark[id] = 1;
        cove_cand *c = &cl->c[id]; /* still in id order: cand[id].id == id */
        c->logit = c->logit > 0.0f ? c->logit / r : c->logit * r;
    }
    for (int32_t i = 0; i < s->n_hist; i++)
        s->mark[s->hist[i]] = 0;
}

const cove_sample_stage cove_stage_penalty = {
    .name = "repeat-penalty",
    .active = penalty_active,
    .apply = penalty_apply,
};
