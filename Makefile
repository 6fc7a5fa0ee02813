# The commands a new user needs: `make run` and `make test`.
GO        ?= go
BUILD     := examples/build
PLUGINS   := $(BUILD)/plugins
ADDR      ?= 127.0.0.1:8080

.PHONY: run examples test test-core test-examples vet fuzz bench clean

## run: build the example plugins and host with one toolchain and flags, then start the host
run: examples
	OPA_SETTINGS_DIR=$(CURDIR)/examples/settings \
	OPA_PLUGIN_PATHS=$(CURDIR)/$(PLUGINS) \
	ADDR=$(ADDR) $(BUILD)/host

## examples: build the example host and plugins into examples/build
examples:
	@mkdir -p $(PLUGINS)/greeter
	cd examples && $(GO) build -o build/host ./host
	cd examples && $(GO) build -buildmode=plugin -o build/plugins/hello.so ./plugins/hello
	cp examples/plugins/hello/hello-meta.json $(PLUGINS)/hello-meta.json
	cd examples && $(GO) build -buildmode=plugin -o build/plugins/greeter/plugin.so ./plugins/greeter
	cd examples && $(GO) build -buildmode=plugin -o build/plugins/fullname.so ./plugins/fullname

## test: every test of the library and the examples, under the race detector
test: vet test-core test-examples

vet:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	cd examples && $(GO) vet ./...

test-core:
	$(GO) test -race -count=1 ./...

test-examples:
	cd examples && $(GO) test -race -count=1 ./...

## fuzz: run each fuzz target briefly (FUZZTIME each)
FUZZTIME ?= 10s
fuzz:
	for f in FuzzParseMeta FuzzLoadConfigEnv FuzzLoadConfigFile FuzzCheckELF; do \
		$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) . || exit 1; \
	done

clean:
	rm -rf $(BUILD)
