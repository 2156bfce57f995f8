/*
 * app/cmd_chat.c - `cove chat`: a conversation with an instruction-tuned model.
 *
 * The conversation is a list of typed messages. Each turn appends the user's message,
 * formats the whole list with the model's chat template (engine/tokenizer/chat.h; the family
 * is detected from the GGUF's tokenizer.chat_template) ending in the generation prompt,
 * tokenizes it, and decodes only the tokens after the longest prefix the KV cache already
 * holds: normally just the new turn, since the earlier turns format to the same tokens. The
 * answer streams to stdout until an end-of-generation token or the family's stop string
 * (text that may begin a stop string is held back until it cannot). A conversation that no
 * longer fits the context is refused with a message; nothing is silently dropped.
 *
 * Invariant: cached[0, n_cached) are exactly the tokens whose keys and values the context
 * holds, in order (n_cached == cove_context_n_past(ctx, 0)).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "catalogue.h"
#include "cli.h"
#include "cove/engine.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/chat.h"

#define CMD "chat"
#define DEFAULT_PURPOSE "instruct"
#define DEFAULT_N_PREDICT 512

typedef struct chat_opts {
    const char *model;  /* NULL: the catalogue's default instruct model */
    const char *system; /* --system */
    const char *prompt; /* -p: answer this one message and exit */
    long n_predict;     /* most tokens of one answer; -1: until the context is full */
    long n_ctx, n_threads;
    cove_sampler_params sp;
} chat_opts;

typedef struct chat {
    cove_model *model;
    cove_context *ctx;
    cove_sampler *smp;
    cove_detok *detok;
    struct cove_chat_template_info info; /* family and default system prompt */
    struct cove_chat_options fmt;
    int add_special;                     /* let the tokenizer add BOS (the template does not) */
    const char *const *stops;            /* end-of-turn strings of the family */
    size_t n_stops;
    struct cove_chat_message *msgs;      /* contents owned (cove_malloc) */
    size_t n_msgs, cap_msgs, n_keep;     /* n_keep: the --system message survives /reset */
    int32_t *toks;                       /* n_ctx: the formatted conversation's tokens */
    int32_t *cached;                     /* n_ctx: the tokens in the KV cache */
    int32_t n_ctx, n_cached;
    struct cove_buf answer;              /* the answer's text so far */
    size_t printed;                      /* bytes of answer already written to stdout */
} chat;

static void usage(void)
{
    printf("usage: cove chat [-m MODEL] [--system TEXT] [--temp T] [--seed S] [-n MAX_TOKENS]\n"
           "                 [-t THREADS] [--ctx N] [-p PROMPT]\n\n"
           "Talks with an instruction-tuned model: reads one message per line from stdin and\n"
           "streams each answer to stdout, keeping the whole conversation. The prompt layout\n"
           "comes from the model's chat template (ChatML when it has none or an unknown one).\n"
           "'> ' is shown on stderr when stdin is a terminal. End with EOF (Ctrl-D) or /exit.\n\n"
           "  -m MODEL       GGUF model file; default: the catalogue's default instruct model\n"
           "                 in the cache (get it with 'cove pull NAME', see 'cove models')\n"
           "  --system TEXT  system prompt (default: the template's own, if it has one)\n"
           "  --temp T       temperature; 0 is greedy (default 0.8)\n"
           "  --seed S       random seed (default: a fresh one each run)\n"
           "  -n MAX_TOKENS  most tokens of one answer (default %d; -1: no limit but the\n"
           "                 context)\n"
           "  -t THREADS     threads (default: all cores)\n"
           "  --ctx N        context size in tokens: the whole conversation must fit\n"
           "                 (default: the model's, at most %d)\n"
           "  -p PROMPT      answer this one message and exit (stdin is not read)\n\n"
           "Commands (a line of their own): /reset starts a new conversation, /exit ends.\n"
           "A message that would not fit in the context is not sent: the conversation is\n"
           "never cut silently; /reset or a larger --ctx help.\n\n"
           "Exit status: 0 done, 1 error (model, a message or answer that did not fit),\n"
           "2 bad usage.\n", DEFAULT_N_PREDICT, COVE_CTX_DEFAULT_MAX);
}

/* ---------------------------------------------------------------- options */

