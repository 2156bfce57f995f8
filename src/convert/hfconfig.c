/*
 * convert/hfconfig.c - config.json and the sentence-transformers files into a typed,
 * checked cove_convert_cfg. Nothing past this file sees JSON of the configuration.
 *
 * The architecture comes from model_type: llama and mistral -> llama, qwen2, qwen3,
 * gemma3_text and gemma3 (whose text part is in text_config) -> gemma3, bert -> bert.
 * Every size is checked against limits.h; a required key that is missing or of the wrong
 * type is an error that names it.
 */
#include <math.h>
#include <string.h>

#include "base/limits.h"
#include "convert/convert_int.h"

static const char *const arch_names[COVE_ARCH_COUNT] = {
    [COVE_ARCH_LLAMA] = "llama", [COVE_ARCH_QWEN2] = "qwen2", [COVE_ARCH_QWEN3] = "qwen3",
    [COVE_ARCH_GEMMA3] = "gemma3", [COVE_ARCH_BERT] = "bert",
};

/* model_type values and the architecture they are converted as. */
static const struct {
    const char *model_type;
    enum cove_convert_arch arch;
} model_types[] = {
    {"llama", COVE_ARCH_LLAMA},   {"mistral", COVE_ARCH_LLAMA},
    {"qwen2", COVE_ARCH_QWEN2},   {"qwen3", COVE_ARCH_QWEN3},
    {"gemma3_text", COVE_ARCH_GEMMA3}, {"gemma3", COVE_ARCH_GEMMA3},
    {"bert", COVE_ARCH_BERT},
};

const char *cove_convert_arch_name(enum cove_convert_arch a)
{
    return (unsigned)a < COVE_ARCH_COUNT ? arch_names[a] : "?";
}

/* ---- typed getters; `path` names the file in messages ---- */

typedef struct jctx {
    const json_t *obj;
    const char *path;
    cove_error *err;
} jctx;

/* Integer `key` in [lo, hi] into *out; `def` when absent (or null) and !required. */
static cove_status get_int(const jctx *c, const char *key, int required, int64_t def,
                           int64_t lo, int64_t hi, int64_t *out)
{
    const json_t *v = json_object_get(c->obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            return cove_error_set(c->err, COVE_ERR_FORMAT, "%s: no %s", c->path, key);
        *out = def;
        return COVE_OK;
    }
    double d = json_is_number(v) ? json_number_value(v) : 0.5;
    if (d != floor(d))
        return cove_error_set(c->err, COVE_ERR_FORMAT, "%s: %s is not an integer", c->path, key);
    if (d < (double)lo || d > (double)hi)
        return cove_error_set(c->err, d > (double)hi ? COVE_ERR_LIMIT : COVE_ERR_FORMAT,
                              "%s: %s = %.0f is outside [%lld, %lld]", c->path, key, d,
                              (long long)lo, (long long)hi);
    *out = (int64_t)d;
    return COVE_OK;
}

/* Positive finite number `key` into *out; `def` when absent and !required. */
static cove_status get_num(const jctx *c, const char *key, int required, double def,
                           double *out)
{
    const json_t *v = json_object_get(c->obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            return cove_error_set(c->err, COVE_ERR_FORMAT, "%s: no %s", c->path, key);
        *out = def;
        return COVE_OK;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) <= 0)
        return cove_error_set(c->err, COVE_ERR_FORMAT, "%s: %s is not a positive number",
                              c->path, key);
    *out = json_number_value(v);
    return COVE_OK;
}

static cove_status get_bool(const jctx *c, const char *key, int def, int *out)
{
    const json_t *v = json_object_get(c->obj, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return COVE_OK;
    }
    if (!json_is_boolean(v))
        return cove_error_set(c->err, COVE_ERR_FORMAT, "%s: %s is not true or false", c->path,
                              key);
    *out = json_is_true(v);
    return COVE_OK;
}

/* A token id: an integer, the first of a list, or absent/null (-1). */
static cove_status get_id(const jctx *c, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(c->obj, key);
    if (json_is_array(v))
        v = json_array_get(v, 0);
    *out = -1;
    if (!v || json_is_null(v))
        return COVE_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) >= (json_int_t)COVE_MAX_VOCAB)
        return cove_error_set(c->err, COVE_ERR_FORMAT, "%s: %s is not a token id", c->path, key);
    *out = json_integer_value(v);
    return COVE_OK;
}

