# ebyd: `make demo` runs the EBYD pipeline, `make test` runs the tests.
# Both install what they need first (Debian: OpenBLAS, oneDNN and a C
# compiler for the cgo build; nothing when CGO_ENABLED=0, which is pure Go).

GO      ?= go
BIN     := bin/ebyd
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo)
CGO     := $(shell $(GO) env CGO_ENABLED)

.PHONY: all deps build demo test test-purego test-long vet fmt-check check bench clean help

all: build

help:
	@echo "make demo         install deps, build, run the EBYD chain (ebyd pipeline) on MNIST"
	@echo "make test         install deps, run go test ./..."
	@echo "make test-purego  build with CGO_ENABLED=0; test the packages that differ without cgo"
	@echo "make test-long    run the long accuracy tests too (build tag long)"
	@echo "make check        test, pure-Go test, vet and gofmt: what CI runs"
	@echo "make bench        engine benchmarks (compare with bench/torch_reference.py)"
	@echo "make build        build $(BIN)"

# deps installs OpenBLAS (matrix products), oneDNN (convolutions) and a C
# toolchain through apt when missing. With CGO_ENABLED=0 nothing is needed.
deps:
ifeq ($(CGO),1)
	@if ! command -v dpkg >/dev/null; then \
		echo "not Debian: make sure OpenBLAS, oneDNN and a C compiler are installed, or use CGO_ENABLED=0"; exit 0; \
	fi; \
	missing=""; \
	for p in gcc libc6-dev libopenblas-dev libdnnl-dev; do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
endif

build: deps
	$(GO) build -o $(BIN) ./cmd/ebyd

demo: build
	@mkdir -p runs
	./$(BIN) pipeline

test: deps
	$(GO) test ./...

# PUREGO_PKGS are the packages whose code or numbers differ without cgo:
# the ones with cgo and pure-Go variants (internal/blas, internal/dnnl,
# internal/vec), the engine that calls them (tensor's im2col, autograd,
# optim), and the packages whose tests check the numbers of the two routes
# (autograd: oneDNN against im2col, gradient checks; nn: layers and gate
# folding; models: parity with PyTorch). The rest of the suite runs the same
# code either way and is covered by make test; test-purego only builds it.
PUREGO_PKGS := ./internal/blas ./internal/dnnl ./internal/vec ./tensor \
	./autograd ./optim ./nn ./models

test-purego:
	CGO_ENABLED=0 $(GO) build ./...
	CGO_ENABLED=0 $(GO) test $(PUREGO_PKGS)

test-long: deps
	$(GO) test -tags long -timeout 2h ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

check: test test-purego vet fmt-check

bench: build
	./$(BIN) bench engine --model mnistnet --batch 128 --steps 5
	./$(BIN) bench engine --model resnet18 --batch 32 --steps 3
	./$(BIN) bench engine --model preactresnet18 --batch 32 --steps 3

clean:
	rm -rf bin
