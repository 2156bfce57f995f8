/*
 * engine/sample/grammar_int.h - private structures of the grammar engine (cove/grammar.h).
 *
 * The pipeline:
 *
 *   grammar_parse.c  GBNF text -> syntax tree (gram_ast): rules of nodes (alternation,
 *                    sequence, literal, character class, rule reference, repetition).
 *   grammar_nfa.c    syntax tree -> one byte-level automaton (gram_nfa) for all rules:
 *                    states with byte-range edges, epsilon edges and call edges (push a
 *                    return state, enter a rule). Small rules without loops are inlined
 *                    into their callers. For every state the closure is precomputed: the
 *                    byte-reading states reachable without reading, with the return
 *                    states pushed on the way, and whether the rule may end there.
 *   grammar_vocab.c  token bytes and the token trie (tokens numbered in trie order so a
 *                    subtree is one range).
 *   grammar_set.c    "configuration sets": the set of parse stacks alive after some
 *                    bytes, canonicalised and interned, with memoised byte transitions
 *                    (a lazily built DFA over stack sets).
 *   grammar_mask.c   token masks: per byte-reading state, a table of the tokens accepted
 *                    without leaving the state's rule (context-independent) and of those
 *                    that leave it (checked against the whole stack at run time); masks
 *                    cached per configuration set.
 *   grammar.c        public API: compile, matcher, accept, jump-forward.
 *
 * A parse stack is [r_0, ..., r_{n-1}, k]: return states r_i (entered by closure when a
 * called rule ends) and a byte-reading state k on top. The empty stack means "the bottom
 * rule has ended" (for the root: the text is complete; for a table walk from one state:
 * the walk has left the state's rule) and is kept as the END flag of a set.
 */
#ifndef COVE_ENGINE_SAMPLE_GRAMMAR_INT_H
#define COVE_ENGINE_SAMPLE_GRAMMAR_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "cove/grammar.h"
#include "cove/status.h"

/* ------------------------------------------------------------------ syntax tree */

enum gram_node_type { GN_ALT, GN_SEQ, GN_LIT, GN_CLASS, GN_REF, GN_REP };

typedef struct gram_node {
    uint8_t type;    /* enum gram_node_type */
    uint8_t negated; /* GN_CLASS: [^...] */
    int32_t first;   /* GN_ALT/GN_SEQ: first child; GN_REP: the repeated child */
    int32_t next;    /* next sibling, -1 for none */
    int32_t a, b;    /* GN_LIT: offset, length in ast.bytes; GN_CLASS: offset, count of
                        ranges in ast.ranges; GN_REF: rule index, -; GN_REP: min, max
                        (-1: unbounded) */
    int32_t line, col;
} gram_node;

typedef struct gram_rule {
    char *name;     /* owned */
    int32_t body;   /* node index, -1 while only referenced */
    int32_t line, col; /* first reference or definition, for messages */
} gram_rule;

typedef struct gram_ast {
    gram_node *nodes;
    int32_t n_nodes, cap_nodes;
    gram_rule *rules;
    int32_t n_rules, cap_rules;
    uint32_t *ranges; /* pairs lo, hi (code points) */
    int32_t n_ranges, cap_ranges;
    char *bytes;      /* literal bytes (UTF-8) */
    int32_t n_bytes, cap_bytes;
    int32_t root;     /* rule index of `root` */
} gram_ast;

cove_status gram_parse(const char *text, size_t len, gram_ast *ast, cove_error *err);
void gram_ast_release(gram_ast *ast);

/* ------------------------------------------------------------------ automaton */

typedef struct gram_edge {
    uint8_t lo, hi;
    uint32_t to;
} gram_edge;

typedef struct gram_state {
    uint32_t edge0, n_edges; /* byte edges in nfa.edges */
    uint32_t eps0, n_eps;    /* epsilon targets in nfa.eps (built), then unused */
    int32_t call_rule;       /* -1, or the rule entered */
    uint32_t call_ret;       /* state continued at when the called rule ends */
    uint8_t final;           /* the rule ends here */
    int32_t rule;
} gram_state;

/* One closure item: byte-reading state `k` reached after pushing push[0..n_push). */
typedef struct gram_citem {
    uint32_t k;
    uint32_t push0, n_push; /* in nfa.pool */
} gram_citem;

typedef struct gram_nfa {
    gram_state *states;
    uint32_t n_states, cap_states;
    gram_edge *edges;
    uint32_t n_edges, cap_edges;
    uint32_t *eps;
    uint32_t n_eps, cap_eps;
    uint32_t *rule_start; /* per rule */
    int32_t n_rules;
    uint32_t start;       /* root's start state */
    /* closures, per state */
    uint32_t *clos0, *n_clos; /* items in citems */
    uint8_t *nullable;        /* the state's rule may end without reading */
    gram_citem *citems;
    uint32_t n_citems, cap_citems;
    uint32_t *pool;
    uint32_t n_pool, cap_pool;
} gram_nfa;

