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

.PHONY: all build asan fuzz-build fuzz deps models demo check check-release check-long check-asan check-fuzz clean

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

# make demo: the home-hub example agent on the default models, its trace on stdout
# (one JSON object per step), in a scratch copy under $(BUILD)/demo.
DEMO_REQUEST ?= Turn on the lamp.
DEMO_DIR = $(BUILD)/demo/home-hub
demo: deps
	@$(MAKE) --no-print-directory models
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR) && cp -r examples/home-hub/. $(DEMO_DIR)/
	@cd $(DEMO_DIR) && python3 make_devices.py >/dev/null
	@echo "== cove ask --trace (examples/home-hub, default instruct model): $(DEMO_REQUEST)" >&2
	@cd $(DEMO_DIR) && $(abspath $(BUILD))/app/cove ask --agent agent.json --trace "$(DEMO_REQUEST)"
	@echo "== devices after the run:" >&2
	@cd $(DEMO_DIR) && $(abspath $(BUILD))/app/cove tool device_control '{"action": "list"}' --devices devices.db

# Tests labelled `long` (the full schema x model x seed x temperature matrix of structured
# generation, about an hour on 2 cores) run with make check-long, not in make check.
check-release: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE long

check-long: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L long

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
