#!/usr/bin/env bash
# tests/run.sh: runs each test binary given and prints the combined totals as
# the last line: "N passed, N failed, N skipped". Exit status 1 if any failed.
set -u
P=0 F=0 S=0 rc=0
# the include/call layering (docs/design.md): about two seconds, counted as one test
echo "== tests/check_layers.sh"
if bash "$(dirname "$0")/check_layers.sh"; then P=$((P + 1)); else F=$((F + 1)); rc=1; fi
for bin in "$@"; do
  echo "== $bin"
  out=$("$bin" 2>&1); r=$?
  printf '%s\n' "$out" | sed '$d'
  last=$(printf '%s\n' "$out" | tail -n 1)
  if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
    P=$((P + BASH_REMATCH[1])); F=$((F + BASH_REMATCH[2])); S=$((S + BASH_REMATCH[3]))
  else
    echo "$bin did not finish (exit $r); last line: $last"; F=$((F + 1))
  fi
  [ $r -ne 0 ] && rc=1
done
echo "$P passed, $F failed, $S skipped"
exit $rc