cove_status gram_nfa_build(const gram_ast *ast, gram_nfa *nfa, cove_error *err);
void gram_nfa_release(gram_nfa *nfa);

/* ------------------------------------------------------------------ vocabulary */

struct cove_grammar_vocab {
    int32_t n_tokens;
    size_t n_words;
    char *bytes;        /* all pieces */
    uint32_t *off;      /* n_tokens + 1 */
    uint8_t *is_eog;
    uint32_t *eog_list;
    int32_t n_eog;
    /* trie in preorder: node 0 is the root; the first child of n is n + 1 when
       node_end[n] > n + 1, and the next sibling of c is node_end[c] */
    uint32_t n_nodes;
    uint32_t *node_end; /* one past the last node of the subtree */
    uint8_t *byte;      /* byte on the edge into the node */
    uint32_t *tok0;     /* tokens ending here: order[tok0 .. tok0+n_tok) */
    uint32_t *n_tok;
    uint32_t *sub_end;  /* tokens of the subtree: order[tok0 .. sub_end) */
    int32_t *order;     /* token ids in trie order */
    uint16_t max_depth;
};

/* ------------------------------------------------------------------ sets */

#define GRAM_DEAD 0u /* the set id of the empty set (no stack, no END) */

typedef struct gram_set {
    uint32_t off, len; /* serialised stacks in sets.words: per stack [n, r_0..r_{n-1}, k] */
    uint32_t hash;
    uint32_t n_stacks;
    uint8_t end;       /* the empty stack is in the set */
    int32_t mask;      /* index of the cached mask, -1 */
    uint32_t *dense;   /* 256 transitions once the set is hot (owned), or NULL */
    uint32_t n_lookups;
} gram_set;

typedef struct gram_sets {
    gram_set *sets;
    uint32_t n, cap;
    uint32_t *words;
    size_t n_words, cap_words;
    uint32_t *index;      /* open addressing: set id + 1, 0 empty */
    uint32_t index_cap;
    uint64_t *tkeys;      /* transition memo: key (set << 8 | byte) + 1, 0 empty */
    uint32_t *tvals;
    uint32_t tcap, tn;
    uint32_t *masks;      /* n_masks * n_words */
    uint32_t n_masks, cap_masks;
    size_t bytes;         /* accounted bytes */
    /* scratch */
    uint32_t *scr, *scr2;
    size_t cap_scr, cap_scr2;
    size_t *offs;
    size_t cap_offs;
} gram_sets;

/* Per byte-reading state: tokens by what they do from a stack [k] alone. */
typedef struct gram_ptable {
    uint32_t *acc_bits;  /* n_words bitset of tokens accepted inside the rule, or NULL */
    int32_t *acc_list;   /* the same as a list when few */
    uint32_t n_acc;
    int32_t *unc;        /* tokens that leave the rule: decided at run time */
    uint32_t n_unc;
} gram_ptable;

struct cove_grammar {
    const cove_grammar_vocab *vocab;
    gram_nfa nfa;
    int32_t n_rules;
    pthread_mutex_t lock;
    /* everything below is guarded by lock */
    gram_sets sets;
    uint32_t epoch;       /* bumped when the set caches are flushed */
    uint32_t start_set;
    gram_ptable **ptab;   /* per state, NULL until needed */
    size_t ptab_bytes;
    int64_t masks_computed, masks_cached;
};

struct cove_grammar_matcher {
    cove_grammar *g;
    uint32_t set;         /* interned id, valid while epoch matches */
    uint32_t epoch;
    uint32_t *words;      /* serialised state, owned */
    size_t n_words, cap_words;
    uint32_t n_stacks;
    uint8_t end;
};

/* grammar_set.c (all under g->lock) */
cove_status gram_sets_init(gram_sets *s);
void gram_sets_release(gram_sets *s);
void gram_sets_flush(gram_sets *s);
/* Intern the serialised (canonical) stacks words[0..n) with `end`; *id out. */
cove_status gram_set_intern(gram_sets *s, const uint32_t *words, size_t n, uint32_t n_stacks,
                            int end, uint32_t *id);
/* The set {[state]}: one stack holding the byte-reading state `state`. */
cove_status gram_set_from_state(cove_grammar *g, uint32_t state, uint32_t *id);
/* The set at the start of the grammar: closure of root's start state. */
cove_status gram_set_initial(cove_grammar *g, uint32_t *id);
/* The set reached from `id` by reading byte b (GRAM_DEAD when none). */
cove_status gram_set_step(cove_grammar *g, uint32_t id, uint8_t b, uint32_t *out);

/* grammar_mask.c (under g->lock) */
cove_status gram_mask_fill(cove_grammar *g, uint32_t set, uint32_t *mask, cove_error *err);
void gram_ptables_free(cove_grammar *g);

#endif
