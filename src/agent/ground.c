/*
 * agent/ground.c - the grounding check of a final answer against retrieved text.
 *
 * Each citation must name a source that a tool returned in this run (a knowledge-base
 * chunk or a file that was read), and the source's text must share words with the
 * answer: at least two of the answer's content words (or all of them when it has fewer
 * than two), where a content word is a run of letters or digits, lower-cased, of at least
 * four letters or containing a digit, and not a common function word. This is a lexical
 * overlap test: it catches citations of the wrong document and answers made up without
 * reading, not subtle misreadings.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent_int.h"
#include "base/alloc.h"

#define WORD_MAX 48

void agent_sources_release(struct agent_sources *s)
{
    for (size_t i = 0; i < s->n; i++) {
        cove_free(s->items[i].id);
        cove_free(s->items[i].text);
    }
    cove_free(s->items);
    s->items = NULL;
    s->n = 0;
}

static int has_source(const struct agent_sources *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].id, id) == 0)
            return 1;
    return 0;
}

cove_status agent_sources_add(struct agent_sources *s, const struct cove_agent_obs *obs)
{
    for (size_t k = 0; k < obs->n_sources; k++) {
        if (has_source(s, obs->sources[k].id) || s->n >= COVE_AGENT_MAX_SOURCES)
            continue;
        void *p = cove_realloc(s->items, (s->n + 1) * sizeof *s->items);
        if (!p)
            return COVE_ERR_NOMEM;
        s->items = p;
        char *id = cove_strdup(obs->sources[k].id), *text = cove_strdup(obs->sources[k].text);
        if (!id || !text) {
            cove_free(id);
            cove_free(text);
            return COVE_ERR_NOMEM;
        }
        s->items[s->n++] = (struct cove_agent_source){id, text};
    }
    return COVE_OK;
}

static int stop_word(const char *w)
{
    static const char *const stop[] = {
        "that", "this", "with", "from", "have", "been", "were", "will", "would", "should",
        "there", "their", "they", "them", "what", "which", "when", "where", "about", "into",
        "than", "then", "also", "your", "does", "some", "more", "most", "only", "each", NULL};
    for (int i = 0; stop[i]; i++)
        if (strcmp(w, stop[i]) == 0)
            return 1;
    return 0;
}

/* The next content word of *s into w (lower-cased); 0 at the end. */
static int next_word(const char **s, char w[WORD_MAX])
{
    for (;;) {
        while (**s && !isalnum((unsigned char)**s))
            (*s)++;
        if (!**s)
            return 0;
        size_t n = 0;
        int digit = 0;
        while (isalnum((unsigned char)**s)) {
            if (n < WORD_MAX - 1)
                w[n++] = (char)tolower((unsigned char)**s);
            digit |= isdigit((unsigned char)**s);
            (*s)++;
        }
        w[n] = '\0';
        if ((n >= 4 || digit) && !stop_word(w))
            return 1;
    }
}

/* 1 when word w occurs in text as a whole word (ASCII case ignored). */
static int contains_word(const char *text, const char *w)
{
    char x[WORD_MAX];
    const char *s = text;
    size_t wl = strlen(w);
    while (*s) {
        while (*s && !isalnum((unsigned char)*s))
            s++;
        size_t n = 0;
        while (isalnum((unsigned char)*s)) {
            if (n < WORD_MAX - 1)
                x[n++] = (char)tolower((unsigned char)*s);
            s++;
        }
        x[n] = '\0';
        /* a plural or other suffix on either side still counts ("clause"/"clauses") */
        if (n && strncmp(x, w, wl < n ? wl : n) == 0 && (wl > n ? wl - n : n - wl) <= 2 &&
            (wl >= 4 || wl == n))
            return 1;
    }
    return 0;
}

/* Words of answer found in text, and the answer's content words. */
static void overlap(const char *answer, const char *text, int *hits, int *words)
{
    char w[WORD_MAX];
    const char *s = answer;
    *hits = *words = 0;
    while (next_word(&s, w)) {
        (*words)++;
        *hits += contains_word(text, w);
    }
}

/* The source a citation names: exact id, or an id that ends with "/c", ":c" or "#c". */
static const struct cove_agent_source *find_cited(const struct agent_sources *s, const char *c)
{
    const struct cove_agent_source *found = NULL;
    size_t cl = strlen(c);
    for (size_t i = 0; i < s->n; i++) {
        const char *id = s->items[i].id;
        size_t il = strlen(id);
        if (strcmp(id, c) == 0)
            return &s->items[i];
        if (cl && il > cl && strcmp(id + il - cl, c) == 0 &&
            strchr("/:#", id[il - cl - 1])) {
            if (found)
                return NULL; /* ambiguous */
            found = &s->items[i];
        }
    }
    return found;
}

int agent_ground_check(const struct agent_sources *s, const char *answer, char **citations,
                       size_t n_citations, char *why, size_t why_cap)
{
    if (n_citations == 0) {
        if (s->n == 0)
            return 1;
        snprintf(why, why_cap, "the answer cites nothing, but text was retrieved: cite the "
                 "ids of the passages or files it comes from");
        return 0;
    }
    for (size_t i = 0; i < n_citations; i++) {
        const struct cove_agent_source *src = find_cited(s, citations[i]);
        if (!src) {
            snprintf(why, why_cap, "citation '%.100s' names nothing retrieved in this run",
                     citations[i]);
            return 0;
        }
        int hits = 0, words = 0;
        overlap(answer, src->text, &hits, &words);
        if (hits < (words < 2 ? words : 2)) {
            snprintf(why, why_cap, "the text of '%.100s' does not support the answer (%d of %d "
                     "content words found)", src->id, hits, words);
            return 0;
        }
        char *full = cove_strdup(src->id);
        if (full) {
            cove_free(citations[i]);
            citations[i] = full;
        }
    }
    return 1;
}
