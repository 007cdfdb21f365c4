# Anexo — see README.md. `make run` and `make test` are the two commands that matter.
GO        ?= go
ADDR      ?= 127.0.0.1:8080
# Pictures in AVIF and HEIC decode in WebAssembly, as on Lambda, even where
# the machine has libavif or libheif (their Go packages would load them)
export GOFLAGS := -tags=nodynamic $(GOFLAGS)

.PHONY: run console test test-short check deadcode vet build clean deploy synth diff destroy invoke fuzz bench load js-types openapi-lint bus-schema

## run: the whole API on localhost with embedded DynamoDB, S3, SQS and EventBridge, the files
## console at its root; prints a dev token and the console's link
run: console
	$(GO) run ./cmd/anexo-local -addr $(ADDR)

RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
RIE := $(shell $(GO) env GOPATH)/bin/aws-lambda-rie

## test: every test (unit, adapter conformance on embedded emulators and moto_server, HTTP end to end,
## CDK assertions + cfn-lint, bootstraps under aws-lambda-rie), with -race
BROWSERTEST := shared/platform/devserver/web/browsertest
JSCLIENT    := clients/js
CONSOLE     := clients/console

# Every test process that runs functions enforces their IAM policies and
# leaves the grants their code used in IAM_USAGE; after the suite,
# TestPoliciesMatchTheCode fails on any grant no call used.
IAM_USAGE ?= $(CURDIR)/.cache/iam-usage

# The tests the race detector costs per byte or per pixel (18x on the
# end-to-end tests that move tens of MiB, 7x on the preview renders; their
# code paths run under -race in smaller tests): the -race pass skips them,
# a second pass runs them without it (shared/testing/norace).
NORACE := TestKommoPartCrashSafety|TestKommoFilesAPI|TestKommoAnyPartSizes|TestUploadSizes|TestWholeFileChecksum|TestOnePassChecksum|TestCompleteCrashSafety|TestRendersEveryFormat|TestRendersHEICAndAVIF|TestRefusesBombsAndJunk
NORACE_PKGS := ./shared/testing/e2e ./shared/adapters/render

# A race-built test binary sleeps 1 s at exit by default (for reports from
# goroutines still running): a second per package, for tests that wait for
# theirs
GORACE ?= atexit_sleep_ms=100
export GORACE

test: openapi-lint vet deadcode $(RIE) $(BROWSERTEST)/node_modules console
	rm -rf $(IAM_USAGE) && mkdir -p $(IAM_USAGE)
	ANEXO_JS_BUILT=1 ANEXO_IAM_USAGE=$(IAM_USAGE) JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 $(GO) test -race -count=1 -p 3 -timeout 30m ./...
	ANEXO_IAM_USAGE=$(IAM_USAGE) $(GO) test -count=1 -timeout 10m -run '^($(NORACE))$$' $(NORACE_PKGS)
	ANEXO_IAM_USAGE=$(IAM_USAGE) ANEXO_IAM_COVERAGE=1 $(GO) test -count=1 -run '^TestPoliciesMatchTheCode$$' ./shared/platform/iam
	$(MAKE) fuzz FUZZTIME=20000x

# Benchmarks (moto_server and aws-lambda-rie required): per operation AWS
# requests, DynamoDB request units (estimated as AWS bills them), bytes
# through Lambda, handler latency percentiles; cold starts and binary sizes
# of every bootstrap; CLI vs plain sequential upload throughput; the cost
# of a catalogue page as an account grows (LIST_COST_SIZES, default
# 1000,10000,100000: seeding 100,000 files into moto takes minutes); the
# console on a large account (CONSOLE_FILES, default 3,000) in Chromium.
BENCHTIME ?= 30x
LIST_COST_SIZES ?= 1000,10000,100000
bench: $(RIE) $(JSCLIENT)/node_modules console
	$(GO) test ./shared/testing/e2e ./functions -run '^$$' -bench . -skip 'Throughput|UploadIntegrity' -benchtime $(BENCHTIME) -timeout 30m
	$(GO) test ./clients/js -run '^$$' -bench NodeVsCLI -benchtime 3x -timeout 10m
	$(GO) test ./clients/console -run '^$$' -bench ConsoleLargeAccount -benchtime 1x -timeout 60m
	$(GO) test ./shared/testing/e2e -run '^$$' -bench Throughput -benchtime 3x -timeout 30m
	$(GO) test ./shared/testing/e2e -run '^$$' -bench UploadIntegrity -benchtime 8x -timeout 30m
	LIST_COST_SIZES=$(LIST_COST_SIZES) $(GO) test ./shared/adapters/dynamo -run '^$$' -bench ListCost -benchtime 10x -timeout 60m

# Load: mixed concurrent operations against a running Anexo (make run in
# another terminal, or a stage): ANEXO_URL and ANEXO_TOKEN, LOAD_ARGS for
# -ops, -c, -size, -seed. Exits 1 on any failed request or usage mismatch.
load:
	$(GO) run ./cmd/anexo-load $(LOAD_ARGS)

# Fuzz targets: query and cursor parsing, the multipart batch parser, strict
# JSON bodies. `make test` runs each briefly, by execution count: a duration
# -fuzztime can fail spuriously with "context deadline exceeded" when the
# deadline races busy workers (go.dev/issue/75804, fixed in Go 1.27).
# Run longer with FUZZTIME=10m or FUZZTIME=5000000x.
FUZZTIME ?= 1m
FUZZ := shared/domain/catalog:FuzzParseQuery shared/domain/catalog:FuzzDecodeCursor shared/inbound/httpapi:FuzzParse shared/inbound/httpapi:FuzzDecodeJSON shared/adapters/render:FuzzRender
fuzz:
	@set -e; for t in $(FUZZ); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$fn ($$pkg, $(FUZZTIME))"; \
	  $(GO) test ./$$pkg -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZTIME); done

