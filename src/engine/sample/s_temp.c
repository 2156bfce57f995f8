/*
 * engine/sample/s_temp.c - temperature: divide the logits by temp (> 0) before the draw.
 */
#include "engine/sample/sample_int.h"

static int temp_active(const cove_sampler_params *p)
{
    return p->temp > 0.0f && p->temp != 1.0f;
}

static void temp_apply(cove_sampler *s, cove_cand_list *cl)
{
    for (int32_t i = 0; i < cl->n; i++)
        cl->c[i].logit /= s->p.temp;
}

const cove_sample_stage cove_stage_temp = {
    .name = "temperature",
    .active = temp_active,
    .apply = temp_apply,
};
