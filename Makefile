# The two commands: `make run` serves the whole platform on embedded
# defaults; `make test` runs every test with the race detector.
GO        ?= go
BIN       := $(CURDIR)/.bin
PROTOC_GEN_GO      := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_CONNECT := connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.21.1
STATICCHECK        := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run test build generate check-generated vet bench tools

run:
	$(GO) run ./cmd/secondopinion

test:
	$(GO) test -race -count=1 ./...

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o secondopinion ./cmd/secondopinion

$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) $(GO) install $(PROTOC_GEN_GO)
$(BIN)/protoc-gen-connect-go:
	GOBIN=$(BIN) $(GO) install $(PROTOC_GEN_CONNECT)
$(BIN)/staticcheck:
	GOBIN=$(BIN) $(GO) install $(STATICCHECK)

tools: $(BIN)/protoc-gen-go $(BIN)/protoc-gen-connect-go $(BIN)/staticcheck

# Generated code is committed; protoc comes from Debian (protobuf-compiler,
# libprotobuf-dev for the well-known types).
generate: $(BIN)/protoc-gen-go $(BIN)/protoc-gen-connect-go
	PATH=$(BIN):$$PATH protoc -I api/proto \
		--go_out=api/gen --go_opt=paths=source_relative \
		--connect-go_out=api/gen --connect-go_opt=paths=source_relative \
		$$(find api/proto -name '*.proto')

check-generated: generate
	@git diff --exit-code -- api/gen || (echo "generated code in api/gen is stale: run make generate and commit" >&2; exit 1)
	@test -z "$$(git status --porcelain -- api/gen)" || (echo "make generate created files in api/gen that are not committed" >&2; exit 1)

vet: $(BIN)/staticcheck
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

bench:
	bash bench/run.sh