/* Parse one option with a value; returns 0, or an exit code. */
static int parse_value(chat_opts *o, const char *opt, const char *val)
{
    long l = 0;
    double d = 0;
    int ok = 1;
    if (strcmp(opt, "-m") == 0)
        o->model = val;
    else if (strcmp(opt, "--system") == 0)
        o->system = val;
    else if (strcmp(opt, "-p") == 0)
        o->prompt = val;
    else if (strcmp(opt, "-n") == 0)
        ok = cli_parse_long(val, -1, 1L << 30, &o->n_predict) == 0 && o->n_predict != 0;
    else if (strcmp(opt, "--ctx") == 0)
        ok = cli_parse_long(val, 16, 1L << 20, &o->n_ctx) == 0;
    else if (strcmp(opt, "-t") == 0)
        ok = cli_parse_long(val, 1, 256, &o->n_threads) == 0;
    else if (strcmp(opt, "--seed") == 0) {
        ok = cli_parse_long(val, 0, 0x7fffffffL, &l) == 0;
        o->sp.seed = (uint64_t)l;
    } else if (strcmp(opt, "--temp") == 0) {
        ok = cli_parse_double(val, &d) == 0 && d >= 0 && d <= 100;
        o->sp.temp = (float)d;
    } else {
        return cli_usage_error(CMD, "unknown option '%s'", opt);
    }
    return ok ? 0 : cli_usage_error(CMD, "bad value '%s' for %s", val, opt);
}

static int takes_value(const char *opt)
{
    static const char *const with_value[] = {"-m", "--system", "-p", "-n", "--ctx", "-t",
                                             "--seed", "--temp"};
    for (size_t i = 0; i < sizeof with_value / sizeof with_value[0]; i++)
        if (strcmp(opt, with_value[i]) == 0)
            return 1;
    return 0;
}

/* Returns -1 to go on, or an exit code. */
static int parse_args(chat_opts *o, int argc, char **argv)
{
    *o = (chat_opts){.n_predict = DEFAULT_N_PREDICT, .sp = cove_sampler_default_params()};
    o->sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage();
            return COVE_EXIT_OK;
        }
        if (a[0] != '-')
            return cli_usage_error(CMD, "unexpected argument '%s' (a message goes to stdin, "
                                        "or use -p PROMPT)", a);
        if (!takes_value(a))
            return cli_usage_error(CMD, "unknown option '%s'", a);
        if (i + 1 >= argc)
            return cli_usage_error(CMD, "%s needs a value", a);
        int rc = parse_value(o, a, argv[++i]);
        if (rc)
            return rc;
    }
    return -1;
}

/* ------------------------------------------------------------- messages */

static int chat_push(chat *c, enum cove_chat_role role, const char *text, size_t len)
{
    if (c->n_msgs == c->cap_msgs) {
        size_t cap = c->cap_msgs ? c->cap_msgs * 2 : 16;
        if (cap > COVE_CHAT_MAX_MESSAGES)
            cap = COVE_CHAT_MAX_MESSAGES;
        if (cap == c->n_msgs)
            return cli_fail(CMD, "the conversation has %d messages, the most cove keeps: "
                                 "/reset starts a new one", COVE_CHAT_MAX_MESSAGES);
        void *p = cove_realloc(c->msgs, cap * sizeof *c->msgs);
        if (!p)
            return cli_fail(CMD, "out of memory");
        c->msgs = p;
        c->cap_msgs = cap;
    }
    char *copy = cove_malloc(len + 1);
    if (!copy)
        return cli_fail(CMD, "out of memory");
    memcpy(copy, text, len);
    copy[len] = '\0';
    c->msgs[c->n_msgs++] = (struct cove_chat_message){.role = role, .content = copy};
    return 0;
}

static void chat_pop(chat *c)
{
    if (c->n_msgs == 0)
        return;
    c->n_msgs--;
    cove_free((void *)c->msgs[c->n_msgs].content);
}

/* ----------------------------------------------------------------- setup */

/* Family, default system prompt and BOS rule from the file's tokenizer.chat_template. */
static int load_template(chat *c, const char *path)
{
    cove_gguf *g = NULL;
    cove_error err = {0};
    if (cove_gguf_open(path, &g, &err) != COVE_OK)
        return cli_fail(CMD, "%s: %s", path, cove_error_msg(&err));
    cove_gguf_str t = {0};
    cove_status st = cove_gguf_get_str(g, "tokenizer.chat_template", &t);
    if (st == COVE_OK)
        st = cove_chat_inspect(t.ptr, (size_t)t.len, &c->info);
    else
        c->info = (struct cove_chat_template_info){.family = COVE_CHAT_GENERIC};
    cove_gguf_free(g);
    if (st != COVE_OK)
        fprintf(stderr, "cove chat: %s has %s chat template; using the ChatML layout\n", path,
                t.ptr ? "an unrecognised" : "no");
    c->fmt = cove_chat_default_options();
    c->fmt.default_system = c->info.has_default_system ? c->info.default_system : NULL;
    int32_t bos = cove_model_token_bos(c->model), eos = cove_model_token_eos(c->model);
    c->fmt.bos_text = bos >= 0 ? cove_token_text(c->model, bos) : NULL;
    c->fmt.eos_text = eos >= 0 ? cove_token_text(c->model, eos) : NULL;
    c->add_special = !cove_chat_emits_bos(c->info.family, &c->fmt);
    c->stops = cove_chat_stop_strings(c->info.family, &c->n_stops);
    return 0;
}

