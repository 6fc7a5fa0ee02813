# The commands a new user needs: `make run` and `make test`.
GO        ?= go
BUILD     := examples/build
PLUGINS   := $(BUILD)/plugins
ADDR      ?= 127.0.0.1:8080

.PHONY: run dev examples test test-core test-examples test-river test-serve vet fuzz bench clean

## run: build the example plugins, host and worker with one toolchain and flags, then start a worker and the host
run: examples
	OPA_PLUGIN_PATHS=$(CURDIR)/$(PLUGINS) ADDR=$(ADDR) exec sh examples/run.sh

## dev: make run, plus save-and-see: a change under examples/plugins/NAME
## rebuilds that plugin with opa build (the host's exact settings) and
## reloads the host and the worker; one line per reload
dev: examples
	$(GO) build -o $(BUILD)/opa ./cmd/opa
	cd examples && $(GO) build -o build/dev ./dev
	cd examples && OPA_PLUGIN_PATHS=$(CURDIR)/$(PLUGINS) ADDR=$(ADDR) exec build/dev -build build

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

## test: every test of the library and the examples, under the race detector
test: vet test-core test-examples test-river test-serve

vet:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	cd examples && $(GO) vet ./...
	cd river && $(GO) vet ./...
	cd serve && $(GO) vet ./...

# A loaded 2-core machine can take longer than go test's default 10 minutes
# for a module of real builds and child processes.
TESTFLAGS ?= -race -count=1 -timeout 30m

test-core:
	$(GO) test $(TESTFLAGS) ./...

test-examples:
	cd examples && $(GO) test $(TESTFLAGS) ./...

## test-river: the River job-queue module (Postgres too when OPA_TEST_POSTGRES_URL is set)
test-river:
	cd river && $(GO) test $(TESTFLAGS) ./...

## test-serve: graceful reloads (real host processes and plugins on loopback)
test-serve:
	cd serve && $(GO) test $(TESTFLAGS) ./...

## fuzz: run each fuzz target briefly (FUZZTIME each)
FUZZTIME ?= 10s
fuzz:
	for f in .:FuzzParseMeta .:FuzzLoadConfigEnv .:FuzzLoadConfigFile ./internal/preflight:FuzzCheckELF; do \
		$(GO) test -run '^$$' -fuzz "^$${f#*:}\$$" -fuzztime $(FUZZTIME) "$${f%%:*}" || exit 1; \
	done

## bench: every benchmark, side by side with its baseline, as one table (see BENCHMARKS.md)
bench:
	bash bench/run.sh

clean:
	rm -rf $(BUILD)