# playwright-core for the upload page's headless-Chromium test (the browser
# is Debian's chromium; Playwright's own download is not used)
$(BROWSERTEST)/node_modules: $(BROWSERTEST)/package-lock.json
	cd $(BROWSERTEST) && npm ci --no-audit --no-fund
	@touch $@

# the TypeScript client's build and test tools (typescript, openapi-typescript)
# and its one dependency (openapi-fetch); its tests run under go test
# (clients/js/js_test.go: Node's test runner against a local server)
$(JSCLIENT)/node_modules: $(JSCLIENT)/package-lock.json
	cd $(JSCLIENT) && npm ci --no-audit --no-fund
	@touch $@

# the client's build (dist/), which the console bundles; make test builds it
# before the tests, which then leave it alone (ANEXO_JS_BUILT)
$(JSCLIENT)/dist/browser.js: $(JSCLIENT)/node_modules $(JSCLIENT)/tsconfig.json $(wildcard $(JSCLIENT)/src/*.ts)
	cd $(JSCLIENT) && npm run build

# the files console's toolchain (esbuild, TypeScript, Preact; playwright-core
# and axe-core for its browser test)
$(CONSOLE)/node_modules: $(CONSOLE)/package-lock.json $(JSCLIENT)/node_modules
	cd $(CONSOLE) && npm ci --no-audit --no-fund
	@touch $@

## console: build the files console into clients/console/dist (make run serves it at /)
console: $(CONSOLE)/node_modules $(JSCLIENT)/dist/browser.js
	cd $(CONSOLE) && npm run build

# Redocly CLI (pinned in shared/inbound/openapi/lint) lints the OpenAPI document
# with its recommended rules, every warning an error
OPENAPI_LINT := shared/inbound/openapi/lint
$(OPENAPI_LINT)/node_modules: $(OPENAPI_LINT)/package-lock.json
	cd $(OPENAPI_LINT) && npm ci --no-audit --no-fund
	@touch $@

## openapi-lint: Redocly's recommended rules on the OpenAPI document, 0 errors and 0 warnings
openapi-lint: $(OPENAPI_LINT)/node_modules
	cd $(OPENAPI_LINT) && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true npx --no-install redocly lint ../openapi.yaml --config redocly.yaml

## js-types: regenerate the TypeScript client's types from the OpenAPI document
## (TestTypesMatchTheDocument fails while they differ)
js-types: $(JSCLIENT)/node_modules
	cd $(JSCLIENT) && npm run types

## bus-schema: rewrite events/bus/event.schema.json from the OpenAPI document
## (TestBusEventSchemaFile fails while they differ)
bus-schema:
	ANEXO_UPDATE=1 $(GO) test -count=1 -run '^TestBusEventSchemaFile$$' ./shared/inbound/openapi

$(RIE):
	$(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

## check: the everyday loop (about a minute with warm caches): vet, gofmt, and every test that
## needs no emulator, CDK synthesis or built binary (go test -short)
check: vet test-short

test-short:
	$(GO) test -short -count=1 ./...

## deadcode: no function is unreachable from a main or a test (golang.org/x/tools' deadcode)
## Its verdict depends on the Go sources alone: a pass is remembered under
## .cache/deadcode by their hash (with go.mod, go.sum, the flags and the Go
## version), so the analysis (about 50 s) runs again only when one changes.
DEADCODE_VERSION := v0.52.0
deadcode:
	@key="$$( { $(GO) version; echo "$(DEADCODE_VERSION) $$GOFLAGS"; cat go.mod go.sum; \
	  find . -name '*.go' -not -path '*/node_modules/*' -not -path './.cache/*' -not -path './cdk.out/*' | LC_ALL=C sort | xargs sha256sum; } | sha256sum | cut -c1-32)"; \
	  if [ -f .cache/deadcode/$$key ]; then echo "deadcode: no unreachable code (sources unchanged since it last passed)"; exit 0; fi; \
	  out="$$($(GO) run golang.org/x/tools/cmd/deadcode@$(DEADCODE_VERSION) -test ./...)" || exit 1; \
	  if [ -n "$$out" ]; then echo "unreachable code:"; echo "$$out"; exit 1; fi; \
	  rm -rf .cache/deadcode && mkdir -p .cache/deadcode && touch .cache/deadcode/$$key

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

## build: one linux/arm64 bootstrap per Lambda under bin/<function>/bootstrap, as the CDK app
## builds them before it synthesizes (infra/lambdabuild: the flags, reproducible, cached)
build:
	$(GO) run ./infra/build -dir bin

clean:
	rm -rf bin cdk.out .cache

## synth / diff / deploy / destroy: thin wrappers of the pinned CDK CLI (npm aws-cdk); the CDK
## app (cdk.json) builds the functions itself, so plain `npx aws-cdk@<version> deploy` is the same
CDK ?= npx --yes aws-cdk@2.1148.1
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

synth:
	$(CDK) synth --quiet $(CDK_ARGS)
	@echo "template: cdk.out/Anexo.template.json"

diff:
	$(CDK) diff $(CDK_ARGS)

deploy:
	$(CDK) deploy $(CDK_ARGS)

destroy:
	$(CDK) destroy $(CDK_ARGS)

## invoke: run one function under aws-lambda-rie with a sample event: make invoke FN=sessions-open EVENT=events/sessions-open/open.json
invoke:
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<function> EVENT=<events/...json>" >&2; exit 2; }
	scripts/invoke.sh $(FN) $(EVENT)
