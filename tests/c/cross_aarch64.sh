#!/usr/bin/env bash
# Build src_c/ for aarch64 (the portable C path: no x86 levels) with -Wall
# -Wextra -Werror and run tests/c/smoke.c under qemu-user.  Needs Debian's
# gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user; not part of
# .ci/run (those are not project dependencies).  Usage: tests/c/cross_aarch64.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
aarch64-linux-gnu-gcc -O3 -ffp-contract=off -fno-trapping-math -pthread -DFA_HAVE_PTHREADS \
    -Wall -Wextra -Werror -I"$top/src_c" -I"$top/src_c/include" "$top/tests/c/smoke.c" \
    "$top"/src_c/ops/*.c "$top"/src_c/runtime/*.c -o "$out/smoke" -lm
QEMU_LD_PREFIX=/usr/aarch64-linux-gnu qemu-aarch64 "$out/smoke"
