/*
 * engine/tokenizer/chat.h - chat templates: messages in, the exact prompt text out.
 *
 * An instruction-tuned model was trained on conversations written in one fixed
 * layout: ChatML's "<|im_start|>user\n...<|im_end|>\n", gemma's
 * "<start_of_turn>user\n...<end_of_turn>\n", llama 3's header ids, and so on. This
 * module writes typed messages in the layout of a model's family, byte for byte
 * what the family's official Jinja template (rendered the way Hugging Face
 * transformers renders it) produces for the same messages. It takes typed
 * structs, never JSON: tool definitions and tool-call arguments arrive as JSON
 * text that was serialised at the edge and is copied as it is.
 *
 * Picking the family: cove_chat_detect (or cove_chat_inspect, which also reads a
 * default system prompt out of the template) recognises the family from the
 * `tokenizer.chat_template` text of a GGUF file by its marker strings;
 * cove_chat_family_from_name takes an explicit name ("chatml", "llama3", ...).
 * Nothing in the template text is executed: cove knows each family's layout.
 *
 * Tools: ChatML/qwen, qwen3, llama 3.1 and mistral v3 have a tool convention in
 * their templates and get exactly that. The other families have none; cove then
 * writes tools the qwen way (a "# Tools" block in the system text, <tool_call>
 * blocks in the assistant turn, <tool_response> blocks in a user turn). See
 * docs/chat-templates.md for each family.
 *
 * Beginning of sequence: some templates write the BOS token's text themselves
 * (gemma, llama 2/3, mistral). Then the prompt must be tokenized with special
 * tokens parsed and WITHOUT adding another BOS token; cove_chat_emits_bos says
 * which case applies.
 *
 * Every call is thread-safe; nothing here keeps state between calls.
 */
#ifndef COVE_ENGINE_TOKENIZER_CHAT_H
#define COVE_ENGINE_TOKENIZER_CHAT_H

#include <stddef.h>

#include "base/limits.h"
#include "cove/status.h"

enum cove_chat_family {
    COVE_CHAT_GENERIC = 0,   /* unrecognised template: ChatML layout, no default system */
    COVE_CHAT_CHATML,        /* qwen2, qwen2.5, smollm, smollm2 (and other plain ChatML) */
    COVE_CHAT_QWEN3,         /* ChatML with <think> reasoning blocks */
    COVE_CHAT_GEMMA,         /* gemma 2 and 3: user/model turns, no system role */
    COVE_CHAT_LLAMA3,        /* llama 3.0 header ids */
    COVE_CHAT_LLAMA31,       /* llama 3.1, 3.2, 3.3: dated system header, ipython tool role */
    COVE_CHAT_LLAMA2,        /* [INST] with a <<SYS>> block */
    COVE_CHAT_PHI3,          /* phi 3 / 3.5: <|user|> ... <|end|> */
    COVE_CHAT_MISTRAL_V1,    /* " [INST] ... [/INST]" (mistral 7b v0.1, v0.2) */
    COVE_CHAT_MISTRAL_V3,    /* "[INST] ...[/INST]" with [AVAILABLE_TOOLS]/[TOOL_CALLS] (v0.3) */
    COVE_CHAT_MISTRAL_V3_TEKKEN, /* as v3 without the spaces (mistral nemo) */
    COVE_CHAT_FAMILY_COUNT
};

enum cove_chat_role {
    COVE_CHAT_SYSTEM = 0,
    COVE_CHAT_USER,
    COVE_CHAT_ASSISTANT,
    COVE_CHAT_TOOL /* the result of a tool call */
};

/* One call of a tool made by the assistant. All strings are borrowed and NUL-terminated. */
struct cove_chat_tool_call {
    const char *id;        /* call id; NULL when none. mistral v3 needs exactly 9 characters */
    const char *name;      /* function name; required */
    const char *arguments; /* JSON text of the arguments object; NULL means "{}" */
};

