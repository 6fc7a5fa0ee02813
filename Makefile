# The commands a new user needs: `make run` and `make test`.
GO        ?= go
BUILD     := examples/build
PLUGINS   := $(BUILD)/plugins
ADDR      ?= 127.0.0.1:8080
ADMIN_ADDR ?= 127.0.0.1:8081

.PHONY: install run dev examples test test-core test-examples test-river test-serve test-metrics test-bench vet fuzz bench clean

## install: install the opa command from this checkout (go install ./cmd/opa)
install:
	$(GO) install ./cmd/opa

## run: build the example plugins, host and worker with one toolchain and flags, then start a worker and the host
run: examples
	OPA_PLUGIN_PATHS=$(CURDIR)/$(PLUGINS) ADDR=$(ADDR) ADMIN_ADDR=$(ADMIN_ADDR) exec sh examples/run.sh

## dev: make run, plus save-and-see: a change under examples/plugins/NAME
## rebuilds that plugin with opa build (the host's exact settings) and
## reloads the host and the worker; one line per reload
dev: examples
	$(GO) build -o $(BUILD)/opa ./cmd/opa
	cd examples && $(GO) build -o build/dev ./dev
	cd examples && OPA_PLUGIN_PATHS=$(CURDIR)/$(PLUGINS) ADDR=$(ADDR) ADMIN_ADDR=$(ADMIN_ADDR) exec build/dev -build build

# Every plugin is built in the host's module (examples/), by the same go
# command with the same flags as the host: Go refuses to load a plugin built
# any other way. go build skips a file that is up to date, so a second
# `make run` starts at once. Single-file plugins are NAME.so (+ NAME-meta.json);
# directory plugins are NAME/plugin.so (+ NAME/meta.json).
PLUGIN := cd examples && $(GO) build -buildmode=plugin -o build/plugins

## examples: build the example host, worker and plugins into examples/build
examples:
	@mkdir -p $(PLUGINS)/greeter $(PLUGINS)/notes
	cd examples && $(GO) build -o build/host ./host
	cd examples && $(GO) build -o build/worker ./worker
	$(PLUGIN)/hello.so ./plugins/hello
	$(PLUGIN)/greeter/plugin.so ./plugins/greeter
	$(PLUGIN)/fullname.so ./plugins/fullname
	$(PLUGIN)/fullname_formal.so ./plugins/fullname_formal
	$(PLUGIN)/sqlitedriver.so ./plugins/sqlitedriver
	$(PLUGIN)/notes/plugin.so ./plugins/notes
	$(PLUGIN)/redisdriver.so ./plugins/redisdriver
	$(PLUGIN)/counter.so ./plugins/counter
	cp examples/plugins/hello/hello-meta.json $(PLUGINS)/
	cp examples/plugins/fullname_formal/fullname_formal-meta.json $(PLUGINS)/
	cp examples/plugins/notes/meta.json $(PLUGINS)/notes/

## test: every test of every module (core, examples, river, serve, metrics,
## bench's quick tests), under the race detector; it ends with one line per module:
## its passed, failed and skipped tests (CI=true turns a missing
## prerequisite into a failure, see internal/testenv)
SUMMARY := build/test-summary
TESTSUM := build/testsum
MODULES := core examples river serve metrics bench
test:
	@rm -rf $(SUMMARY)
	@st=0; for t in vet $(addprefix test-,$(MODULES)); do \
		$(MAKE) --no-print-directory $$t || st=1; \
	done; \
	echo "== tests per module"; $(TESTSUM) -print -dir $(SUMMARY) $(MODULES); exit $$st

vet:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	cd examples && $(GO) vet ./...
	cd river && $(GO) vet ./...
	cd serve && $(GO) vet ./...
	cd metrics && $(GO) vet ./...
	cd bench && $(GO) vet ./...

$(TESTSUM): internal/cmd/testsum/main.go
	$(GO) build -o $@ ./internal/cmd/testsum

# A loaded 2-core machine can take longer than go test's default 10 minutes
# for a module of real builds and child processes.
TESTFLAGS ?= -race -count=1 -timeout 30m

# Each module's tests as go test -json, summarised by testsum (the output of
# failed tests, the reason of skipped ones, one line of counts).
test-core: $(TESTSUM)
	$(GO) test $(TESTFLAGS) -json ./... 2>&1 | $(TESTSUM) -module core -dir $(SUMMARY)

test-examples: $(TESTSUM)
	cd examples && $(GO) test $(TESTFLAGS) -json ./... 2>&1 | $(CURDIR)/$(TESTSUM) -module examples -dir $(CURDIR)/$(SUMMARY)

## test-river: the River job-queue module (Postgres too when OPA_TEST_POSTGRES_URL is set)
test-river: $(TESTSUM)
	cd river && $(GO) test $(TESTFLAGS) -json ./... 2>&1 | $(CURDIR)/$(TESTSUM) -module river -dir $(CURDIR)/$(SUMMARY)

## test-serve: graceful reloads (real host processes and plugins on loopback)
test-serve: $(TESTSUM)
	cd serve && $(GO) test $(TESTFLAGS) -json ./... 2>&1 | $(CURDIR)/$(TESTSUM) -module serve -dir $(CURDIR)/$(SUMMARY)

## test-metrics: the Prometheus exporter (its own module: the core needs no client_golang)
test-metrics: $(TESTSUM)
	cd metrics && $(GO) test $(TESTFLAGS) -json ./... 2>&1 | $(CURDIR)/$(TESTSUM) -module metrics -dir $(CURDIR)/$(SUMMARY)

## test-bench: bench's own tests (not its benchmarks: see make bench)
test-bench: $(TESTSUM)
	cd bench && $(GO) test $(TESTFLAGS) -json ./... 2>&1 | $(CURDIR)/$(TESTSUM) -module bench -dir $(CURDIR)/$(SUMMARY)

## fuzz: run each fuzz target briefly (FUZZTIME executions each)
# FUZZTIME is a count (Nx), not a duration: Go 1.26's fuzz coordinator can
# fail a target with a bare "context deadline exceeded" as a duration ends,
# with no failing input (golang/go#75804, fixed in Go 1.27). A count has no
# deadline to race.
FUZZTIME ?= 10000x
# FuzzExplain decodes a plugin's line tables on each run (some 40 runs a
# second here), so it gets fewer.
FUZZTIME_SLOW ?= 1000x
fuzz:
	for f in .:FuzzParseMeta .:FuzzLoadConfigEnv .:FuzzLoadConfigFile .:FuzzRedactDSN ./internal/preflight:FuzzCheckELF ./internal/preflight:FuzzReadPackages; do \
		$(GO) test -run '^$$' -fuzz "^$${f#*:}\$$" -fuzztime $(FUZZTIME) "$${f%%:*}" || exit 1; \
	done
	$(GO) test -run '^$$' -fuzz '^FuzzExplain$$' -fuzztime $(FUZZTIME_SLOW) ./internal/preflight

## bench: every benchmark, side by side with its baseline, as one table (see BENCHMARKS.md),
## then serve's reload soak (50 reloads under 20 clients, 0 failed requests)
bench:
	bash bench/run.sh
	cd serve && $(GO) test -run '^$$' -bench 'BenchmarkReloadSoak' -benchtime 1x .

clean:
	rm -rf $(BUILD)
