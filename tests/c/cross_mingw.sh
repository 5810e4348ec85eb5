#!/usr/bin/env bash
# Windows x86-64: build src_c/ and tests/c/smoke.c with Debian's mingw-w64
# GCC (x86_64-w64-mingw32-gcc: every kernel level, FA_HAVE_X86_LEVELS being
# GCC on x86-64; cpu.c's cpuid/xgetbv; the Win32 thread pool of
# runtime/threads_os.h) with -Wall -Wextra -Werror (tests/c/build_smoke.sh),
# check which thread functions each program imports, and run both programs
# (pool, and FA_NO_THREADS) under wine.  Needs gcc-mingw-w64-x86-64 and
# wine64 (.ci/cross installs them).  MSVC, which builds the Windows wheels,
# is not available here: that build is the portable C at the scalar level
# (FA_HAVE_X86_LEVELS is 0 there) with the same threads_os.h.
# Usage: tests/c/cross_mingw.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc=x86_64-w64-mingw32-gcc
"$here/build_smoke.sh" "$cc" "$out" .exe win32

# the pool's program imports the Win32 primitives, the serial one none;
# neither needs a DLL beyond the system's (KERNEL32, the C runtime)
imports() {  # the DLLs and the functions imported from them, one a line
    x86_64-w64-mingw32-objdump -p "$1" | awk '/DLL Name:/ {print $NF; next} NF == 3 && $2 ~ /^[0-9]+$/ {print $3}'
}
imports "$out/smoke.exe" > "$out/imports.txt"
imports "$out/smoke-serial.exe" > "$out/imports-serial.txt"
for f in TryAcquireSRWLockExclusive SleepConditionVariableSRW WakeAllConditionVariable _beginthreadex; do
    grep -qx "$f" "$out/imports.txt" || { echo "smoke.exe does not import $f"; exit 1; }
    if grep -qx "$f" "$out/imports-serial.txt"; then echo "smoke-serial.exe imports $f"; exit 1; fi
done
dlls=$(grep -i '\.dll$' "$out/imports.txt" | sort -u | tr '\n' ' ')
echo "smoke.exe imports from: $dlls"
if grep -iv '^\(KERNEL32\|msvcrt\|ucrtbase\|api-ms-win-.*\)\.dll$' <(grep -i '\.dll$' "$out/imports.txt"); then
    echo "smoke.exe needs a DLL beyond the system's"; exit 1
fi

# wine64: Debian ships it as /usr/lib/wine/wine64 (the wine package adds
# /usr/bin/wine); a private prefix, created on first use (~7 s)
wine=$(command -v wine64 || command -v wine || echo /usr/lib/wine/wine64)
[ -x "$wine" ] || { echo "no wine64 (apt-get install wine64)"; exit 1; }
export WINEPREFIX=$out/wineprefix WINEDEBUG=-all
"$wine" "$out/smoke.exe" > "$out/smoke.log" 2> "$out/wine.err" || { cat "$out/smoke.log" "$out/wine.err"; exit 1; }
grep -v '^[a-z_ ]* f[36][24] ' "$out/smoke.log"  # the table in full: below
"$wine" "$out/smoke-serial.exe" > "$out/smoke-serial.log" 2>> "$out/wine.err" || { cat "$out/smoke-serial.log" "$out/wine.err"; exit 1; }
grep -v '^[a-z_ ]* f[36][24] ' "$out/smoke-serial.log"
echo "worst errors (smoke.exe under wine):"
grep '^[a-z_ ]* f[36][24] ' "$out/smoke.log"