/*
 * One message. All pointers are borrowed for the duration of the call and
 * strings are NUL-terminated UTF-8 (bytes are copied as they are).
 */
struct cove_chat_message {
    enum cove_chat_role role;
    const char *content; /* the text; NULL means "" */
    /* COVE_CHAT_ASSISTANT only: the calls this turn makes (n_tool_calls 0: none). */
    const struct cove_chat_tool_call *tool_calls;
    size_t n_tool_calls;
    /* COVE_CHAT_ASSISTANT, qwen3 only: the reasoning text; NULL: taken from a
     * "<think>...</think>" prefix of content, as the qwen3 template does. */
    const char *reasoning;
    /* COVE_CHAT_TOOL only: the id and function name of the call this answers.
     * mistral v3 requires tool_call_id (9 characters); no built-in family's
     * template writes `name`, it is carried for the caller's records. */
    const char *tool_call_id;
    const char *name;
};

/* How to format. Start from cove_chat_default_options() and change fields. */
struct cove_chat_options {
    /* 1: end with the opening of an assistant turn (the model writes next).
     * llama 2 and mistral have no such opening: their prompt ends with "[/INST]". */
    int add_generation_prompt;
    /* Text of the BOS / EOS token where the template writes it. NULL: the
     * family's usual text ("<bos>", "<|begin_of_text|>", "<s>", "</s>", ...).
     * "" writes nothing (then add the BOS token yourself when tokenizing). */
    const char *bos_text;
    const char *eos_text;
    /* Tool definitions, one JSON text per tool in the OpenAI form
     * {"type": "function", "function": {"name": ..., "description": ...,
     * "parameters": {...}}}, serialised as Python's json.dumps does by default
     * (", " and ": " separators) so the prompt matches the official one.
     * n_tools 0: no tools. Borrowed. */
    const char *const *tools;
    size_t n_tools;
    /* llama 3.1: the "Today Date:" text, e.g. "26 Jul 2024"; NULL: "26 Jul 2024". */
    const char *date;
    /* ChatML / generic: the system text used when the first message is not a
     * system message (qwen2.5 and smollm2 templates have one; read it with
     * cove_chat_inspect). NULL: no system turn then (and with tools, the system
     * turn holds only the tool list). Not used with no messages, nor by qwen3,
     * whose template has none. */
    const char *default_system;
    /* qwen3: 0 puts an empty "<think>\n\n</think>\n\n" after the generation
     * prompt (the template's enable_thinking=false). Default 1. */
    int enable_thinking;
};

/* add_generation_prompt 1, enable_thinking 1, everything else NULL/0. */
struct cove_chat_options cove_chat_default_options(void);

/*
 * Format n messages for family f into a new NUL-terminated string.
 * On success *out (owned by the caller, release with cove_free) holds the
 * prompt and *out_len (may be NULL) its length; *out is never NULL then, even
 * for an empty prompt. opt NULL means cove_chat_default_options().
 *
 * Errors (*out is then NULL, err says why):
 *   COVE_ERR_INVALID_ARG  a NULL pointer where one is needed, an unknown family
 *                         or role, a tool call without a name, a tool message
 *                         without the id the family needs, roles out of the order
 *                         the family's template enforces (e.g. gemma, llama 2 and
 *                         mistral need user/assistant turns to alternate), more
 *                         than one tool call in a turn for llama 3.1
 *   COVE_ERR_FORMAT       a tool definition whose brackets or strings do not close,
 *                         or that nests deeper than COVE_CHAT_MAX_JSON_DEPTH (llama 3.1,
 *                         which re-indents it)
 *   COVE_ERR_LIMIT        more than COVE_CHAT_MAX_MESSAGES messages, COVE_CHAT_MAX_TOOLS
 *                         tools or COVE_CHAT_MAX_TOOL_CALLS calls in one turn, or a
 *                         prompt longer than COVE_CHAT_MAX_PROMPT_BYTES
 *   COVE_ERR_NOMEM
 */
