#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs missing packages, builds with
# ASan+UBSan and -Werror, runs every ctest (unit, integration against a
# private Dovecot and SMTP receiver, fuzz corpus replays, style checks), then
# runs each libFuzzer target briefly.
#   MS_FUZZ_SECONDS  seconds per fuzz target (default 20; 0 skips fuzzing)
#   MS_BUILD_ROOT    where build trees go (default ./build)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
root=${MS_BUILD_ROOT:-$src/build}
fuzz_seconds=${MS_FUZZ_SECONDS:-20}
jobs=$(nproc)

scripts/deps.sh

echo "== build with ASan+UBSan ($root/asan)"
cmake -S "$src" -B "$root/asan" -DCMAKE_BUILD_TYPE=Debug \
	-DMAILSYNC_SANITIZE=ON -DMAILSYNC_WERROR=ON >/dev/null
cmake --build "$root/asan" -j"$jobs"

echo "== ctest (sanitized)"
# Integration tests must run, never skip, in the suite.
export MS_REQUIRE_SERVERS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$root/asan" -j"$jobs" --output-on-failure

if [[ "$fuzz_seconds" -gt 0 ]]; then
	echo "== libFuzzer targets, ${fuzz_seconds}s each ($root/fuzz)"
	cmake -S "$src" -B "$root/fuzz" -DCMAKE_C_COMPILER=clang \
		-DCMAKE_BUILD_TYPE=Debug -DMAILSYNC_FUZZ=ON \
		-DMAILSYNC_SANITIZE=ON -DMAILSYNC_WERROR=ON -DBUILD_TESTING=ON >/dev/null
	cmake --build "$root/fuzz" -j"$jobs"
	shopt -s nullglob
	for target in "$root"/fuzz/tests/fuzz_*; do
		[[ "$target" == *_replay ]] && continue
		name=$(basename "$target"); name=${name#fuzz_}
		work=$(mktemp -d)
		# Fuzz from a copy so the committed seed corpus is not rewritten.
		cp -r "$src/tests/fuzz/corpora/$name/." "$work/"
		dict=()
		[[ -f "$src/tests/fuzz/fuzz_$name.dict" ]] && dict=(-dict="$src/tests/fuzz/fuzz_$name.dict")
		echo "-- fuzz_$name"
		status=0
		"$target" "${dict[@]}" -max_total_time="$fuzz_seconds" \
			-print_final_stats=1 "$work" >"$work.log" 2>&1 || status=$?
		grep -E 'stat::number_of_executed_units' "$work.log" || true
		if [[ $status -ne 0 ]]; then
			tail -n 60 "$work.log" >&2
			echo "fuzz_$name failed (exit $status); crash input kept in $(pwd)" >&2
			exit 1
		fi
		rm -rf "$work" "$work.log"
	done
fi
echo "== all tests passed"