/* ---- config.json ---- */

static cove_status pick_arch(const jctx *c, cove_convert_cfg *cfg)
{
    const char *mt = json_string_value(json_object_get(c->obj, "model_type"));
    if (!mt)
        return cove_error_set(c->err, COVE_ERR_FORMAT, "%s: no model_type", c->path);
    for (size_t i = 0; i < sizeof model_types / sizeof model_types[0]; i++) {
        if (strcmp(model_types[i].model_type, mt) == 0) {
            cfg->arch = model_types[i].arch;
            return COVE_OK;
        }
    }
    return cove_error_set(c->err, COVE_ERR_UNSUPPORTED, "%s: model_type '%.64s' is not one cove "
                          "converts (llama, mistral, qwen2, qwen3, gemma3, bert)", c->path, mt);
}

/* The sizes every architecture has. */
static cove_status read_sizes(const jctx *c, cove_convert_cfg *cfg)
{
    cove_status st;
    if ((st = get_int(c, "vocab_size", 1, 0, 1, COVE_MAX_VOCAB, &cfg->n_vocab)) ||
        (st = get_int(c, "max_position_embeddings", 1, 0, 1, COVE_MAX_CTX, &cfg->n_ctx)) ||
        (st = get_int(c, "hidden_size", 1, 0, 1, COVE_MAX_EMBD, &cfg->n_embd)) ||
        (st = get_int(c, "num_hidden_layers", 1, 0, 1, COVE_MAX_LAYERS, &cfg->n_layer)) ||
        (st = get_int(c, "intermediate_size", 1, 0, 1, COVE_MAX_FF, &cfg->n_ff)) ||
        (st = get_int(c, "num_attention_heads", 1, 0, 1, COVE_MAX_HEADS, &cfg->n_head)) ||
        (st = get_int(c, "num_key_value_heads", 0, cfg->n_head, 1, COVE_MAX_HEADS,
                      &cfg->n_head_kv)))
        return st;
    cfg->head_dim_given = json_is_integer(json_object_get(c->obj, "head_dim"));
    if ((st = get_int(c, "head_dim", 0, cfg->n_embd / cfg->n_head, 1, COVE_MAX_EMBD,
                      &cfg->head_dim)))
        return st;
    if (!cfg->head_dim_given && cfg->n_embd % cfg->n_head != 0)
        return cove_error_set(c->err, COVE_ERR_FORMAT, "%s: hidden_size %lld is not a multiple "
                              "of num_attention_heads %lld", c->path, (long long)cfg->n_embd,
                              (long long)cfg->n_head);
    if (cfg->n_head % cfg->n_head_kv != 0)
        return cove_error_set(c->err, COVE_ERR_FORMAT, "%s: num_attention_heads %lld is not a "
                              "multiple of num_key_value_heads %lld", c->path,
                              (long long)cfg->n_head, (long long)cfg->n_head_kv);
    return COVE_OK;
}

/* rope_scaling: null, or {rope_type|type, factor, ...}. */
static cove_status read_rope_scaling(const jctx *c, cove_convert_cfg *cfg)
{
    const json_t *rs = json_object_get(c->obj, "rope_scaling");
    if (!rs || json_is_null(rs))
        return COVE_OK;
    jctx r = {rs, c->path, c->err};
    const char *type = json_string_value(json_object_get(rs, "rope_type"));
    if (!type)
        type = json_string_value(json_object_get(rs, "type"));
    if (!json_is_object(rs) || !type)
        return cove_error_set(c->err, COVE_ERR_FORMAT, "%s: rope_scaling has no rope_type",
                              c->path);
    if (strcmp(type, "default") == 0)
        return COVE_OK;
    cove_status st = get_num(&r, "factor", 1, 1.0, &cfg->rope_factor);
    if (st == COVE_OK)
        st = get_int(&r, "original_max_position_embeddings", 0, 0, 1, COVE_MAX_CTX,
                     &cfg->rope_orig_ctx);
    if (st != COVE_OK)
        return st;
    if (strcmp(type, "linear") == 0) {
        cfg->rope_scaling = COVE_ROPE_SCALING_LINEAR;
    } else if (strcmp(type, "yarn") == 0) {
        cfg->rope_scaling = COVE_ROPE_SCALING_YARN;
    } else if (strcmp(type, "llama3") == 0 && cfg->arch == COVE_ARCH_LLAMA) {
        cfg->rope_scaling = COVE_ROPE_SCALING_LLAMA3;
        if ((st = get_num(&r, "low_freq_factor", 1, 0, &cfg->rope_low_freq)) ||
            (st = get_num(&r, "high_freq_factor", 1, 0, &cfg->rope_high_freq)))
            return st;
        if (!cfg->rope_orig_ctx || cfg->rope_high_freq <= cfg->rope_low_freq)
            return cove_error_set(c->err, COVE_ERR_FORMAT, "%s: llama3 rope_scaling needs "
                                  "original_max_position_embeddings and high_freq_factor > "
                                  "low_freq_factor", c->path);
    } else {
        return cove_error_set(c->err, COVE_ERR_UNSUPPORTED, "%s: rope_scaling type '%.32s' is "
                              "not supported", c->path, type);
    }
    return COVE_OK;
}

