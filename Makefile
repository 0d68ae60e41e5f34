# atomblk — the one entry point: deps, build, test, demo, bench, lint.
# `make demo` runs the main job, `make test` runs every suite; both pull in
# what they need (packages, kernels, builds) on a fresh Debian 12 machine.

SHELL := /bin/bash
VERSION := $(shell cat VERSION)
BUILD ?= build
KERNELS ?= 6.1 6.12
export ATOMBLK_VERSION := $(VERSION)

.PHONY: all deps agent agent-asan kmod kmod-all test bench demo vm-shell lint clean \
	test-unit test-unit-asan test-grpc test-grpc-asan test-proto test-helm test-image test-lint \
	$(addprefix test-vm-,$(KERNELS))

all: agent

# Packages only; idempotent. Every other target calls it (a no-op once done).
deps:
	@scripts/deps

# --- agent (atomblk-agent, atomctl) and its tests -----------------------------
agent: deps
	$(MAKE) -f agent/agent.mk O=$(BUILD)

agent-asan: deps
	$(MAKE) -f agent/agent.mk O=$(BUILD)/asan SANITIZE=1

# --- kernel modules -------------------------------------------------------------
# `make kmod KDIR=/lib/modules/X/build` builds atom.ko + atom_client.ko for one
# kernel into $(BUILD)/kmod/<kernel release>/ (the release vermagic carries:
# Debian's include/config/kernel.release says 6.1.192, not 6.1.0-56-amd64); without KDIR, for every Debian 12
# kernel in $(KERNELS) (headers unpacked by scripts/kernel-cache), test
# variants included.
ifdef KDIR
kmod: deps
	$(MAKE) -C atom-kmod KDIR=$(KDIR) O=$(abspath $(BUILD))/kmod/$$(sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h) modules
else
kmod: kmod-all
endif

kmod-all: deps
	@set -e; for s in $(KERNELS); do \
		kdir=$$(scripts/kernel-cache kdir $$s); kver=$$(scripts/kernel-cache kver $$s); \
		$(MAKE) -C atom-kmod KDIR=$$kdir O=$(abspath $(BUILD))/kmod/$$kver all-variants; \
	done
	$(MAKE) -C atom-kmod O=$(abspath $(BUILD)) tool

# --- tests ----------------------------------------------------------------------
# Each suite records PASS/FAIL lines under $(BUILD)/test-results/; `make test`
# runs them all, keeps going past failures, and ends with one line
# "N passed, N failed" for all suites together.
test: deps
	@tests/run-all $(KERNELS)

test-unit: agent
	@tests/unit/run $(BUILD)
test-unit-asan: agent-asan
	@tests/unit/run $(BUILD)/asan
test-grpc: agent
	@tests/grpc/run $(BUILD)
test-grpc-asan: agent-asan
	@tests/grpc/run $(BUILD)/asan
test-proto: agent
	@tests/proto/run $(BUILD)
test-helm: deps
	@tests/helm/run
test-image: agent kmod-all
	@tests/image/run $(BUILD)
$(addprefix test-vm-,$(KERNELS)): test-vm-%: agent kmod-all
	@tests/vm/suite $*

bench: agent kmod-all
	@tests/bench/run

# --- the main job and the node VM -------------------------------------------------
demo: agent kmod-all
	@tests/demo/run

vm-shell: agent kmod-all
	@tests/vm/run --kernel $(firstword $(KERNELS))

lint: test-lint
test-lint: deps
	@tests/lint/run

clean:
	rm -rf $(BUILD)
	$(MAKE) -C atom-kmod clean
