/*
 * engine/model/model.h - what the rest of the engine may ask of a cove_model.
 *
 * The public calls on models are in cove/engine.h; this adds the engine-internal
 * accessors. Everything returned is borrowed from the model.
 */
#ifndef COVE_ENGINE_MODEL_H
#define COVE_ENGINE_MODEL_H

#include "cove/engine.h"
#include "engine/tokenizer/tokenizer.h"

/* The model's vocabulary (never NULL for a loaded model). */
const cove_vocab *cove_model_vocab(const cove_model *m);

#endif
