# Anexo — see README.md. `make run` and `make test` are the two commands that matter.
GO        ?= go
ADDR      ?= 127.0.0.1:8080
FUNCTIONS := $(notdir $(wildcard functions/*))
GOFLAGS_LAMBDA := -tags lambda.norpc -trimpath -ldflags "-s -w"

.PHONY: run test test-short vet build clean deploy synth diff invoke

## run: the whole API on localhost with embedded DynamoDB and S3; prints a dev token
run:
	$(GO) run ./cmd/anexo-local -addr $(ADDR)

## test: every test (unit, adapter conformance on embedded emulators and moto_server, HTTP end to end), with -race
test: vet
	$(GO) test -race -count=1 -timeout 20m ./...

test-short:
	$(GO) test -count=1 ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

## build: one linux/arm64 bootstrap per Lambda under bin/<function>/bootstrap
build: $(FUNCTIONS:%=bin/%/bootstrap)

bin/%/bootstrap: FORCE
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(GOFLAGS_LAMBDA) -o $@ ./functions/$*

FORCE:

clean:
	rm -rf bin cdk.out

## deploy / synth / diff / invoke: the CDK stack (infra/) — tracked in issue 3, not built yet
deploy synth diff invoke:
	@echo "make $@: the CDK stack (infra/, cdk.json) is not built yet; see issue 3" >&2; exit 1
