# Shared by every suite runner: record one test's verdict.
#   . tests/lib/results.sh
#   result PASS|FAIL SUITE NAME [DETAIL]
# Verdicts go to $ATOMBLK_RESULTS/<suite>.tsv (default build/test-results);
# tests/summary adds them all up.
ATOMBLK_RESULTS=${ATOMBLK_RESULTS:-$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)/build/test-results}
export ATOMBLK_RESULTS

result() {
	local verdict=$1 suite=$2 name=$3 detail=${4:-}
	mkdir -p "$ATOMBLK_RESULTS"
	printf '%s\t%s\t%s\n' "$verdict" "$name" "$detail" >> "$ATOMBLK_RESULTS/$suite.tsv"
	echo "$verdict $suite: $name${detail:+ — $detail}"
}

# run_cmocka SUITE BINARY...: run cmocka programs with TAP output and record
# every test case. A program that dies (sanitizer report, crash) or exits
# non-zero without a failing case is recorded as a failure of its own.
run_cmocka() {
	local suite=$1; shift
	local bin out rc name failed
	for bin in "$@"; do
		name=$(basename "$bin")
		out=$(mktemp)
		CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 "$bin" > "$out" 2>&1
		rc=$?
		failed=0
		while IFS= read -r line; do
			case "$line" in
			"not ok "*) result FAIL "$suite" "$name/${line#not ok * - }"; failed=1 ;;
			"ok "*)     result PASS "$suite" "$name/${line#ok * - }" ;;
			esac
		done < "$out"
		if [ $rc -ne 0 ] && [ $failed -eq 0 ]; then
			result FAIL "$suite" "$name" "exit status $rc"
		fi
		if [ $rc -ne 0 ]; then
			sed 's/^/    | /' "$out" | tail -n 60
		fi
		rm -f "$out"
	done
}
