# Builds the agent, atomctl and their test programs into $(O).
#   make -f agent/agent.mk O=build [SANITIZE=1]
# Called by the top-level Makefile; generated code lives in $(O)/gen only.

O ?= build
VERSION ?= $(shell cat VERSION)
GEN := $(O)/gen
OBJ := $(O)/obj
BIN := $(O)/bin
TBIN := $(O)/tests

CC := gcc
PKGS := grpc libprotobuf-c jansson mount blkid
CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -Werror=implicit-function-declaration \
	-D_GNU_SOURCE -DATOMBLK_VERSION='"$(VERSION)"' \
	-Iagent -Iatom-kmod/include -I$(GEN) $(shell pkg-config --cflags $(PKGS))
LDLIBS := -lgrpc -lgpr -lprotobuf-c -ljansson -lmount -lblkid -lpthread -lnvme -lcrypto
ifeq ($(SANITIZE),1)
CFLAGS += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# Protocol buffers: our protos, and the well-known types they import
# (libprotobuf-c ships no code for those).
PROTOS := $(wildcard proto/*.proto)
WKT := google/protobuf/descriptor.proto google/protobuf/timestamp.proto google/protobuf/wrappers.proto
PB_SRCS := $(patsubst proto/%.proto,$(GEN)/%.pb-c.c,$(PROTOS)) $(patsubst %.proto,$(GEN)/%.pb-c.c,$(WKT))
PB_OBJS := $(patsubst $(GEN)/%.c,$(OBJ)/gen/%.o,$(PB_SRCS))

LIB_SRCS := $(wildcard agent/lib/*.c agent/csi/*.c agent/storage/*.c)
LIB_OBJS := $(patsubst agent/%.c,$(OBJ)/%.o,$(LIB_SRCS))
LIB := $(O)/libatomblk.a

CMDS := $(patsubst agent/cmd/%.c,%,$(wildcard agent/cmd/*.c))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(TBIN)/unit/%,$(wildcard tests/unit/test_*.c))
GRPC_TESTS := $(patsubst tests/grpc/%.c,$(TBIN)/grpc/%,$(wildcard tests/grpc/test_*.c))
BENCHES := $(patsubst tests/bench/%.c,$(TBIN)/bench/%,$(wildcard tests/bench/*.c))
TEST_LIB_SRCS := $(wildcard tests/lib/*.c)
TEST_LIB_OBJS := $(patsubst tests/%.c,$(OBJ)/tests/%.o,$(TEST_LIB_SRCS))

.PHONY: all
all: $(addprefix $(BIN)/,$(CMDS)) $(UNIT_TESTS) $(GRPC_TESTS) $(BENCHES)

$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: proto/%.proto
	@mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) -Iproto -I/usr/include $(notdir $<)

$(GEN)/google/protobuf/%.pb-c.c $(GEN)/google/protobuf/%.pb-c.h: /usr/include/google/protobuf/%.proto
	@mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) -I/usr/include google/protobuf/$(notdir $<)

$(OBJ)/gen/%.o: $(GEN)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -w -c -o $@ $<

# Every agent object may include any generated header.
$(LIB_OBJS) $(TEST_LIB_OBJS): | $(PB_SRCS)

$(OBJ)/%.o: agent/%.c | $(PB_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(OBJ)/tests/%.o: tests/%.c | $(PB_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJS) $(PB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/%: $(OBJ)/cmd/%.o $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# atomblk-agent links grpc, abseil, OpenSSL, protobuf-c and libstdc++
# statically (libc stays shared). Measured with tests/bench/agent.sh on this
# 2-core machine: 9.2 MB resident idle instead of 13.1 MB, 9.4 MB instead of
# 13.3 MB after 10k calls, 2.5 ms exec-to-serving instead of 9.6 ms (no 56
# shared objects to load). The rest of $(LDLIBS) stays shared, linked only if
# used (--as-needed). Sanitizer builds keep the shared libraries.
# A grpc or OpenSSL security update needs a rebuild of the agent.
# --gc-sections drops the unreferenced sections of the static libraries
# (480 kB of text; about 0.4 MB less resident at start, tests/bench/agent.sh).
# libnvme (NVMe-oF legs, lib/nvmeconn) is linked statically too: shared, it
# would load its own libcrypto.so next to our static OpenSSL (+1.45 MB
# resident); static, it uses ours, and its json-c part is left out (see
# lib/nvmeconn.c). The shared -lnvme in $(LDLIBS) is then dropped (--as-needed).
AGENT_STATIC_LIBS := -lnvme $(filter-out -ldl -lrt -pthread -latomic,$(shell pkg-config --static --libs grpc libprotobuf-c)) -lstdc++
# atomctl is linked the same way, so that it runs on a node (and in the test
# VM) with only the agent's few shared libraries.
ifneq ($(SANITIZE),1)
$(BIN)/atomblk-agent $(BIN)/atomctl: $(BIN)/%: $(OBJ)/cmd/%.o $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -static-libgcc -Wl,--gc-sections -o $@ $^ -Wl,-Bstatic $(AGENT_STATIC_LIBS) \
		-Wl,-Bdynamic -Wl,--as-needed $(filter-out -lgrpc -lgpr -lprotobuf-c,$(LDLIBS)) -lm \
		-latomic -ldl
endif

# Test programs: cmocka, linked against the library archive (only the objects
# a test references are pulled in). A test's extra link flags (for example
# -Wl,--wrap=fn mocks) go in a `// LDFLAGS: ...` line in its source.
$(TBIN)/%: $(OBJ)/tests/%.o $(TEST_LIB_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $$(sed -n 's|^// LDFLAGS: ||p' tests/$*.c) -o $@ $^ $(LDLIBS) -lcmocka

# tests/tools/targettool: drives agent/lib/pool + nvmet in the VM (case 80-nvmet-export).
ifneq ($(SANITIZE),1)
all: $(BIN)/targettool
$(BIN)/targettool: $(OBJ)/tests/tools/targettool.o $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ -Wl,--as-needed $(LDLIBS)
endif

# tests/conformance/csi-conformance: the CSI conformance suite (VM case
# 92-conformance). It talks CSI only: from the library it pulls rpc_client,
# pbjson and the generated CSI code, nothing of the services. In $(BIN) so
# the VM carries it; grpc linked statically as for atomctl.
ifneq ($(SANITIZE),1)
all: $(BIN)/csi-conformance
$(BIN)/csi-conformance: $(OBJ)/tests/conformance/csi-conformance.o $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -static-libgcc -Wl,--gc-sections -o $@ $^ -Wl,-Bstatic $(AGENT_STATIC_LIBS) \
		-Wl,-Bdynamic -Wl,--as-needed $(filter-out -lgrpc -lgpr -lprotobuf-c,$(LDLIBS)) -lm \
		-latomic -ldl
endif

# CSI wire check (tests/unit/test_csi_wire.c reads this descriptor set).
all: $(O)/proto/csi.desc
$(O)/proto/csi.desc: proto/csi.proto
	@mkdir -p $(dir $@)
	protoc --include_imports --descriptor_set_out=$@ -Iproto -I/usr/include csi.proto

# Keep test objects: make would delete them as intermediates and rebuild them every time.
.SECONDARY:

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