static int chat_setup(chat *c, const chat_opts *o, const char *path)
{
    cove_error err = {0};
    if (cove_cli_model_load(CMD, path, cove_model_default_params(), &c->model) != COVE_EXIT_OK)
        return COVE_EXIT_ERROR;
    cove_context_params cp = cove_context_default_params();
    cp.n_ctx = (int32_t)o->n_ctx;
    cp.n_threads = (int32_t)o->n_threads;
    if (cove_context_create(c->model, cp, &c->ctx, &err) != COVE_OK ||
        cove_sampler_create(o->sp, cove_model_n_vocab(c->model), &c->smp, &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    if (cove_detok_create(c->model, COVE_DETOK_STRIP_SPACE, &c->detok) != COVE_OK)
        return cli_fail(CMD, "out of memory");
    c->n_ctx = cove_context_n_ctx(c->ctx);
    c->toks = cove_malloc((size_t)c->n_ctx * sizeof *c->toks);
    c->cached = cove_malloc((size_t)c->n_ctx * sizeof *c->cached);
    if (!c->toks || !c->cached)
        return cli_fail(CMD, "out of memory");
    cove_buf_init(&c->answer, COVE_CHAT_MAX_PROMPT_BYTES);
    int rc = load_template(c, path);
    if (rc == 0 && o->system) {
        rc = chat_push(c, COVE_CHAT_SYSTEM, o->system, strlen(o->system));
        c->n_keep = 1;
    }
    return rc;
}

static void chat_free(chat *c)
{
    while (c->n_msgs)
        chat_pop(c);
    cove_free(c->msgs);
    cove_free(c->toks);
    cove_free(c->cached);
    cove_buf_release(&c->answer);
    cove_detok_free(c->detok);
    cove_sampler_free(c->smp);
    cove_context_free(c->ctx);
    cove_model_free(c->model);
}

/* ------------------------------------------------------------- one turn */

/* The conversation, formatted with the generation prompt, as tokens in c->toks[0, *n). */
static int chat_tokens(chat *c, int32_t *n)
{
    char *text = NULL;
    size_t len = 0;
    cove_error err = {0};
    if (cove_chat_format(c->info.family, c->msgs, c->n_msgs, &c->fmt, &text, &len, &err) !=
        COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    cove_status st = cove_tokenize(c->model, text, len, c->add_special, 1, c->toks, c->n_ctx, n,
                                   &err);
    cove_free(text);
    if (st == COVE_OK && *n < c->n_ctx)
        return 0;
    if (st != COVE_OK && !(st == COVE_ERR_LIMIT && *n > c->n_ctx))
        return cli_fail(CMD, "cannot tokenize the conversation: %s", cove_error_msg(&err));
    return cli_fail(CMD, "with this message the conversation would take %d tokens, and the "
                         "context has %d (one kept for the answer): the message was not sent. "
                         "/reset starts a new conversation; --ctx N sets a larger context",
                    (int)*n, (int)c->n_ctx);
}

/* Decode toks[0, n) into the cache, reusing the prefix it already holds. */
static int chat_feed(chat *c, int32_t n)
{
    cove_error err = {0};
    int32_t p = 0;
    while (p < c->n_cached && p < n && c->cached[p] == c->toks[p])
        p++;
    if (p == n)
        p = n - 1; /* the last token is decoded again: its logits are needed */
    if (cove_context_kv_truncate(c->ctx, 0, p) != COVE_OK)
        return cli_fail(CMD, "cannot rewind the context to token %d", (int)p);
    c->n_cached = p;
    cove_batch b = {c->toks + p, NULL, NULL, n - p, NULL};
    if (cove_decode(c->ctx, &b, &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    memcpy(c->cached + p, c->toks + p, (size_t)(n - p) * sizeof *c->toks);
    c->n_cached = n;
    for (int32_t i = p; i < n; i++)
        cove_sampler_accept(c->smp, c->toks[i]);
    return 0;
}

/* Offset of the first stop string in answer[from, len), or len when there is none. */
static size_t find_stop(const chat *c, size_t from)
{
    const char *s = c->answer.data;
    size_t len = c->answer.len, best = len;
    for (size_t k = 0; k < c->n_stops; k++) {
        size_t m = strlen(c->stops[k]);
        for (size_t i = from; m && i + m <= len && i < best; i++)
            if (memcmp(s + i, c->stops[k], m) == 0)
                best = i;
    }
    return best;
}

/* Bytes at the end of answer[from, len) that could be the start of a stop string. */
static size_t held_back(const chat *c, size_t from)
{
    size_t len = c->answer.len, hold = 0;
    for (size_t k = 0; k < c->n_stops; k++) {
        size_t m = strlen(c->stops[k]);
        for (size_t h = m ? m - 1 : 0; h > hold && h > 0; h--)
            if (h <= len - from && memcmp(c->answer.data + len - h, c->stops[k], h) == 0) {
                hold = h;
                break;
            }
    }
    return hold;
}

static int print_upto(chat *c, size_t end)
{
    size_t n = end - c->printed;
    if (n && (fwrite(c->answer.data + c->printed, 1, n, stdout) != n || fflush(stdout) != 0))
        return cli_fail(CMD, "cannot write the answer");
    c->printed = end;
    return 0;
}

/* Add token text (or, flush: the held bytes of the detokenizer) to the answer; print what
 * can no longer belong to a stop string. *stopped: a stop string ended the answer. */
static int add_text(chat *c, int32_t tok, int flush, int *stopped)
{
    char buf[COVE_DETOK_BUF_MIN];
    size_t len = 0;
    cove_status st = flush ? cove_detok_flush(c->detok, buf, sizeof buf, &len)
                           : cove_detok_push(c->detok, tok, buf, sizeof buf, &len);
    if (st != COVE_OK)
        return cli_fail(CMD, "cannot decode token %d: %s", (int)tok, cove_status_str(st));
    if (cove_buf_append(&c->answer, buf, len) != COVE_OK)
        return cli_fail(CMD, "the answer is longer than %u bytes", COVE_CHAT_MAX_PROMPT_BYTES);
    size_t at = find_stop(c, c->printed);
    if (at < c->answer.len) {
        cove_buf_truncate(&c->answer, at);
        *stopped = 1;
        return print_upto(c, at);
    }
    return print_upto(c, c->answer.len - (flush ? 0 : held_back(c, c->printed)));
}

/* Why an answer ended before the model ended it. */
enum answer_end { ANSWER_DONE, ANSWER_LIMIT, ANSWER_FULL };

/* Sample, print and decode tokens until the end of the turn; *why says how it ended. */
static int generate(chat *c, long n_predict, enum answer_end *why)
{
    cove_error err = {0};
    int stopped = 0;
    for (long i = 0;; i++) {
        int32_t tok = 0;
        if (n_predict >= 0 && i == n_predict) {
            *why = ANSWER_LIMIT;
            break;
        }
        cove_sampler_sample(c->smp, cove_context_logits(c->ctx, -1), &tok);
        if (cove_token_is_eog(c->model, tok))
            break;
        cove_sampler_accept(c->smp, tok);
        int rc = add_text(c, tok, 0, &stopped);
        if (rc || stopped)
            return rc;
        if (c->n_cached >= c->n_ctx) {
            *why = ANSWER_FULL;
            break;
        }
        cove_batch b = {&tok, NULL, NULL, 1, NULL};
        if (cove_decode(c->ctx, &b, &err) != COVE_OK)
            return cli_fail(CMD, "%s", cove_error_msg(&err));
        c->cached[c->n_cached++] = tok;
    }
    return add_text(c, 0, 1, &stopped);
}

/* Generate the answer after the fed prompt, streaming it to stdout, then a newline. */
static int chat_answer(chat *c, long n_predict)
{
    enum answer_end why = ANSWER_DONE;
    cove_buf_reset(&c->answer);
    c->printed = 0;
    cove_detok_reset(c->detok);
    int rc = generate(c, n_predict, &why);
    if (fputc('\n', stdout) == EOF || fflush(stdout) != 0)
        rc = rc ? rc : cli_fail(CMD, "cannot write the answer");
    if (rc == 0 && why == ANSWER_FULL)
        rc = cli_fail(CMD, "the context of %d tokens is full: the answer stops here. /reset "
                           "starts a new conversation; --ctx N sets a larger context",
                      (int)c->n_ctx);
    if (rc == 0 && why == ANSWER_LIMIT)
        fprintf(stderr, "cove chat: the answer was cut at %ld tokens (-n)\n", n_predict);
    return rc;
}

/* One exchange: the user's text in, the answer out and kept. 0, or an exit code. */
static int chat_turn(chat *c, const char *text, long n_predict)
{
    int32_t n = 0;
    int rc = chat_push(c, COVE_CHAT_USER, text, strlen(text));
    if (rc)
        return rc;
    rc = chat_tokens(c, &n);
    if (rc == 0)
        rc = chat_feed(c, n);
    if (rc) {
        chat_pop(c);
        return rc;
    }
    rc = chat_answer(c, n_predict);
    /* Keep even a cut answer: it was shown, and the roles must keep alternating. */
    int kept = chat_push(c, COVE_CHAT_ASSISTANT, c->answer.data ? c->answer.data : "",
                         c->answer.len);
    if (kept) {
        chat_pop(c);
        return kept;
    }
    return rc;
}

/* ------------------------------------------------------------- the loop */

/* Read one line into buf[n] without its newline. 0 ok, 1 too long (skipped), -1 end. */
static int read_line(char *buf, size_t n)
{
    if (!fgets(buf, (int)n, stdin))
        return -1;
    size_t len = strlen(buf);
    if (len && buf[len - 1] == '\n') {
        buf[--len] = '\0';
        if (len && buf[len - 1] == '\r')
            buf[--len] = '\0';
        return 0;
    }
    if (feof(stdin))
        return 0; /* the last line had no newline */
    int ch;
    while ((ch = getchar()) != EOF && ch != '\n')
        ;
    return 1;
}

/* A /command line. Returns 1 for /exit, else 0. */
static int slash_command(chat *c, const char *line)
{
    if (strcmp(line, "/exit") == 0 || strcmp(line, "/quit") == 0)
        return 1;
    if (strcmp(line, "/reset") == 0) {
        while (c->n_msgs > c->n_keep)
            chat_pop(c);
        fprintf(stderr, "cove chat: a new conversation\n");
    } else {
        fprintf(stderr, "cove chat: unknown command '%.40s' (/reset, /exit)\n", line);
    }
    return 0;
}

static int chat_loop(chat *c, long n_predict)
{
    char *line = cove_malloc(COVE_CHAT_MAX_LINE + 2);
    if (!line)
        return cli_fail(CMD, "out of memory");
    int tty = isatty(STDIN_FILENO), failed = 0, r;
    for (;;) {
        if (tty)
            fputs("> ", stderr);
        if ((r = read_line(line, COVE_CHAT_MAX_LINE + 2)) < 0)
            break;
        if (r > 0) {
            failed = cli_fail(CMD, "a line longer than %u bytes was not sent", COVE_CHAT_MAX_LINE);
            continue;
        }
        if (line[0] == '/' && slash_command(c, line))
            break;
        if (line[0] != '/' && line[0] != '\0' && chat_turn(c, line, n_predict) != 0)
            failed = COVE_EXIT_ERROR;
    }
    if (tty && r < 0)
        fputc('\n', stderr);
    cove_free(line);
    return failed ? COVE_EXIT_ERROR : COVE_EXIT_OK;
}

/* The model to load: -m, or the catalogue's default instruct model from the cache. */
static int resolve_model(const chat_opts *o, char *path, size_t n)
{
    char name[128];
    cove_error err = {0};
    if (o->model) {
        if (strlen(o->model) >= n)
            return cli_usage_error(CMD, "-m: path too long");
        memcpy(path, o->model, strlen(o->model) + 1);
        return 0;
    }
    if (cove_catalogue_default_model(DEFAULT_PURPOSE, name, sizeof name, &err) != COVE_OK ||
        cove_catalogue_model_path(name, path, n, &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    return 0;
}

int cove_cmd_chat(int argc, char **argv)
{
    chat_opts o;
    char path[COVE_MAX_PATH];
    int rc = parse_args(&o, argc, argv);
    if (rc >= 0)
        return rc;
    rc = resolve_model(&o, path, sizeof path);
    if (rc)
        return rc;
    chat c = {0};
    rc = chat_setup(&c, &o, path);
    if (rc == 0)
        rc = o.prompt ? chat_turn(&c, o.prompt, o.n_predict) : chat_loop(&c, o.n_predict);
    chat_free(&c);
    return rc;
}
