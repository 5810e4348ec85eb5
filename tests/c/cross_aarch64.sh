#!/usr/bin/env bash
# aarch64 Linux: build src_c/ (the portable C path: no x86 levels) and
# tests/c/smoke.c with Debian's cross GCC, -Wall -Wextra -Werror
# (tests/c/build_smoke.sh), and run both programs (the POSIX thread pool,
# and FA_NO_THREADS) under qemu-user.  Needs gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross and qemu-user (.ci/cross installs them).
# Usage: tests/c/cross_aarch64.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$here/build_smoke.sh" aarch64-linux-gnu-gcc "$out" "" posix -pthread -DFA_HAVE_PTHREADS
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
# both at once (each ~25-35 s here, mostly the long double references,
# which are IEEE quad in software on aarch64)
qemu-aarch64 "$out/smoke" > "$out/smoke.log" & pool=$!
qemu-aarch64 "$out/smoke-serial" > "$out/smoke-serial.log" & serial=$!
wait "$pool" || { cat "$out/smoke.log"; exit 1; }
wait "$serial" || { cat "$out/smoke-serial.log"; exit 1; }
grep -v '^[a-z_ ]* f[36][24] ' "$out/smoke.log"
grep -v '^[a-z_ ]* f[36][24] ' "$out/smoke-serial.log"
echo "worst errors (aarch64 under qemu):"
grep '^[a-z_ ]* f[36][24] ' "$out/smoke.log"
