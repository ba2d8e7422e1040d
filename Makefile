# The two commands: `make run` serves the whole platform on embedded
# defaults; `make test` runs every test with the race detector.
GO        ?= go
BIN       := $(CURDIR)/.bin
PROTOC_GEN_GO      := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_CONNECT := connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.21.1
STATICCHECK        := honnef.co/go/tools/cmd/staticcheck@v0.8.2
HELM               := helm.sh/helm/v4/cmd/helm@v4.3.2

REDOCLY            := @redocly/cli@2.77.0

.PHONY: run test build image generate check-generated vet lint-api bench chaos distributed fuzz tools

run:
	$(GO) run ./cmd/secondopinion

# helm renders the chart in deploy's tests.
test: $(BIN)/helm
	$(GO) test -race -count=1 ./...

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o secondopinion ./cmd/secondopinion

# The container image of deploy/Dockerfile, with whichever builder is here.
IMAGE ?= secondopinion:dev
IMAGE_BUILDER = $(firstword $(foreach b,docker podman buildah,$(if $(shell command -v $(b)),$(b))))
image:
	@test -n "$(IMAGE_BUILDER)" || { echo "make image needs docker, podman or buildah" >&2; exit 1; }
	$(IMAGE_BUILDER) build -f deploy/Dockerfile -t $(IMAGE) \
		--build-arg VERSION=$$(git describe --tags --always --dirty 2>/dev/null || echo dev) \
		--build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) .

$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) $(GO) install $(PROTOC_GEN_GO)
$(BIN)/protoc-gen-connect-go:
	GOBIN=$(BIN) $(GO) install $(PROTOC_GEN_CONNECT)
$(BIN)/staticcheck:
	GOBIN=$(BIN) $(GO) install $(STATICCHECK)
$(BIN)/helm:
	GOBIN=$(BIN) $(GO) install $(HELM)

tools: $(BIN)/protoc-gen-go $(BIN)/protoc-gen-connect-go $(BIN)/staticcheck $(BIN)/helm

$(BIN)/redocly/node_modules/.bin/redocly:
	npm install --silent --no-audit --no-fund --prefix $(BIN)/redocly $(REDOCLY)

# Generated files are committed: the Connect code under api/gen (protoc from
# Debian: protobuf-compiler, libprotobuf-dev for the well-known types), and
# the published documents api/openapi.json and api/asyncapi.json, built from
# the services' own registrations and api/events, and the distributed
# topology the deployment artefacts are rendered from — so a route, an
# event or a peer that changes shows in review.
generate: $(BIN)/protoc-gen-go $(BIN)/protoc-gen-connect-go
	PATH=$(BIN):$$PATH protoc -I api/proto \
		--go_out=api/gen --go_opt=paths=source_relative \
		--connect-go_out=api/gen --connect-go_opt=paths=source_relative \
		$$(find api/proto -name '*.proto')
	$(GO) run ./cmd/secondopinion openapi > api/openapi.json
	$(GO) run ./cmd/secondopinion asyncapi > api/asyncapi.json
	$(GO) run ./cmd/secondopinion topology > deploy/helm/secondopinion/topology.json

GENERATED := api/gen api/openapi.json api/asyncapi.json deploy/helm/secondopinion/topology.json

check-generated: generate
	@git diff --exit-code -- $(GENERATED) || (echo "generated files are stale: run make generate and commit" >&2; exit 1)
	@test -z "$$(git status --porcelain -- $(GENERATED))" || (echo "make generate created files that are not committed" >&2; exit 1)

# The published documents must lint clean: client generators rely on them.
lint-api: $(BIN)/redocly/node_modules/.bin/redocly
	$(BIN)/redocly/node_modules/.bin/redocly lint --config redocly.yaml api/openapi.json api/asyncapi.json

vet: $(BIN)/staticcheck
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

bench:
	bash bench/run.sh

# The long variants of what make test runs short (docs/operations.md):
# chaos kills the platform three times under load and stops the bus for
# 30 s; fuzz sends every seed variant as every caller, then explores.
FUZZTIME ?= 10m
chaos:
	CHAOS_LONG=1 $(GO) test -count=1 -v -timeout 30m ./test/chaos

# Every workload of the topology in its own process (test/distributed), on
# NATS and on Kafka: the long variant also kills each workload in turn.
distributed:
	DISTRIBUTED_LONG=1 $(GO) test -race -count=1 -v -timeout 30m ./test/distributed

fuzz:
	FUZZ_EXHAUSTIVE=1 $(GO) test -count=1 -timeout 60m ./test/fuzz
	$(GO) test -run '^$$' -fuzz FuzzAPI -fuzztime $(FUZZTIME) ./test/fuzz
