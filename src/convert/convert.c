/* Placeholder: the converter lands here (safetensors + tokenizer -> GGUF). */
typedef int cove_convert_placeholder;