static cove_status read_decoder(const jctx *c, cove_convert_cfg *cfg)
{
    cove_status st;
    int tie_default = cfg->arch == COVE_ARCH_GEMMA3;
    if ((st = get_num(c, "rms_norm_eps", 1, 0, &cfg->norm_eps)) ||
        (st = get_num(c, "rope_theta", 0, 10000.0, &cfg->rope_theta)) ||
        (st = get_bool(c, "tie_word_embeddings", tie_default, &cfg->tie_embeddings)) ||
        (st = read_rope_scaling(c, cfg)))
        return st;
    if (cfg->head_dim % 2 != 0)
        return cove_error_set(c->err, COVE_ERR_FORMAT, "%s: the head size %lld is odd", c->path,
                              (long long)cfg->head_dim);
    if (cfg->arch == COVE_ARCH_GEMMA3)
        return get_int(c, "sliding_window", 0, 0, 0, COVE_MAX_CTX, &cfg->sliding_window);
    return COVE_OK;
}

static cove_status read_bert(const jctx *c, cove_convert_cfg *cfg)
{
    const char *pe = json_string_value(json_object_get(c->obj, "position_embedding_type"));
    const char *act = json_string_value(json_object_get(c->obj, "hidden_act"));
    if (pe && strcmp(pe, "absolute") != 0)
        return cove_error_set(c->err, COVE_ERR_UNSUPPORTED, "%s: position_embedding_type "
                              "'%.32s' is not supported (absolute only)", c->path, pe);
    if (act && strcmp(act, "gelu") != 0)
        return cove_error_set(c->err, COVE_ERR_UNSUPPORTED, "%s: hidden_act '%.32s' is not "
                              "supported (gelu only)", c->path, act);
    cove_status st = get_num(c, "layer_norm_eps", 1, 0, &cfg->norm_eps);
    if (st == COVE_OK)
        st = get_int(c, "type_vocab_size", 0, 2, 1, 1024, &cfg->n_token_types);
    return st;
}

static cove_status read_config(const jctx *top, cove_convert_cfg *cfg)
{
    cove_status st = pick_arch(top, cfg);
    if (st != COVE_OK)
        return st;
    jctx c = *top;
    const json_t *tc = json_object_get(top->obj, "text_config");
    if (cfg->arch == COVE_ARCH_GEMMA3 && json_is_object(tc))
        c.obj = tc; /* Gemma3ForConditionalGeneration: the text model's settings */
    if ((st = read_sizes(&c, cfg)) || (st = get_id(top, "bos_token_id", &cfg->bos_id)) ||
        (st = get_id(top, "eos_token_id", &cfg->eos_id)) ||
        (st = get_id(top, "pad_token_id", &cfg->pad_id)))
        return st;
    return cfg->arch == COVE_ARCH_BERT ? read_bert(&c, cfg) : read_decoder(&c, cfg);
}

/* ---- sentence-transformers ---- */

/* A module path from modules.json: relative, no "..", short. */
static int module_path_ok(const char *p)
{
    size_t n = strlen(p);
    return n < 256 && p[0] != '/' && !strstr(p, "..");
}

