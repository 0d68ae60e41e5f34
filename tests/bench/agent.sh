#!/bin/bash
# bench/agent.sh [BUILD_DIR]: the agent's figures — resident memory after
# start and after 10,000 Probe calls, Probe latency p50/p99 at concurrency
# 1 and 16, exec-to-serving time. Prints figures next to the goals; not a test.
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
build=${1:-build}
export ATOMBLK_AGENT=${ATOMBLK_AGENT:-$(realpath "$build/bin/atomblk-agent")}
export GRPC_VERBOSITY=${GRPC_VERBOSITY:-ERROR}
echo "== agent: $ATOMBLK_AGENT ($(ldd "$ATOMBLK_AGENT" | wc -l) shared objects, $(( $(stat -c %s "$ATOMBLK_AGENT") / 1024 )) kB)"
"$build/tests/bench/agent_bench"
