/* placeholder until the engine has sources */
typedef int cove_engine_placeholder;
