/*
 * test_chat.c - chat templates (engine/tokenizer/chat.h).
 *
 * The fixture tests compare cove_chat_format byte for byte with what each
 * family's official template renders (tests/engine/chat_cases/, made by
 * tests/tools/render_chat.py with jinja2). The other tests cover detection,
 * the error paths, allocation failures and random input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/chat.h"
#include "test.h"

#define CASES_DIR COVE_SOURCE_DIR "/tests/engine/chat_cases"
#define SMOLLM2_TEMPLATE "hf/smollm2-135m-instruct/chat_template.jinja"

/* ---- files ---- */

/* The whole file, NUL-terminated (release with free); NULL when it cannot be read. */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n + 4096 + 1 > cap) {
            cap = (n + 4096 + 1) * 2;
            char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        got = fread(buf + n, 1, 4096, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* ---- the .msgs format (described in tests/tools/render_chat.py) ---- */

#define MAX_ITEMS 64

struct conv {
    char *buf;
    struct cove_chat_message msgs[MAX_ITEMS];
    size_t n;
    struct cove_chat_tool_call calls[MAX_ITEMS];
    size_t n_calls;
    const char *tools[MAX_ITEMS];
    size_t n_tools;
};

/* Split a directive line (NUL-terminated) in place into up to 3 space-separated words. */
static int split_words(char *line, char *words[3])
{
    int n = 0;
    char *p = line;
    while (*p && n < 3) {
        while (*p == ' ')
            *p++ = '\0';
        if (*p)
            words[n++] = p;
        while (*p && *p != ' ')
            p++;
    }
    return n;
}

static const char *dash_null(const char *s)
{
    return strcmp(s, "-") == 0 ? NULL : s;
}

static int apply_directive(struct conv *c, char *words[3], int nw, const char *body)
{
    struct cove_chat_message *last = c->n ? &c->msgs[c->n - 1] : NULL;
    if (c->n >= MAX_ITEMS || c->n_calls >= MAX_ITEMS || c->n_tools >= MAX_ITEMS)
        return 0;
    if (!strcmp(words[0], "tooldef")) {
        c->tools[c->n_tools++] = body;
    } else if (!strcmp(words[0], "call") && nw == 3 && last) {
        struct cove_chat_tool_call *tc = &c->calls[c->n_calls++];
        *tc = (struct cove_chat_tool_call){dash_null(words[1]), words[2], body};
        if (!last->tool_calls)
            last->tool_calls = tc;
        last->n_tool_calls++;
    } else if (!strcmp(words[0], "reasoning") && last) {
        last->reasoning = body;
    } else {
        struct cove_chat_message *m = &c->msgs[c->n++];
        memset(m, 0, sizeof *m);
        m->content = body;
        if (!strcmp(words[0], "system"))
            m->role = COVE_CHAT_SYSTEM;
        else if (!strcmp(words[0], "user"))
            m->role = COVE_CHAT_USER;
        else if (!strcmp(words[0], "assistant"))
            m->role = COVE_CHAT_ASSISTANT;
        else if (!strcmp(words[0], "tool") && nw == 3) {
            m->role = COVE_CHAT_TOOL;
            m->tool_call_id = dash_null(words[1]);
            m->name = dash_null(words[2]);
        } else
            return 0;
    }
    return 1;
}

/* Parse c->buf (len bytes) in place. Returns 0 on a malformed file. */
static int parse_conv(struct conv *c, size_t len)
{
    size_t starts[MAX_ITEMS * 3], n_dir = 0;
    char *b = c->buf;
    for (size_t i = 0; i < len;) {
        if (strncmp(b + i, "@@ ", 3) == 0 && n_dir < sizeof starts / sizeof starts[0])
            starts[n_dir++] = i;
        const char *nl = memchr(b + i, '\n', len - i);
        if (!nl)
            break;
        i = (size_t)(nl - b) + 1;
    }
    for (size_t k = 0; k < n_dir; k++) {
        size_t end = k + 1 < n_dir ? starts[k + 1] : len;
        char *nl = memchr(b + starts[k], '\n', end - starts[k]);
        size_t body = nl ? (size_t)(nl - b) + 1 : end;
        const char *text = "";
        if (body < end) {
            text = b + body;
            if (b[end - 1] == '\n')
                b[end - 1] = '\0';
        }
        if (nl)
            *nl = '\0';
        char *words[3];
        int nw = split_words(b + starts[k] + 3, words);
        if (nw == 0 || !apply_directive(c, words, nw, text))
            return 0;
    }
    return 1;
}

static int load_conv(const char *name, struct conv *c)
{
    char path[1024];
    size_t len;
    memset(c, 0, sizeof *c);
    snprintf(path, sizeof path, "%s/cases/%s.msgs", CASES_DIR, name);
    c->buf = read_all(path, &len);
    return c->buf && parse_conv(c, len);
}

/* ---- profiles: a family with the template variables of one model ---- */

struct profile {
    const char *name;
    enum cove_chat_family family;
    const char *default_system; /* "@template" reads it from the SmolLM2 template */
    const char *date;
    int enable_thinking;
};

static const struct profile profiles[] = {
    {"smollm2", COVE_CHAT_CHATML, "@template", NULL, 1},
    {"qwen2.5", COVE_CHAT_CHATML, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
     NULL, 1},
    {"generic", COVE_CHAT_GENERIC, NULL, NULL, 1},
    {"qwen3", COVE_CHAT_QWEN3, NULL, NULL, 1},
    {"qwen3-nothink", COVE_CHAT_QWEN3, NULL, NULL, 0},
    {"gemma3", COVE_CHAT_GEMMA, NULL, NULL, 1},
    {"llama3", COVE_CHAT_LLAMA3, NULL, NULL, 1},
    {"llama3.2", COVE_CHAT_LLAMA31, NULL, "02 Jan 2025", 1},
    {"llama2", COVE_CHAT_LLAMA2, NULL, NULL, 1},
    {"phi3.5", COVE_CHAT_PHI3, NULL, NULL, 1},
    {"mistral-v1", COVE_CHAT_MISTRAL_V1, NULL, NULL, 1},
    {"mistral-v3", COVE_CHAT_MISTRAL_V3, NULL, NULL, 1},
    {"mistral-v3-tekken", COVE_CHAT_MISTRAL_V3_TEKKEN, NULL, NULL, 1},
};

static const struct profile *find_profile(const char *name)
{
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++)
        if (!strcmp(profiles[i].name, name))
            return &profiles[i];
    return NULL;
}

/* The SmolLM2 template's default system text, read through cove_chat_inspect. */
static int smollm2_default(struct cove_chat_template_info *info)
{
    size_t len;
    char *text = read_all(test_model_path(SMOLLM2_TEMPLATE), &len);
    if (!text)
        return 0;
    cove_status st = cove_chat_inspect(text, len, info);
    free(text);
    return st == COVE_OK && info->family == COVE_CHAT_CHATML && info->has_default_system;
}

/* ---- running the fixtures ---- */

struct row {
    char profile[64], name[64], expected[160];
    int gen;
};

/* Show where two texts first differ. */
static void report_diff(const struct row *r, const char *want, const char *got)
{
    size_t i = 0;
    while (want[i] && want[i] == got[i])
        i++;
    size_t from = i > 40 ? i - 40 : 0;
    test_fail(__FILE__, __LINE__, "%s %s gen=%d: differs at byte %zu\n    want: %.80s\n    got:  %.80s",
              r->profile, r->name, r->gen, i, want + from, got + from);
}

static void run_row(const struct row *r, struct cove_chat_template_info *smol, int have_smol)
{
    const struct profile *p = find_profile(r->profile);
    struct conv c;
    char path[512];
    if (!p || !load_conv(r->name, &c)) {
        test_fail(__FILE__, __LINE__, "%s %s: unknown profile or bad case file", r->profile, r->name);
        free(c.buf);
        return;
    }
    struct cove_chat_options opt = cove_chat_default_options();
    opt.add_generation_prompt = r->gen;
    opt.default_system = p->default_system;
    if (p->default_system && !strcmp(p->default_system, "@template"))
        opt.default_system = have_smol ? smol->default_system : NULL;
    opt.date = p->date;
    opt.enable_thinking = p->enable_thinking;
    opt.tools = c.tools;
    opt.n_tools = c.n_tools;
    snprintf(path, sizeof path, "%s/%s", CASES_DIR, r->expected);
    char *want = read_all(path, NULL), *got = NULL;
    size_t got_len = 0;
    cove_error err = {0};
    cove_status st = cove_chat_format(p->family, c.msgs, c.n, &opt, &got, &got_len, &err);
    if (!want)
        test_fail(__FILE__, __LINE__, "cannot read %s", path);
    else if (st != COVE_OK)
        test_fail(__FILE__, __LINE__, "%s %s: %s", r->profile, r->name, cove_error_msg(&err));
    else if (strlen(got) != got_len || strcmp(want, got) != 0)
        report_diff(r, want, got);
    free(want);
    cove_free(got);
    free(c.buf);
}

/* Run every manifest row whose profile is in the space-separated list `which`. */
static void run_fixtures(const char *which)
{
    FILE *f = fopen(CASES_DIR "/manifest.txt", "r");
    CHECK_MSG(f, "cannot open %s/manifest.txt", CASES_DIR);
    struct cove_chat_template_info smol;
    int have_smol = smollm2_default(&smol), ran = 0;
    char line[512], source[128];
    while (fgets(line, sizeof line, f)) {
        struct row r;
        char key[80];
        if (line[0] == '#' || sscanf(line, "%63s %63s %d %159s %127s", r.profile, r.name, &r.gen,
                                     r.expected, source) != 5)
            continue;
        snprintf(key, sizeof key, " %s ", r.profile);
        char list[256];
        snprintf(list, sizeof list, " %s ", which);
        if (!strstr(list, key))
            continue;
        if (!strcmp(r.profile, "smollm2") && !have_smol) {
            test_fail(__FILE__, __LINE__, "%s: cannot read the default system prompt from %s",
                      r.name, test_model_path(SMOLLM2_TEMPLATE));
            continue;
        }
        run_row(&r, &smol, have_smol);
        ran++;
    }
    fclose(f);
    CHECK_MSG(ran > 0, "no fixtures for %s", which);
}

TEST(chat_fixtures_chatml) { run_fixtures("smollm2 qwen2.5 generic"); }
TEST(chat_fixtures_qwen3) { run_fixtures("qwen3 qwen3-nothink"); }
TEST(chat_fixtures_gemma) { run_fixtures("gemma3"); }
TEST(chat_fixtures_llama) { run_fixtures("llama3 llama3.2 llama2"); }
TEST(chat_fixtures_phi3) { run_fixtures("phi3.5"); }
TEST(chat_fixtures_mistral) { run_fixtures("mistral-v1 mistral-v3 mistral-v3-tekken"); }

/* ---- helpers for the unit tests ---- */

static struct cove_chat_message msg(enum cove_chat_role role, const char *content)
{
    struct cove_chat_message m;
    memset(&m, 0, sizeof m);
    m.role = role;
    m.content = content;
    return m;
}

/* Format with default options except the generation prompt; returns the text (cove_free) or NULL. */
static char *fmt(enum cove_chat_family f, const struct cove_chat_message *m, size_t n, int gen,
                 cove_status *st, cove_error *err)
{
    struct cove_chat_options opt = cove_chat_default_options();
    char *out = NULL;
    opt.add_generation_prompt = gen;
    *st = cove_chat_format(f, m, n, &opt, &out, NULL, err);
    return out;
}

/* ---- detection ---- */

TEST(chat_detect_markers)
{
    static const struct {
        const char *text;
        enum cove_chat_family want;
    } cases[] = {
        {"{{'<|im_start|>' + message['role'] + '\\n'}}", COVE_CHAT_CHATML},
        {"<|im_start|> {% if '</think>' in c %}<think>{{ m.reasoning_content }}", COVE_CHAT_QWEN3},
        {"{{ '<start_of_turn>' + role + '\\n' }}", COVE_CHAT_GEMMA},
        {"<|start_header_id|>{{ role }}<|end_header_id|>", COVE_CHAT_LLAMA3},
        {"<|start_header_id|>system Cutting Knowledge Date: ", COVE_CHAT_LLAMA31},
        {"<|start_header_id|>ipython<|end_header_id|>", COVE_CHAT_LLAMA31},
        {"{{ bos_token + '[INST] ' + content }} <<SYS>>", COVE_CHAT_LLAMA2},
        {"{{- ' [INST] ' + system_message }}", COVE_CHAT_MISTRAL_V1},
        {"[AVAILABLE_TOOLS] {{- \"[INST] \" + c }}", COVE_CHAT_MISTRAL_V3},
        {"[TOOL_CALLS] {{- \"[INST]\" + c }}", COVE_CHAT_MISTRAL_V3_TEKKEN},
        {"{{'<|user|>\\n' + c + '<|end|>\\n'}}{{ '<|assistant|>\\n' }}", COVE_CHAT_PHI3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum cove_chat_family f;
        CHECK_EQ_INT(cove_chat_detect(cases[i].text, strlen(cases[i].text), &f), COVE_OK);
        CHECK_MSG(f == cases[i].want, "case %zu: got %s", i, cove_chat_family_name(f));
    }
}

TEST(chat_detect_unknown)
{
    enum cove_chat_family f = COVE_CHAT_GEMMA;
    const char *t = "{% for m in messages %}{{ m.content }}{% endfor %}";
    CHECK_EQ_INT(cove_chat_detect(t, strlen(t), &f), COVE_ERR_NOT_FOUND);
    CHECK_EQ_INT(f, COVE_CHAT_GENERIC);
    CHECK_EQ_INT(cove_chat_detect(NULL, 0, &f), COVE_ERR_NOT_FOUND);
    CHECK_EQ_INT(cove_chat_detect(NULL, 5, &f), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(cove_chat_detect(t, strlen(t), NULL), COVE_ERR_INVALID_ARG);
    /* phi-4 and mistral v7 are recognised as unsupported, not misread */
    t = "<|im_start|>system<|im_sep|>";
    CHECK_EQ_INT(cove_chat_detect(t, strlen(t), &f), COVE_ERR_NOT_FOUND);
    t = "[SYSTEM_PROMPT] [INST]";
    CHECK_EQ_INT(cove_chat_detect(t, strlen(t), &f), COVE_ERR_NOT_FOUND);
    /* a marker cut by len is not seen */
    t = "<start_of_turn>";
    CHECK_EQ_INT(cove_chat_detect(t, strlen(t) - 1, &f), COVE_ERR_NOT_FOUND);
    CHECK_EQ_INT(cove_chat_detect(t, (size_t)COVE_CHAT_MAX_TEMPLATE_BYTES + 1, &f), COVE_ERR_LIMIT);
}

TEST(chat_inspect_smollm2_template)
{
    struct cove_chat_template_info info;
    size_t len;
    char *text = read_all(test_model_path(SMOLLM2_TEMPLATE), &len);
    CHECK_MSG(text, "cannot read %s", test_model_path(SMOLLM2_TEMPLATE));
    cove_status st = cove_chat_inspect(text, len, &info);
    free(text);
    CHECK_EQ_INT(st, COVE_OK);
    CHECK_EQ_INT(info.family, COVE_CHAT_CHATML);
    CHECK(info.has_default_system);
    CHECK_STR_EQ(info.default_system, "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
}

TEST(chat_inspect_default_system_forms)
{
    struct cove_chat_template_info info;
    /* escaped newline and backslash, as a GGUF stores qwen2.5-style templates */
    const char *t = "{%- if tools %}{{- '<|im_start|>system\\n' }}{%- else %}"
                    "{{- '<|im_start|>system\\nPut it in \\\\boxed{}.<|im_end|>\\n' }}{%- endif %}";
    CHECK_EQ_INT(cove_chat_inspect(t, strlen(t), &info), COVE_OK);
    CHECK(info.has_default_system);
    CHECK_STR_EQ(info.default_system, "Put it in \\boxed{}.");
    /* qwen3: the system turn is always built from the message, so there is no default */
    t = "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}";
    CHECK_EQ_INT(cove_chat_inspect(t, strlen(t), &info), COVE_OK);
    CHECK(!info.has_default_system);
    /* not ChatML: nothing to read */
    t = "<start_of_turn>";
    CHECK_EQ_INT(cove_chat_inspect(t, strlen(t), &info), COVE_OK);
    CHECK_EQ_INT(info.family, COVE_CHAT_GEMMA);
    CHECK(!info.has_default_system);
    CHECK_EQ_INT(cove_chat_inspect(t, 1, NULL), COVE_ERR_INVALID_ARG);
}

TEST(chat_inspect_default_system_too_long)
{
    size_t n = COVE_CHAT_MAX_DEFAULT_SYSTEM + 10;
    char *t = malloc(n + 64);
    CHECK(t);
    strcpy(t, "'<|im_start|>system\n");
    memset(t + strlen(t), 'a', n);
    strcpy(t + 20 + n, "<|im_end|>'");
    struct cove_chat_template_info info;
    cove_status st = cove_chat_inspect(t, strlen(t), &info);
    free(t);
    CHECK_EQ_INT(st, COVE_ERR_LIMIT);
    CHECK_EQ_INT(info.family, COVE_CHAT_CHATML);
    CHECK(!info.has_default_system);
}

/* Templates stored in real GGUF files (llama.cpp's vocabulary test files). */
static void check_gguf_template(const char *file, enum cove_chat_family want)
{
    cove_gguf *g = NULL;
    cove_gguf_str s;
    cove_error err = {0};
    CHECK_MSG(cove_gguf_open(test_model_path(file), &g, &err) == COVE_OK, "%s: %s", file,
              cove_error_msg(&err));
    cove_status st = cove_gguf_get_str(g, "tokenizer.chat_template", &s);
    enum cove_chat_family f = COVE_CHAT_GENERIC;
    if (st == COVE_OK)
        st = cove_chat_detect(s.ptr, (size_t)s.len, &f);
    cove_gguf_free(g);
    CHECK_EQ_INT(st, COVE_OK);
    CHECK_MSG(f == want, "%s: detected %s", file, cove_chat_family_name(f));
}

TEST(chat_detect_gguf_templates)
{
    check_gguf_template("vocab/ggml-vocab-smollm2.gguf", COVE_CHAT_CHATML);
    if (test_failed_now())
        return;
    check_gguf_template("vocab/ggml-vocab-phi-3.gguf", COVE_CHAT_PHI3);
}

/* ---- names and family facts ---- */

TEST(chat_names)
{
    enum cove_chat_family f;
    for (int i = 0; i < COVE_CHAT_FAMILY_COUNT; i++) {
        CHECK_EQ_INT(cove_chat_family_from_name(cove_chat_family_name((enum cove_chat_family)i), &f),
                     COVE_OK);
        CHECK_EQ_INT(f, i);
    }
    CHECK_EQ_INT(cove_chat_family_from_name("Qwen2.5", &f), COVE_OK);
    CHECK_EQ_INT(f, COVE_CHAT_CHATML);
    CHECK_EQ_INT(cove_chat_family_from_name("gemma3", &f), COVE_OK);
    CHECK_EQ_INT(f, COVE_CHAT_GEMMA);
    CHECK_EQ_INT(cove_chat_family_from_name("llama3.2", &f), COVE_OK);
    CHECK_EQ_INT(f, COVE_CHAT_LLAMA31);
    CHECK_EQ_INT(cove_chat_family_from_name("vicuna", &f), COVE_ERR_NOT_FOUND);
    CHECK_EQ_INT(cove_chat_family_from_name(NULL, &f), COVE_ERR_INVALID_ARG);
    CHECK_STR_EQ(cove_chat_family_name((enum cove_chat_family)99), "unknown");
}

TEST(chat_stop_strings_and_bos)
{
    size_t n;
    const char *const *s = cove_chat_stop_strings(COVE_CHAT_CHATML, &n);
    CHECK(s && n >= 1 && s[n] == NULL);
    CHECK_STR_EQ(s[0], "<|im_end|>");
    CHECK_STR_EQ(cove_chat_stop_strings(COVE_CHAT_GEMMA, NULL)[0], "<end_of_turn>");
    CHECK_STR_EQ(cove_chat_stop_strings(COVE_CHAT_LLAMA31, NULL)[0], "<|eot_id|>");
    CHECK_STR_EQ(cove_chat_stop_strings(COVE_CHAT_PHI3, NULL)[0], "<|end|>");
    CHECK(cove_chat_stop_strings((enum cove_chat_family)-1, &n) == NULL && n == 0);
    for (int i = 0; i < COVE_CHAT_FAMILY_COUNT; i++)
        CHECK(cove_chat_stop_strings((enum cove_chat_family)i, NULL) != NULL);

    struct cove_chat_options opt = cove_chat_default_options();
    CHECK(cove_chat_emits_bos(COVE_CHAT_GEMMA, NULL));
    CHECK(cove_chat_emits_bos(COVE_CHAT_LLAMA31, &opt));
    CHECK(!cove_chat_emits_bos(COVE_CHAT_CHATML, &opt));
    CHECK(!cove_chat_emits_bos(COVE_CHAT_PHI3, &opt));
    opt.bos_text = "";
    CHECK(!cove_chat_emits_bos(COVE_CHAT_GEMMA, &opt));
    CHECK_STR_EQ(cove_chat_default_bos(COVE_CHAT_LLAMA3), "<|begin_of_text|>");
    CHECK(cove_chat_default_bos(COVE_CHAT_QWEN3) == NULL);
    CHECK_STR_EQ(cove_chat_default_eos(COVE_CHAT_MISTRAL_V1), "</s>");
    CHECK(cove_chat_has_native_tools(COVE_CHAT_LLAMA31) && !cove_chat_has_native_tools(COVE_CHAT_GEMMA));
}

/* ---- formatting details not covered by the fixtures ---- */

TEST(chat_bos_text_and_empty_input)
{
    cove_status st;
    struct cove_chat_message m = msg(COVE_CHAT_USER, "hi");
    struct cove_chat_options opt = cove_chat_default_options();
    char *out = NULL;
    size_t len = 99;
    opt.bos_text = "";
    CHECK_OK(cove_chat_format(COVE_CHAT_GEMMA, &m, 1, &opt, &out, &len, NULL));
    CHECK_STR_EQ(out, "<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n");
    CHECK_EQ_INT(len, strlen(out));
    cove_free(out);
    /* no messages: just the generation prompt; an empty prompt is "" */
    out = fmt(COVE_CHAT_CHATML, NULL, 0, 1, &st, NULL);
    CHECK_STR_EQ(out, "<|im_start|>assistant\n");
    cove_free(out);
    out = fmt(COVE_CHAT_CHATML, NULL, 0, 0, &st, NULL);
    CHECK(st == COVE_OK && out && out[0] == '\0');
    cove_free(out);
    /* opt NULL means the defaults */
    CHECK_OK(cove_chat_format(COVE_CHAT_PHI3, &m, 1, NULL, &out, NULL, NULL));
    CHECK_STR_EQ(out, "<|user|>\nhi<|end|>\n<|assistant|>\n");
    cove_free(out);
}

TEST(chat_llama31_defaults_and_escaping)
{
    cove_status st;
    struct cove_chat_message m[2] = {msg(COVE_CHAT_USER, "q"), msg(COVE_CHAT_TOOL, "a\"b\\c\n\x01\t")};
    char *out = fmt(COVE_CHAT_LLAMA31, m, 2, 0, &st, NULL);
    CHECK_EQ_INT(st, COVE_OK);
    CHECK_STR_EQ(out, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                      "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
                      "<|start_header_id|>user<|end_header_id|>\n\nq<|eot_id|>"
                      "<|start_header_id|>ipython<|end_header_id|>\n\n"
                      "\"a\\\"b\\\\c\\n\\u0001\\t\"<|eot_id|>");
    cove_free(out);
}

TEST(chat_llama31_tool_json_reindent)
{
    const char *tool = "{\"a\": [], \"b\": {\"c\": [1, \"x,y:{\\\"\"]}, \"d\": {}}";
    struct cove_chat_message m = msg(COVE_CHAT_USER, "go");
    struct cove_chat_options opt = cove_chat_default_options();
    opt.tools = &tool;
    opt.n_tools = 1;
    opt.add_generation_prompt = 0;
    char *out = NULL;
    CHECK_OK(cove_chat_format(COVE_CHAT_LLAMA31, &m, 1, &opt, &out, NULL, NULL));
    const char *want = "{\n    \"a\": [],\n    \"b\": {\n        \"c\": [\n            1,\n"
                       "            \"x,y:{\\\"\"\n        ]\n    },\n    \"d\": {}\n}\n\ngo<|eot_id|>";
    CHECK_MSG(strstr(out, want) != NULL, "got: %s", out);
    cove_free(out);
    const char *bad = "{\"a\": [1, 2}}";
    opt.tools = &bad;
    cove_error err = {0};
    CHECK_EQ_INT(cove_chat_format(COVE_CHAT_LLAMA31, &m, 1, &opt, &out, NULL, &err), COVE_ERR_FORMAT);
    CHECK(out == NULL && strstr(cove_error_msg(&err), "tool 0"));
}

TEST(chat_trim_is_unicode_aware)
{
    cove_status st;
    /* U+00A0, U+2003 and U+3000 are white space to Python's strip(); U+200B is not */
    struct cove_chat_message m = msg(COVE_CHAT_USER, "\xc2\xa0\xe2\x80\x83 x \xe3\x80\x80\n");
    char *out = fmt(COVE_CHAT_LLAMA3, &m, 1, 0, &st, NULL);
    CHECK_STR_EQ(out, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nx<|eot_id|>");
    cove_free(out);
    m.content = "\xe2\x80\x8bx\xe2\x80\x8b";
    out = fmt(COVE_CHAT_LLAMA3, &m, 1, 0, &st, NULL);
    CHECK_STR_EQ(out, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
                      "\xe2\x80\x8bx\xe2\x80\x8b<|eot_id|>");
    cove_free(out);
    m.content = "\xff \x80";
    out = fmt(COVE_CHAT_GEMMA, &m, 1, 0, &st, NULL); /* invalid UTF-8 is kept as it is */
    CHECK_STR_EQ(out, "<bos><start_of_turn>user\n\xff \x80<end_of_turn>\n");
    cove_free(out);
}

TEST(chat_llama2_system_with_blank_user)
{
    cove_status st;
    struct cove_chat_message m[2] = {msg(COVE_CHAT_SYSTEM, "S "), msg(COVE_CHAT_USER, "  ")};
    char *out = fmt(COVE_CHAT_LLAMA2, m, 2, 1, &st, NULL);
    CHECK_STR_EQ(out, "<s>[INST] <<SYS>>\nS \n<</SYS>> [/INST]");
    cove_free(out);
}

/* ---- errors ---- */

/* Expect status `want` and an error message containing `part`. */
static void expect_error(enum cove_chat_family f, const struct cove_chat_message *m, size_t n,
                         const struct cove_chat_options *opt, cove_status want, const char *part)
{
    cove_error err = {0};
    char *out = (char *)"untouched";
    cove_status st = cove_chat_format(f, m, n, opt, &out, NULL, &err);
    CHECK_MSG(st == want, "%s: status %d, want %d (%s)", cove_chat_family_name(f), (int)st, (int)want,
              cove_error_msg(&err));
    CHECK(out == NULL);
    CHECK_EQ_INT(err.status, want);
    CHECK_MSG(strstr(cove_error_msg(&err), part) != NULL, "message \"%s\" lacks \"%s\"",
              cove_error_msg(&err), part);
}

TEST(chat_error_unknown_role_and_family)
{
    struct cove_chat_message m[2] = {msg(COVE_CHAT_USER, "a"), msg((enum cove_chat_role)42, "b")};
    for (int f = 0; f < COVE_CHAT_FAMILY_COUNT && !test_failed_now(); f++)
        expect_error((enum cove_chat_family)f, m, 2, NULL, COVE_ERR_INVALID_ARG, "message 1: unknown role");
    expect_error((enum cove_chat_family)COVE_CHAT_FAMILY_COUNT, m, 1, NULL, COVE_ERR_INVALID_ARG,
                 "unknown chat family");
    expect_error(COVE_CHAT_CHATML, NULL, 1, NULL, COVE_ERR_INVALID_ARG, "msgs is NULL");
    CHECK_EQ_INT(cove_chat_format(COVE_CHAT_CHATML, m, 1, NULL, NULL, NULL, NULL), COVE_ERR_INVALID_ARG);
}

TEST(chat_error_tool_ids_mistral_v3)
{
    struct cove_chat_tool_call tc = {"call00001", "get_weather", "{\"city\": \"Paris\"}"};
    struct cove_chat_message m[3] = {msg(COVE_CHAT_USER, "weather?"), msg(COVE_CHAT_ASSISTANT, ""),
                                     msg(COVE_CHAT_TOOL, "{\"t\": 21}")};
    m[1].tool_calls = &tc;
    m[1].n_tool_calls = 1;
    /* the result has no id */
    expect_error(COVE_CHAT_MISTRAL_V3, m, 3, NULL, COVE_ERR_INVALID_ARG, "9 characters");
    if (test_failed_now())
        return;
    /* the id is not 9 characters */
    m[2].tool_call_id = "call1";
    expect_error(COVE_CHAT_MISTRAL_V3_TEKKEN, m, 3, NULL, COVE_ERR_INVALID_ARG, "call1");
    if (test_failed_now())
        return;
    /* the call has no id */
    m[2].tool_call_id = "call00001";
    tc.id = NULL;
    expect_error(COVE_CHAT_MISTRAL_V3, m, 3, NULL, COVE_ERR_INVALID_ARG, "9 characters");
    if (test_failed_now())
        return;
    /* families that do not use ids accept their absence */
    cove_status st;
    char *out = fmt(COVE_CHAT_CHATML, m, 3, 1, &st, NULL);
    CHECK(st == COVE_OK && out);
    cove_free(out);
}

TEST(chat_error_tool_calls)
{
    struct cove_chat_tool_call tc[2] = {{"a", "f", "{}"}, {"b", NULL, "{}"}};
    struct cove_chat_message m[2] = {msg(COVE_CHAT_USER, "go"), msg(COVE_CHAT_ASSISTANT, "")};
    m[1].tool_calls = tc;
    m[1].n_tool_calls = 2;
    expect_error(COVE_CHAT_QWEN3, m, 2, NULL, COVE_ERR_INVALID_ARG, "tool call 1 has no function name");
    if (test_failed_now())
        return;
    tc[1].name = "g";
    expect_error(COVE_CHAT_LLAMA31, m, 2, NULL, COVE_ERR_INVALID_ARG, "2 tool calls");
    if (test_failed_now())
        return;
    m[0].tool_calls = tc;
    m[0].n_tool_calls = 1;
    expect_error(COVE_CHAT_CHATML, m, 2, NULL, COVE_ERR_INVALID_ARG, "only assistant messages");
    if (test_failed_now())
        return;
    m[0].n_tool_calls = 0;
    m[1].tool_calls = NULL;
    expect_error(COVE_CHAT_CHATML, m, 2, NULL, COVE_ERR_INVALID_ARG, "tool_calls is NULL");
}

TEST(chat_error_role_order)
{
    struct cove_chat_message m[3] = {msg(COVE_CHAT_USER, "a"), msg(COVE_CHAT_USER, "b"),
                                     msg(COVE_CHAT_ASSISTANT, "c")};
    expect_error(COVE_CHAT_GEMMA, m, 2, NULL, COVE_ERR_INVALID_ARG, "alternate");
    if (test_failed_now())
        return;
    expect_error(COVE_CHAT_LLAMA2, m, 2, NULL, COVE_ERR_INVALID_ARG, "alternate");
    if (test_failed_now())
        return;
    expect_error(COVE_CHAT_MISTRAL_V1, m + 2, 1, NULL, COVE_ERR_INVALID_ARG, "alternate");
    if (test_failed_now())
        return;
    expect_error(COVE_CHAT_MISTRAL_V3, m, 2, NULL, COVE_ERR_INVALID_ARG, "alternate");
    if (test_failed_now())
        return;
    m[1] = msg(COVE_CHAT_SYSTEM, "late");
    expect_error(COVE_CHAT_GEMMA, m, 2, NULL, COVE_ERR_INVALID_ARG, "system");
    if (test_failed_now())
        return;
    /* families without the rule accept any order */
    cove_status st;
    char *out = fmt(COVE_CHAT_CHATML, m, 3, 1, &st, NULL);
    CHECK(st == COVE_OK && out);
    cove_free(out);
}

TEST(chat_error_limits)
{
    struct cove_chat_message m[2] = {msg(COVE_CHAT_USER, "a"), msg(COVE_CHAT_ASSISTANT, "b")};
    /* the count is checked before any message is read */
    expect_error(COVE_CHAT_CHATML, m, (size_t)COVE_CHAT_MAX_MESSAGES + 1, NULL, COVE_ERR_LIMIT, "messages");
    if (test_failed_now())
        return;
    size_t big = (size_t)COVE_CHAT_MAX_PROMPT_BYTES + 1;
    char *text = malloc(big + 1);
    CHECK(text);
    memset(text, 'x', big);
    text[big] = '\0';
    m[1].content = text;
    expect_error(COVE_CHAT_GEMMA, m, 2, NULL, COVE_ERR_LIMIT, "message 1: content longer");
    /* each message fits, the prompt does not */
    text[big / 2 + 8] = '\0';
    m[0].content = text;
    if (!test_failed_now())
        expect_error(COVE_CHAT_LLAMA3, m, 2, NULL, COVE_ERR_LIMIT, "prompt longer");
    free(text);
    if (test_failed_now())
        return;
    struct cove_chat_options opt = cove_chat_default_options();
    const char *tool = "{}";
    opt.tools = &tool;
    opt.n_tools = (size_t)COVE_CHAT_MAX_TOOLS + 1;
    m[0].content = m[1].content = "a";
    expect_error(COVE_CHAT_CHATML, m, 2, &opt, COVE_ERR_LIMIT, "tools");
    if (test_failed_now())
        return;
    struct cove_chat_tool_call tc = {"a", "f", "{}"};
    m[1].tool_calls = &tc;
    m[1].n_tool_calls = (size_t)COVE_CHAT_MAX_TOOL_CALLS + 1;
    expect_error(COVE_CHAT_CHATML, m, 2, NULL, COVE_ERR_LIMIT, "tool calls");
}

/* ---- allocation failures ---- */

/* Make each allocation of one format call fail in turn: every failure must be a clean NOMEM. */
static void torture(enum cove_chat_family f, const struct conv *c)
{
    struct cove_chat_options opt = cove_chat_default_options();
    opt.tools = c->tools;
    opt.n_tools = c->n_tools;
    for (long k = 1; k < 10000; k++) {
        char *out = NULL;
        cove_error err = {0};
        cove_alloc_fail_at(k, 0);
        cove_status st = cove_chat_format(f, c->msgs, c->n, &opt, &out, NULL, &err);
        cove_alloc_fail_at(0, 0);
        cove_free(out);
        if (st == COVE_OK)
            return;
        CHECK_MSG(st == COVE_ERR_NOMEM && out == NULL && err.status == COVE_ERR_NOMEM,
                  "%s: allocation %ld failing gave status %d", cove_chat_family_name(f), k, (int)st);
    }
    test_fail(__FILE__, __LINE__, "%s never succeeded", cove_chat_family_name(f));
}

TEST(chat_alloc_failures)
{
    struct conv c;
    CHECK(load_conv("tool_round_trip", &c));
    for (int f = 0; f < COVE_CHAT_FAMILY_COUNT && !test_failed_now(); f++)
        torture((enum cove_chat_family)f, &c);
    free(c.buf);
}

/* ---- random input ---- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static const char *const markers[] = {
    "<|im_start|>", "<|im_end|>", "<start_of_turn>", "<|start_header_id|>", "[INST]", "<<SYS>>",
    "[AVAILABLE_TOOLS]", "\"[INST]\"", "<|user|>", "<|end|>", "<|assistant|>", "<think>",
    "reasoning_content", "ipython", "system\\n", "\n", "'", "\"", "\\", "{{", "}}", "<|im_sep|>",
};

/* Random bytes with marker strings spliced in. */
static size_t random_template(uint64_t *s, char *buf, size_t cap)
{
    size_t n = rng_next(s) % cap;
    for (size_t i = 0; i < n;) {
        if (rng_next(s) % 4 == 0) {
            const char *mk = markers[rng_next(s) % (sizeof markers / sizeof markers[0])];
            size_t k = strlen(mk);
            if (i + k > n)
                break;
            memcpy(buf + i, mk, k);
            i += k;
        } else {
            buf[i++] = (char)(rng_next(s) & 0xFF);
        }
    }
    return n;
}

TEST(chat_detect_random_bytes)
{
    uint64_t s = 0x9E3779B97F4A7C15ull;
    char *buf = malloc(4096);
    CHECK(buf);
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = random_template(&s, buf, 4096);
        enum cove_chat_family f;
        struct cove_chat_template_info info;
        cove_status st = cove_chat_detect(buf, n, &f);
        cove_status st2 = cove_chat_inspect(buf, n, &info);
        if (!(st == COVE_OK || st == COVE_ERR_NOT_FOUND) || (unsigned)f >= COVE_CHAT_FAMILY_COUNT ||
            info.family != f || (st2 != st && st2 != COVE_ERR_LIMIT) ||
            (info.has_default_system && strlen(info.default_system) > COVE_CHAT_MAX_DEFAULT_SYSTEM)) {
            free(buf);
            test_fail(__FILE__, __LINE__, "iteration %d: status %d/%d family %d", iter, (int)st,
                      (int)st2, (int)f);
            return;
        }
    }
    free(buf);
}

static const char *const pieces[] = {
    "", "hi", "  padded  ", "\n", "<think>\nr\n</think>\n\nx", "</think>", "<tool_response>x</tool_response>",
    "\xc2\xa0", "\xe3\x80\x80z", "\xff\xfe", "\"q\\", "{\"a\": [1, {}]}", "[INST]", "<|im_end|>",
};

/* A random conversation: random roles (sometimes invalid), texts, calls and ids. */
static size_t random_conv(uint64_t *s, struct cove_chat_message *m, size_t cap,
                          struct cove_chat_tool_call *tc, size_t n_tc)
{
    size_t n = rng_next(s) % cap;
    const size_t np = sizeof pieces / sizeof pieces[0];
    for (size_t i = 0; i < n_tc; i++) {
        tc[i].id = rng_next(s) % 3 ? "abcdefghi" : (rng_next(s) % 2 ? NULL : "x");
        tc[i].name = rng_next(s) % 8 ? "fn" : NULL;
        tc[i].arguments = rng_next(s) % 4 ? pieces[rng_next(s) % np] : NULL;
    }
    for (size_t i = 0; i < n; i++) {
        memset(&m[i], 0, sizeof m[i]);
        m[i].role = (enum cove_chat_role)(rng_next(s) % 41 == 0 ? 7 : rng_next(s) % 4);
        m[i].content = rng_next(s) % 9 ? pieces[rng_next(s) % np] : NULL;
        if (m[i].role == COVE_CHAT_ASSISTANT && rng_next(s) % 3 == 0) {
            m[i].n_tool_calls = 1 + rng_next(s) % 2;
            m[i].tool_calls = tc + rng_next(s) % (n_tc - 1);
        }
        if (m[i].role == COVE_CHAT_TOOL && rng_next(s) % 2)
            m[i].tool_call_id = "abcdefghi";
        if (rng_next(s) % 7 == 0)
            m[i].reasoning = pieces[rng_next(s) % np];
    }
    return n;
}

TEST(chat_format_random_conversations)
{
    uint64_t s = 0x2545F4914F6CDD1Dull;
    struct cove_chat_message m[12];
    struct cove_chat_tool_call tc[6];
    const char *tools[2] = {"{\"type\": \"function\", \"function\": {\"name\": \"fn\"}}", "[1, 2"};
    for (int iter = 0; iter < 6000; iter++) {
        size_t n = random_conv(&s, m, 12, tc, 6);
        struct cove_chat_options opt = cove_chat_default_options();
        opt.add_generation_prompt = (int)(rng_next(&s) % 2);
        opt.enable_thinking = (int)(rng_next(&s) % 2);
        opt.n_tools = rng_next(&s) % 3;
        opt.tools = tools;
        opt.default_system = rng_next(&s) % 2 ? "def" : NULL;
        enum cove_chat_family f = (enum cove_chat_family)(rng_next(&s) % COVE_CHAT_FAMILY_COUNT);
        char *out = NULL;
        size_t len = 0;
        cove_error err = {0};
        cove_status st = cove_chat_format(f, m, n, &opt, &out, &len, &err);
        int ok = st == COVE_OK ? out != NULL && strlen(out) == len
                               : out == NULL && err.status == st && err.msg[0] != '\0';
        cove_free(out);
        CHECK_MSG(ok, "iteration %d (%s): status %d, message \"%s\"", iter, cove_chat_family_name(f),
                  (int)st, err.msg);
    }
}