static cove_status read_pooling(const char *dir, const char *sub, cove_convert_cfg *cfg,
                                cove_error *err)
{
    char rel[300], path[COVE_MAX_PATH];
    json_t *root;
    snprintf(rel, sizeof rel, "%s/config.json", sub);
    cove_status st = cove_convert_path(path, dir, rel, err);
    if (st == COVE_OK)
        st = cove_convert_json_load(path, 0, &root, err);
    if (st != COVE_OK)
        return st;
    int cls = json_is_true(json_object_get(root, "pooling_mode_cls_token"));
    int mean = json_is_true(json_object_get(root, "pooling_mode_mean_tokens"));
    int last = json_is_true(json_object_get(root, "pooling_mode_lasttoken"));
    int other = json_is_true(json_object_get(root, "pooling_mode_max_tokens")) ||
                json_is_true(json_object_get(root, "pooling_mode_mean_sqrt_len_tokens")) ||
                json_is_true(json_object_get(root, "pooling_mode_weightedmean_tokens"));
    json_decref(root);
    if (other || cls + mean + last != 1)
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "%s: pooling must be exactly one of "
                              "cls, mean or last token", path);
    cfg->pooling = cls ? COVE_POOLING_CLS : mean ? COVE_POOLING_MEAN : COVE_POOLING_LAST;
    cfg->has_pooling = 1;
    return COVE_OK;
}

/* One entry of modules.json. */
static cove_status read_module(const char *dir, const char *mpath, const json_t *m,
                               cove_convert_cfg *cfg, cove_error *err)
{
    const char *type = json_string_value(json_object_get(m, "type"));
    const char *sub = json_string_value(json_object_get(m, "path"));
    if (!type || !sub || !module_path_ok(sub))
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: a module without a type or with a "
                              "bad path", mpath);
    if (strcmp(type, "sentence_transformers.models.Transformer") == 0)
        return COVE_OK;
    if (strcmp(type, "sentence_transformers.models.Normalize") == 0) {
        cfg->normalize = 1;
        return COVE_OK;
    }
    if (strcmp(type, "sentence_transformers.models.Pooling") == 0)
        return read_pooling(dir, sub, cfg, err);
    return cove_error_set(err, COVE_ERR_UNSUPPORTED, "%s: module type '%.80s' is not supported",
                          mpath, type);
}

static cove_status read_modules(const char *dir, cove_convert_cfg *cfg, cove_error *err)
{
    char path[COVE_MAX_PATH];
    json_t *root;
    cove_status st = cove_convert_path(path, dir, "modules.json", err);
    if (st == COVE_OK)
        st = cove_convert_json_load(path, 1, &root, err);
    if (st != COVE_OK || !root)
        return st;
    if (!json_is_array(root) || json_array_size(root) > 64)
        st = cove_error_set(err, COVE_ERR_FORMAT, "%s: not a list of modules", path);
    for (size_t i = 0; st == COVE_OK && i < json_array_size(root); i++)
        st = read_module(dir, path, json_array_get(root, i), cfg, err);
    json_decref(root);
    if (st != COVE_OK || (st = cove_convert_path(path, dir, "sentence_bert_config.json", err)) ||
        (st = cove_convert_json_load(path, 1, &root, err)) || !root)
        return st;
    jctx c = {root, path, err};
    st = get_int(&c, "max_seq_length", 0, 0, 1, COVE_MAX_CTX, &cfg->max_seq_len);
    json_decref(root);
    return st;
}

cove_status cove_convert_cfg_load(const char *dir, cove_convert_cfg *cfg, cove_error *err)
{
    char path[COVE_MAX_PATH];
    json_t *root;
    memset(cfg, 0, sizeof *cfg);
    cfg->bos_id = cfg->eos_id = cfg->pad_id = -1;
    cove_status st = cove_convert_path(path, dir, "config.json", err);
    if (st == COVE_OK)
        st = cove_convert_json_load(path, 0, &root, err);
    if (st != COVE_OK)
        return st;
    jctx c = {root, path, err};
    if (!json_is_object(root))
        st = cove_error_set(err, COVE_ERR_FORMAT, "%s: not a JSON object", path);
    else
        st = read_config(&c, cfg);
    json_decref(root);
    if (st == COVE_OK && cfg->arch == COVE_ARCH_BERT)
        st = read_modules(dir, cfg, err);
    return st;
}
