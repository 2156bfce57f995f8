# Thin wrapper over CMake. The two commands the README names:
#   make demo    build, get the default models, run the main job
#   make check   build and run the whole test suite (release and ASan+UBSan builds)

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
COVE_TEST_MODELS ?= $(abspath $(CURDIR)/../shared/models)
export COVE_TEST_MODELS

CMAKE_FLAGS ?=

.PHONY: all build asan fuzz-build fuzz deps models demo check check-release check-asan check-fuzz clean

all: build

deps:
	@bash scripts/deps.sh

# Default models into $COVE_MODELS; those that need converting use the cove just built.
# make check passes MODELS=--all: the tests also run models that are not defaults (gemma3).
MODELS ?=
models: build
	@COVE_BIN=$(abspath $(BUILD))/app/cove bash scripts/models.sh $(MODELS)

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCOVE_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

fuzz-build:
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOVE_FUZZ=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)

DEMO_PROMPT ?= In two sentences, why should a clinic keep patient notes on its own computers?
demo: deps
	@$(MAKE) --no-print-directory models
	@echo "== cove chat, default instruct model: $(DEMO_PROMPT)" >&2
	@$(BUILD)/app/cove chat --temp 0 -n 96 -p "$(DEMO_PROMPT)"
	@echo

check-release: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

check-asan: asan
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS) -LE slow

# Each libFuzzer target runs briefly over its seeds (ctest label fuzz).
check-fuzz: fuzz-build
	@cd $(FUZZ_BUILD) && ctest --output-on-failure -L fuzz

# make fuzz: longer fuzzing, FUZZ_SECONDS per target, new inputs kept in $(FUZZ_BUILD)/found-*.
FUZZ_SECONDS ?= 300
fuzz: fuzz-build
	@for t in $(FUZZ_BUILD)/tests/fuzz/fuzz_*; do \
	  n=$$(basename $$t); mkdir -p $(FUZZ_BUILD)/found-$$n; \
	  $$t -max_total_time=$(FUZZ_SECONDS) $(FUZZ_BUILD)/found-$$n tests/fuzz/corpus/$${n#fuzz_} || exit 1; \
	done

check: deps
	@$(MAKE) --no-print-directory models MODELS=--all
	@$(MAKE) --no-print-directory check-release
	@$(MAKE) --no-print-directory check-asan
	@$(MAKE) --no-print-directory check-fuzz

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
