# gevo: a terminal workbench for LLM-guided evolution of neural networks.
#
#   make            build ./gevo
#   make run        install missing packages, build, run the workbench
#   make test       install missing packages, build, run every test
#   make test-slurm only the Slurm evaluator's test (a real Slurm on 127.0.0.1)
#   make asan       the tests under AddressSanitizer + UBSan
#   make bench      speed ratios against PyTorch, measured in one run
#   make fuzz       fuzz the gevo-net parser for FUZZ_SECONDS (clang)
#   make format     apply .clang-format to every C file; format-check: only check
#   make install    PREFIX=/usr/local (binary, prompts, man pages)

PREFIX   ?= /usr/local
BUILD    ?= build
CC       ?= cc
PKGS      = ncursesw libcurl jansson libgit2 openblas zlib libpng libjpeg
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
# -Wno-format-truncation: messages are cut to their buffers on purpose;
# -Wno-psabi: engine/ops_vec.h's 8-float vectors pass between static
# inline helpers only, so GCC's note on their AVX calling convention is moot
WARN      = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter \
            -Wno-format-truncation -Wno-psabi
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(PKG_CFLAGS) -I. \
             -DGEVO_DATADIR='"$(PREFIX)/share/gevo"' -MMD -MP
LDLIBS    = $(PKG_LIBS) -lm -lpthread

# Layers, bottom up (engine/base: the helpers every layer shares; tui/cli:
# the command line, beside the workbench in the user-interface layer);
# every .c in a layer folder is part of the library, tui/cli/main.c alone
# is the program's entry point.
LAYERS   = engine/base engine sessions core tui tui/cli
MAIN     = tui/cli/main.c
LIB_SRC  = $(filter-out $(MAIN),$(foreach d,$(LAYERS),$(wildcard $(d)/*.c)))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC = $(wildcard tests/unit/test_*.c)
TEST_BIN = $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HARNESS  = $(BUILD)/tests/harness.o

.PHONY: all run test asan bench fuzz install deps deps-test clean test-slurm format format-check
all: gevo

gevo: $(BUILD)/gevo
	@cp $< $@

$(BUILD)/gevo: $(BUILD)/$(MAIN:.c=.o) $(BUILD)/libgevo.a
	@echo "  LD  $@"
	@$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libgevo.a: $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(HARNESS) $(BUILD)/libgevo.a
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(ALL_CFLAGS) -o $@ $< $(HARNESS) $(BUILD)/libgevo.a $(LDLIBS)

# the exporter's test front end (tests/sh/test_export.sh), not a test itself
$(BUILD)/tests/export_tool: tests/export/export_tool.c $(BUILD)/libgevo.a
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libgevo.a $(LDLIBS)

$(HARNESS): tests/harness.c tests/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

deps:
	@sh .ci/deps.sh run
deps-test:
	@sh .ci/deps.sh test

# The packages must be there before pkg-config can be asked for flags,
# hence the recursive make after deps.
# The workbench on a new session: the default seed, Fashion-MNIST, the
# configured LLM or the offline proposer.
run: deps
	@$(MAKE) --no-print-directory gevo
	./gevo

test: deps-test
	@$(MAKE) --no-print-directory format-check gevo tests-build
	@sh tests/run.sh $(BUILD)

tests-build: $(BUILD)/gevo $(TEST_BIN) $(BUILD)/tests/export_tool

# the Slurm evaluator against a real single-node Slurm on 127.0.0.1 that
# tests/sh/test_slurm.sh starts and stops (as root); `make test` runs it too
test-slurm: deps-test
	@$(MAKE) --no-print-directory gevo tests-build
	@sh tests/run.sh $(BUILD) test_slurm

asan: deps-test
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    build-asan/gevo tests-build
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    GEVO_ASAN=1 sh tests/run.sh build-asan

# the bench programs are built like tests (libgevo.a), then tests/bench.sh
# runs them and both sides of the engine comparison
bench: deps-test gevo
	@mkdir -p $(BUILD)/tests/bench
	@for b in session_bench engine_sgemm engine_layers; do \
	    $(CC) $(ALL_CFLAGS) -o $(BUILD)/tests/bench/$$b tests/bench/$$b.c $(BUILD)/libgevo.a $(LDLIBS) || exit 1; \
	done
	@sh tests/bench.sh $(BUILD)

# clang-format 14 (Debian 12's) is the reference: other versions format a
# few constructs differently, so the check names the one it needs.
CLANG_FORMAT ?= $(shell command -v clang-format-14 || command -v clang-format)
C_FILES = $(shell git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null || find engine core sessions tui tests -name '*.[ch]')
format:
	@$(CLANG_FORMAT) -i $(C_FILES)
format-check:
	@if [ -z "$(CLANG_FORMAT)" ]; then echo "format-check: clang-format-14 is missing (apt-get install clang-format)" >&2; exit 1; fi
	@$(CLANG_FORMAT) --dry-run -Werror $(C_FILES) || \
	    { echo "format-check: run 'make format' (clang-format: $(CLANG_FORMAT))" >&2; exit 1; }

FUZZ_SECONDS ?= 60
fuzz: deps-test
	@sh tests/fuzz.sh $(FUZZ_SECONDS)

install: gevo
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/gevo/prompts \
	    $(DESTDIR)$(PREFIX)/share/gevo/nets $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 gevo $(DESTDIR)$(PREFIX)/bin/gevo
	install -m 644 engine/nets/*.net $(DESTDIR)$(PREFIX)/share/gevo/nets/
	if ls prompts/*.txt >/dev/null 2>&1; then install -m 644 prompts/*.txt $(DESTDIR)$(PREFIX)/share/gevo/prompts/; fi
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/

clean:
	rm -rf build build-asan build-fuzz gevo

-include $(LIB_OBJ:.o=.d) $(BUILD)/$(MAIN:.c=.d) $(TEST_BIN:=.d)
