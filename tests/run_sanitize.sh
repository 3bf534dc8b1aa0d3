#!/usr/bin/env bash
# tests/run_sanitize.sh RUN_TESTS FILTER...: the `make test-sanitize` runner (issue 12).
# Runs RUN_TESTS (an ASan + UBSan build, its medtrain CLI next to it, which the CLI tests
# start) once on the tests whose name or file contains any FILTER (tests/main.c), with every
# sanitizer report fatal (ASan/UBSan halt_on_error, LeakSanitizer on), and prints as its last line
#   "sanitize: N passed, N failed, N skipped, N sanitizer reports, S s".
# Exit status 1 on any failed test, sanitizer report (also from a CLI child) or unfinished run.
# LSan suppressions, third-party libraries only: tests/lsan.supp.
set -u
bin=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
t0=$(date +%s)
echo "== $bin $*"
out=$("$bin" -v "$@" 2>&1); r=$?
printf '%s\n' "$out"
n=$(printf '%s\n' "$out" | grep -cE 'ERROR: (Address|Leak)Sanitizer|runtime error:')
summary=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' | tail -n 1)
rc=0
if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
  P=${BASH_REMATCH[1]} F=${BASH_REMATCH[2]} S=${BASH_REMATCH[3]}
else
  echo "$bin did not finish (exit $r)"; P=0 F=1 S=0
fi
[ $r -ne 0 ] || [ "$n" -gt 0 ] || [ "$F" -gt 0 ] && rc=1
echo "sanitize: $P passed, $F failed, $S skipped, $n sanitizer reports, $(( $(date +%s) - t0 )) s (exit $r)"
exit $rc
