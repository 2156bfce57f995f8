/*
 * engine/sched/grammar.c - a request's grammar (cove/grammar.h) constraining its sampling.
 *
 * The grammar vocabulary of the model is built once per scheduler, on the first request
 * that carries a grammar. Each such request compiles its GBNF text at submit (so syntax
 * errors come back from cove_sched_submit as COVE_ERR_FORMAT) and gets a matcher. Before
 * each sampling the logits of tokens the grammar does not allow become -INFINITY; after it
 * the matcher advances over the chosen token. When the grammar is complete (no byte may
 * follow), the request ends as if the model had generated its end-of-generation token.
 */
#include "base/alloc.h"
#include "engine/sched/sched_int.h"

cove_status cove_sched_grammar_init(cove_sched *s, sched_req *r, cove_error *err)
{
    if (!r->grammar)
        return COVE_OK;
    cove_status st = COVE_OK;
    pthread_mutex_lock(&s->gmu);
    if (!s->gvocab) {
        st = cove_grammar_vocab_create(s->model, &s->gvocab, err);
        if (st == COVE_OK) {
            s->gmask = cove_calloc(cove_grammar_vocab_mask_words(s->gvocab), sizeof(uint32_t));
            if (!s->gmask) {
                cove_grammar_vocab_free(s->gvocab);
                s->gvocab = NULL;
                st = cove_error_set(err, COVE_ERR_NOMEM, "out of memory for a grammar");
            }
        }
    }
    pthread_mutex_unlock(&s->gmu);
    if (st == COVE_OK)
        st = cove_grammar_compile(s->gvocab, r->grammar, r->grammar_len, &r->gram, err);
    if (st == COVE_OK)
        st = cove_grammar_matcher_create(r->gram, &r->matcher, err);
    return st;
}

cove_status cove_sched_grammar_mask(cove_sched *s, sched_req *r, float *logits, cove_error *err)
{
    cove_status st = cove_grammar_matcher_fill_mask(r->matcher, s->gmask, err);
    if (st == COVE_OK)
        cove_grammar_mask_apply(s->gmask, logits, s->n_vocab);
    return st;
}

cove_status cove_sched_grammar_accept(sched_req *r, int32_t token, int *complete,
                                      cove_error *err)
{
    *complete = 0;
    if (!r->matcher)
        return COVE_OK;
    cove_status st = cove_grammar_matcher_accept_token(r->matcher, token, err);
    if (st == COVE_OK)
        *complete = cove_grammar_matcher_is_complete(r->matcher);
    return st;
}

void cove_sched_grammar_free(sched_req *r)
{
    cove_grammar_matcher_free(r->matcher);
    cove_grammar_free(r->gram);
    r->matcher = NULL;
    r->gram = NULL;
}

void cove_sched_grammar_release(cove_sched *s)
{
    cove_grammar_vocab_free(s->gvocab);
    cove_free(s->gmask);
    s->gvocab = NULL;
    s->gmask = NULL;
}
