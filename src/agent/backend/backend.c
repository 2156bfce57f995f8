/*
 * agent/backend/backend.c - the backend interface and the scripted backend for tests.
 */
#include <string.h>

#include "agent/backend.h"
#include "base/alloc.h"
#include "base/limits.h"

void cove_agent_backend_free(cove_agent_backend *b)
{
    if (!b)
        return;
    if (b->ops && b->ops->free)
        b->ops->free(b->state);
    cove_free(b);
}

cove_status cove_agent_backend_generate(cove_agent_backend *b, const struct cove_agent_gen *g,
                                        struct cove_buf *out, cove_error *err)
{
    if (!b || !b->ops || !g || !out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "backend: NULL argument");
    cove_buf_reset(out);
    return b->ops->generate(b->state, g, out, err);
}

cove_status cove_agent_backend_score(cove_agent_backend *b, const struct cove_agent_gen *g,
                                     const char *const *options, size_t n, double *scores,
                                     cove_error *err)
{
    if (!b || !b->ops || !g || !options || n == 0 || !scores)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "backend: bad score call");
    if (!b->ops->score)
        return COVE_ERR_UNSUPPORTED;
    return b->ops->score(b->state, g, options, n, scores, err);
}

/* ---------------------------------------------------------------- scripted */

struct scripted {
    char **outputs;
    size_t n, next;
    char **prompts;  /* one per call made */
    char **grammars; /* one per call made (NULL when none) */
};

static const char *role_name(enum cove_chat_role r)
{
    switch (r) {
    case COVE_CHAT_SYSTEM: return "system";
    case COVE_CHAT_USER: return "user";
    case COVE_CHAT_ASSISTANT: return "assistant";
    case COVE_CHAT_TOOL: return "tool";
    }
    return "?";
}

static cove_status scripted_generate(void *state, const struct cove_agent_gen *g,
                                     struct cove_buf *out, cove_error *err)
{
    struct scripted *s = state;
    if (s->next >= s->n)
        return cove_error_set(err, COVE_ERR_STATE, "scripted backend: no output left for call "
                              "%zu", s->next + 1);
    struct cove_buf p;
    cove_buf_init(&p, COVE_AGENT_MAX_PROMPT);
    cove_status st = COVE_OK;
    for (size_t i = 0; st == COVE_OK && i < g->n_msgs; i++)
        st = cove_buf_appendf(&p, "%s: %s\n", role_name(g->msgs[i].role),
                              g->msgs[i].content ? g->msgs[i].content : "");
    char *prompt = st == COVE_OK ? cove_buf_detach(&p, NULL) : NULL;
    char *grammar = g->grammar ? cove_strdup(g->grammar) : NULL;
    cove_buf_release(&p);
    if (!prompt || (g->grammar && !grammar)) {
        cove_free(prompt);
        cove_free(grammar);
        return cove_error_set(err, COVE_ERR_NOMEM, "scripted backend: out of memory");
    }
    s->prompts[s->next] = prompt;
    s->grammars[s->next] = grammar;
    return cove_buf_append_str(out, s->outputs[s->next++]);
}

static void scripted_free(void *state)
{
    struct scripted *s = state;
    for (size_t i = 0; i < s->n; i++) {
        cove_free(s->outputs[i]);
        cove_free(s->prompts[i]);
        cove_free(s->grammars[i]);
    }
    cove_free(s->outputs);
    cove_free(s->prompts);
    cove_free(s->grammars);
    cove_free(s);
}

static const struct cove_agent_backend_ops scripted_ops = {"scripted", scripted_generate,
                                                           scripted_free, NULL};

cove_status cove_agent_backend_scripted(const char *const *outputs, size_t n,
                                        cove_agent_backend **out, cove_error *err)
{
    struct scripted *s = cove_calloc(1, sizeof *s);
    cove_agent_backend *b = cove_calloc(1, sizeof *b);
    if (s) {
        s->n = n;
        s->outputs = cove_calloc(n ? n : 1, sizeof *s->outputs);
        s->prompts = cove_calloc(n ? n : 1, sizeof *s->prompts);
        s->grammars = cove_calloc(n ? n : 1, sizeof *s->grammars);
    }
    int bad = !s || !b || !s->outputs || !s->prompts || !s->grammars;
    for (size_t i = 0; !bad && i < n; i++)
        bad = !(s->outputs[i] = cove_strdup(outputs[i]));
    if (bad) {
        if (s)
            scripted_free(s);
        cove_free(b);
        return cove_error_set(err, COVE_ERR_NOMEM, "scripted backend: out of memory");
    }
    b->ops = &scripted_ops;
    b->state = s;
    *out = b;
    return COVE_OK;
}

size_t cove_agent_scripted_calls(const cove_agent_backend *b)
{
    return b && b->ops == &scripted_ops ? ((const struct scripted *)b->state)->next : 0;
}

const char *cove_agent_scripted_prompt(const cove_agent_backend *b, size_t i)
{
    if (!b || b->ops != &scripted_ops || i >= ((const struct scripted *)b->state)->next)
        return NULL;
    return ((const struct scripted *)b->state)->prompts[i];
}

const char *cove_agent_scripted_grammar(const cove_agent_backend *b, size_t i)
{
    if (!b || b->ops != &scripted_ops || i >= ((const struct scripted *)b->state)->next)
        return NULL;
    return ((const struct scripted *)b->state)->grammars[i];
}
