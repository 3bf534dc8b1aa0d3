#!/usr/bin/env bash
# tests/check_layers.sh: checks the layering of the tensor stack in core/ and
# between the library folders (docs/design.md, "Layers"). Fails, naming the
# file and the symbol or include, on any back edge.
#
# The core stack, bottom to top (a file may include headers and call
# functions only of its own layer or below; functions: a strictly lower file):
#   0   error.{c,h}
#   1   cuda.cu      the CUDA backend, handed to device.c (mt_cuda_backend)
#   1   device.h     element type, device values, backend vtable
#   1.5 device.c     backend registry, CPU backend
#   2   alloc.{c,h}  caching allocator
#   3   tensor.{c,h} storage, refcount (grad_fn release through a hook)
#   4   op.{c,h}     op descriptors, mt_op_apply, nodes, grad mode
#   5   autograd.{c,h} backward
# Calls are found by name in the sources with comments and strings removed
# (cc -fpreprocessed), so mentioning another file's function only in a comment
# is fine. Also checked: core/ includes nothing from layers/, configs/, data/,
# optim/; layers/ never includes configs/; configs/ headers never include layers/.
# Run from anywhere; needs cc, awk, grep. Prints "check_layers: ok" on success.
set -u
cd "$(dirname "$0")/.." || exit 2
CC=${CC:-cc}

declare -A LAYER=(
  [error.h]=0 [error.c]=0
  [cuda.cu]=1 [device.h]=1 [device.c]=1.5
  [alloc.h]=2 [alloc.c]=2
  [tensor.h]=3 [tensor.c]=3
  [op.h]=4 [op.c]=4
  [autograd.h]=5 [autograd.c]=5
)
SOURCES=(error.c cuda.cu device.c alloc.c tensor.c op.c autograd.c)
fail=0
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
bad() { echo "check_layers: $*"; fail=1; }

# source text without comments and string literals
strip() { "$CC" -x c -fpreprocessed -dD -E -P "$1" 2>/dev/null | sed -e 's/"\([^"\\]\|\\.\)*"/""/g'; }

# 1. includes inside the stack
for f in "${!LAYER[@]}"; do
  [[ -f core/$f ]] || { bad "core/$f does not exist (update this script)"; continue; }
  for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "core/$f"); do
    [[ -n ${LAYER[$inc]+x} ]] || continue
    lt "${LAYER[$f]}" "${LAYER[$inc]}" && bad "core/$f (layer ${LAYER[$f]}) includes $inc (layer ${LAYER[$inc]})"
  done
done

# 2. calls inside the stack: the non-static functions each source defines
declare -A DEF_FILE=()
for f in "${SOURCES[@]}"; do
  [[ -f core/$f ]] || continue
  for fn in $(strip "core/$f" | awk '
      /^[A-Za-z_]/ && !/^(static|typedef|struct|enum|union)[ \t]/ { sig = ""; open = 1 }
      open { sig = sig " " $0
             if ($0 ~ /;[ \t]*$/) open = 0
             else if ($0 ~ /\{/ || $0 ~ /\)[ \t]*$/) {
               if (match(sig, /mt_[A-Za-z0-9_]+[ \t]*\(/)) print substr(sig, RSTART, RLENGTH - 1)
               open = 0 } }' | tr -d ' \t' | sort -u); do
    DEF_FILE[$fn]=$f
  done
done
for f in "${SOURCES[@]}"; do
  [[ -f core/$f ]] || continue
  text=$(strip "core/$f")
  for fn in "${!DEF_FILE[@]}"; do
    g=${DEF_FILE[$fn]}
    [[ $g == "$f" ]] && continue
    lt "${LAYER[$g]}" "${LAYER[$f]}" && continue
    grep -qw -- "$fn" <<<"$text" && bad "core/$f (layer ${LAYER[$f]}) uses $fn of core/$g (layer ${LAYER[$g]})"
  done
done
[[ -n ${CHECK_LAYERS_DEBUG:-} ]] && for fn in "${!DEF_FILE[@]}"; do echo "$fn ${DEF_FILE[$fn]}"; done | sort -k2
[[ ${#DEF_FILE[@]} -ge 20 ]] || bad "found only ${#DEF_FILE[@]} function definitions in core/ (script out of date?)"

# 3. folders
while IFS= read -r line; do bad "core/ must not include layers/configs/data/optim: $line"; done < \
  <(grep -rnE '#[[:space:]]*include[[:space:]]*"(\.\./)+(layers|configs|data|optim)/' core/)
while IFS= read -r line; do bad "layers/ must not include configs/: $line"; done < \
  <(grep -rnE '#[[:space:]]*include[[:space:]]*"(\.\./)+configs/' layers/)
while IFS= read -r line; do bad "configs/ headers must not include layers/: $line"; done < \
  <(grep -rnE --include='*.h' '#[[:space:]]*include[[:space:]]*"(\.\./)+layers/' configs/)

if [[ $fail -eq 0 ]]; then echo "check_layers: ok"; fi
exit $fail
