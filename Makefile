# Thin wrapper over Meson; see README.md. Every target installs missing dependencies first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
PYTEST     ?= /usr/bin/python3 -m pytest

.PHONY: all deps browser-deps run test unit integration dashboard fuzz bench bench-compress bench-tls testssl clean

all: $(BUILD)/weir

deps:
	@scripts/install-deps.sh

# Debian's chromium (+ Node.js/npm when missing) and tests/dashboard's playwright-core
browser-deps:
	@scripts/install-deps.sh --browser

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) --buildtype=release -Db_ndebug=false

$(BUILD)/weir: deps $(BUILD)/build.ninja FORCE
	ninja -C $(BUILD)

$(ASAN_BUILD)/build.ninja: | deps
	meson setup $(ASAN_BUILD) --buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false

asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

run: $(BUILD)/weir
	scripts/demo.sh $(BUILD)/weir

unit: asan
	meson test -C $(ASAN_BUILD) --print-errorlogs

# Integration tests with real processes; the dashboard test in real headless Chromium joins the
# same pytest run (one summary line) when browser-deps could install Chromium and playwright-core.
integration: asan
	@scripts/install-deps.sh --browser || echo "integration: installing the browser deps failed" >&2
	@if [ -x /usr/bin/chromium ] && [ -d tests/dashboard/node_modules/playwright-core ]; then \
	    extra=tests/dashboard; \
	else \
	    echo "dashboard: SKIPPED, no /usr/bin/chromium or tests/dashboard/node_modules/playwright-core (make browser-deps)"; \
	    extra=; \
	fi; \
	WEIR_BIN=$(abspath $(ASAN_BUILD))/weir $(PYTEST) -q tests/integration $$extra

# Only the dashboard test.
dashboard: asan browser-deps
	WEIR_BIN=$(abspath $(ASAN_BUILD))/weir $(PYTEST) -q tests/dashboard

test: unit integration

$(FUZZ_BUILD)/build.ninja: | deps
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debugoptimized -Dfuzz=true -Dtests=disabled \
	    -Db_sanitize=address,undefined -Db_lundef=false

fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: $(BUILD)/weir
	@scripts/install-deps.sh --bench
	bench/proxy_bench.sh $(BUILD)/weir

# Content codings: CPU per MB and ratio (bench/RESULTS.md, "Compression").
bench-compress: $(BUILD)/weir
	bench/compress_bench.sh $(BUILD)

# TLS: handshakes and kept-alive HTTPS vs nginx, timed and counted (bench/RESULTS.md, "TLS").
bench-tls: $(BUILD)/weir
	@scripts/install-deps.sh --bench
	bench/tls_bench.sh $(BUILD)/weir
	bench/tls_instr.sh $(BUILD)/weir

# testssl.sh against a listener with the default TLS settings (a few minutes).
testssl: $(BUILD)/weir
	@scripts/install-deps.sh --bench
	bench/testssl.sh $(BUILD)/weir

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

FORCE:
