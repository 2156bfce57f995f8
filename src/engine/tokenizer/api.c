/*
 * engine/tokenizer/api.c - the public tokenizer calls of cove/engine.h.
 */
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

cove_status cove_tokenize(const cove_model *model, const char *text, size_t len, int add_special,
                          int parse_special, int32_t *tokens_out, int32_t n_max, int32_t *n_out,
                          cove_error *err)
{
    if (!model || !n_out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_tokenize: NULL argument");
    return cove_vocab_tokenize(cove_model_vocab(model), text, len, add_special, parse_special,
                               tokens_out, n_max, n_out, err);
}

cove_status cove_token_to_piece(const cove_model *model, int32_t token, char *buf, size_t n,
                                size_t *len)
{
    if (!model || !len)
        return COVE_ERR_INVALID_ARG;
    return cove_vocab_piece(cove_model_vocab(model), token, 0, buf, n, len);
}

const char *cove_token_text(const cove_model *model, int32_t token)
{
    return cove_vocab_text(cove_model_vocab(model), token);
}

float cove_token_score(const cove_model *model, int32_t token)
{
    return cove_vocab_score(cove_model_vocab(model), token);
}

enum cove_token_type cove_token_type_of(const cove_model *model, int32_t token)
{
    return cove_vocab_type(cove_model_vocab(model), token);
}
