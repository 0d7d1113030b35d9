# Tailor's build, checks and demo. `make help` lists the targets.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

BIN := $(CURDIR)/bin
export TAILOR_BIN_DIR := $(BIN)
GO ?= go
GOTEST_FLAGS ?= -count=1
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/tailor-sh/tailor/internal/version.Version=$(VERSION) -X github.com/tailor-sh/tailor/internal/version.Commit=$(COMMIT)

##@ Everyday

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_.-]+:.*##/ { printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/tailor and bin/ec2sim.
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/tailor ./cmd/tailor
	@if [ -d cmd/ec2sim ]; then $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ec2sim ./cmd/ec2sim; fi

.PHONY: demo
demo: tools build ## Run the reference scenario on a local control plane, offline, building what it needs.
	$(GO) run ./hack/demo

.PHONY: cluster
cluster: tools ## Start the local control plane with Tailor's CRDs and keep it running until Ctrl-C.
	$(GO) run ./hack/local-cluster --kubeconfig-out $(CURDIR)/kubeconfig

##@ Checks

.PHONY: test
test: verify unit e2e chaos-short check-leaks ## Everything CI runs: verify, unit tests, end-to-end tests, the short chaos run, then no process left behind.

.PHONY: unit
unit: tools ## Unit and controller tests (everything but test/e2e and test/chaos).
	$(GO) test $(GOTEST_FLAGS) $$($(GO) list ./... | grep -v -e /test/e2e -e /test/chaos)

.PHONY: e2e
e2e: tools ## End-to-end tests against the real control plane + KWOK.
	$(GO) test $(GOTEST_FLAGS) -timeout 30m -v ./test/e2e/...

.PHONY: chaos-short
chaos-short: tools ## The short chaos run of `make test`: 10 controller kills, 3 kills mid-replace, one disruption round (consolidation, drift, expiry, a kill at each), one leader failover, every cloud fault once, the cheap mutations.
	$(GO) test $(GOTEST_FLAGS) -timeout 20m -v ./test/chaos/...

.PHONY: chaos
chaos: tools ## The long chaos run: 100 kills, 15 kills mid-replace, 3 disruption rounds, 3 failovers, the 15-minute liveness wait, the issue's 20 s failover target, every mutation; writes docs/reliability.md.
	$(GO) test $(GOTEST_FLAGS) -timeout 90m -v ./test/chaos/... -args -chaos.cycles=100 -chaos.failovers=3 -chaos.liveness \
	  -chaos.replace-kills=15 -chaos.disrupt-rounds=3 -chaos.mutate=all -chaos.failover-budget=20s -chaos.report=$(CURDIR)/docs/reliability.md

.PHONY: scale
scale: tools ## Measure the controller at growing sizes (up to 5,000 nodes / 50,000 pods; 27 minutes of steps, 30 with the build) on the local control plane + KWOK + ec2sim; writes docs/performance.md's "Controller at scale" and docs/scale.svg.
	$(GO) run ./hack/scale -budget=$(SCALE_BUDGET) -sizes=$(SCALE_SIZES) $(SCALE_ARGS)

SCALE_BUDGET ?= 27m
SCALE_SIZES ?= 500/5000,1000/10000,2000/20000,3000/30000,5000/50000

.PHONY: check-leaks
check-leaks: ## Fail if any control plane process started from ./bin is still running.
	@hack/check-leaks.sh $(BIN)

.PHONY: verify
verify: generate tidy lint ## Generate, tidy and lint, then fail if anything changed or is untracked.
	@git diff --exit-code || { echo "generated or tidied files differ from the commit: run 'make generate tidy' and commit"; exit 1; }
	@untracked=$$(git status --porcelain --untracked-files=all | grep '^??' || true); \
	  if [ -n "$$untracked" ]; then echo "untracked files:"; echo "$$untracked"; exit 1; fi

.PHONY: lint
lint: tools ## Run golangci-lint (config: .golangci.yml).
	$(BIN)/golangci-lint run ./...

.PHONY: generate
generate: tools ## Regenerate deepcopy code and CRDs from api/ (also copied into the Helm chart).
	$(BIN)/controller-gen object paths=./api/...
	$(BIN)/controller-gen crd paths=./api/... output:crd:dir=config/crd
	rm -f charts/tailor/crds/*.yaml && cp config/crd/*.yaml charts/tailor/crds/

.PHONY: tidy
tidy: ## go mod tidy for the module and hack/tools.
	$(GO) mod tidy
	cd hack/tools && $(GO) mod tidy

##@ Tools

.PHONY: tools
tools: ## Build the pinned tools into ./bin (control plane, KWOK, controller-gen, golangci-lint, helm); skips what is built.
	@hack/tools/build.sh

.PHONY: clean
clean: ## Remove built binaries of Tailor (keeps the tools).
	rm -f $(BIN)/tailor $(BIN)/ec2sim