cove_status cove_chat_format(enum cove_chat_family f, const struct cove_chat_message *msgs,
                             size_t n, const struct cove_chat_options *opt, char **out,
                             size_t *out_len, cove_error *err);

/*
 * Recognise the family of a chat template from its text (`len` bytes, any
 * bytes at all, no terminator needed). Sets *out and returns COVE_OK when a
 * family's markers are found; when none is, sets *out to COVE_CHAT_GENERIC and
 * returns COVE_ERR_NOT_FOUND, so a caller may go on with the generic layout.
 * Also COVE_ERR_INVALID_ARG (out NULL, or text NULL with len > 0) and
 * COVE_ERR_LIMIT (len > COVE_CHAT_MAX_TEMPLATE_BYTES; *out is GENERIC).
 * Reads only text[0, len); safe on arbitrary input.
 */
cove_status cove_chat_detect(const char *text, size_t len, enum cove_chat_family *out);

/* What cove_chat_inspect learns from a template text. Caller-owned; no heap. */
struct cove_chat_template_info {
    enum cove_chat_family family;
    int has_default_system; /* 1 when the template writes a system turn of its own */
    /* That system text, NUL-terminated (ChatML templates only, e.g. qwen2.5's
     * "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."). */
    char default_system[COVE_CHAT_MAX_DEFAULT_SYSTEM + 1];
};

/*
 * As cove_chat_detect, and for ChatML templates also reads the default system
 * text: the literal text a template writes between "<|im_start|>system\n" and
 * "<|im_end|>" inside one Jinja string (escapes decoded). Same statuses as
 * cove_chat_detect, plus COVE_ERR_LIMIT when that text is longer than
 * COVE_CHAT_MAX_DEFAULT_SYSTEM (has_default_system is then 0, family is set).
 * *out is always filled when out is not NULL.
 */
cove_status cove_chat_inspect(const char *text, size_t len, struct cove_chat_template_info *out);

/*
 * Look a family up by name: "generic", "chatml", "qwen3", "gemma", "llama3",
 * "llama3.1", "llama2", "phi3", "mistral-v1", "mistral-v3", "mistral-v3-tekken",
 * and the aliases "qwen2", "qwen2.5", "smollm", "smollm2", "gemma2", "gemma3",
 * "llama3.2", "llama3.3", "phi3.5", "mistral". ASCII case is ignored.
 * Returns COVE_ERR_NOT_FOUND (unknown name) or COVE_ERR_INVALID_ARG (NULL).
 */
cove_status cove_chat_family_from_name(const char *name, enum cove_chat_family *out);

/* The canonical name of f ("chatml", ...), or "unknown" when f is out of range. Static. */
const char *cove_chat_family_name(enum cove_chat_family f);

/*
 * The strings that end an assistant turn in family f, for the sampler to stop
 * on (e.g. "<|im_end|>", "<end_of_turn>", "<|eot_id|>"): a static array of
 * *n_out strings, also NULL-terminated. The EOS token itself should also stop
 * generation; it is listed where its usual text is known. Returns NULL (and
 * *n_out 0) when f is out of range. n_out may be NULL.
 */
const char *const *cove_chat_stop_strings(enum cove_chat_family f, size_t *n_out);

/* The family's usual BOS / EOS text (static), or NULL when its template never writes one. */
const char *cove_chat_default_bos(enum cove_chat_family f);
const char *cove_chat_default_eos(enum cove_chat_family f);

/*
 * 1 when the prompt cove_chat_format writes for f with opt (NULL: defaults)
 * already begins with the BOS text, given at least one message: tokenize it
 * with special tokens parsed and do NOT add a BOS token. 0 when the caller
 * adds the BOS token, if the vocabulary wants one (tokenizer.ggml.add_bos_token).
 */
int cove_chat_emits_bos(enum cove_chat_family f, const struct cove_chat_options *opt);

/* 1 when the family's own template defines how tools are written (see the file comment). */
int cove_chat_has_native_tools(enum cove_chat_family f);

#endif
