/*
 * engine/sample/sample_int.h - the sampler's insides and its table of stages.
 *
 * Sampling works on a candidate list built from the logits (one entry per token, in id
 * order). Each stage is one entry in its own file (s_penalty.c, s_topk.c, ...), registered
 * in order in sample.c; a stage whose parameter is neutral is left out of the chain when
 * the sampler is created. A stage may shrink the list and may sort it (logit descending,
 * ties by lowest id), and says so in `sorted`. The last step, a draw from the softmax or
 * the greedy argmax, is in sample.c.
 */
#ifndef COVE_ENGINE_SAMPLE_INT_H
#define COVE_ENGINE_SAMPLE_INT_H

#include <stdint.h>

#include "cove/engine.h"

typedef struct cove_cand {
    int32_t id;
    float logit;
    float p; /* probability, where a stage computed it */
} cove_cand;

typedef struct cove_cand_list {
    cove_cand *c;
    int32_t n;
    int sorted; /* c[0..n) is in logit-descending order, ties by lowest id */
} cove_cand_list;

typedef struct cove_sample_stage {
    const char *name;
    /* 1 when the stage changes anything with these parameters. */
    int (*active)(const cove_sampler_params *p);
    void (*apply)(cove_sampler *s, cove_cand_list *cl);
} cove_sample_stage;

extern const cove_sample_stage cove_stage_penalty; /* s_penalty.c */
extern const cove_sample_stage cove_stage_top_k;   /* s_topk.c */
extern const cove_sample_stage cove_stage_top_p;   /* s_topp.c */
extern const cove_sample_stage cove_stage_min_p;   /* s_minp.c */
extern const cove_sample_stage cove_stage_temp;    /* s_temp.c */

#define COVE_SAMPLE_MAX_STAGES 8
#define COVE_SAMPLE_MAX_HISTORY 65536 /* repeat_last_n bound */

struct cove_sampler {
    cove_sampler_params p;
    int32_t n_vocab;
    cove_cand *cand;       /* [n_vocab] */
    uint8_t *mark;         /* [n_vocab] scratch of the penalty stage, all 0 between calls */
    int32_t *hist;         /* [repeat_last_n] ring of recent tokens */
    int32_t n_hist;        /* entries in use */
    int32_t hist_at;       /* next slot to write */
    uint64_t rng[4];       /* xoshiro256** state */
    const cove_sample_stage *chain[COVE_SAMPLE_MAX_STAGES];
    int n_chain;
};

/* 1 when a ranks before b: higher logit, then lower id. */
static inline int cove_cand_before(const cove_cand *a, const cove_cand *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

/* Sort the list (logit descending, ties by id) unless it is sorted already. */
void cove_cand_sort(cove_cand_list *cl);

/* Fill p of every candidate with the softmax of the logits (list order unchanged). */
void cove_cand_softmax(cove_cand_list *cl);

#endif
