#!/usr/bin/env bash
# Compile src_c/ (every file of ops/ and runtime/) and tests/c/smoke.c with
# the C compiler CC, warnings as errors, the flags setup.py gives GCC (no
# -march), into two programs: OUT/smoke$EXE with the thread pool (THREAD
# FLAGS: e.g. -pthread -DFA_HAVE_PTHREADS; none on Windows, whose pool is
# Win32 threads) and OUT/smoke-serial$EXE built without threads
# (-DFA_NO_THREADS and no thread flags, as FASTACT_NO_THREADS=1 builds the
# extension).  Objects compile in parallel; only threads.c and smoke.c (the
# files that include runtime/threads_os.h) differ between the two.
#
# Then the library's external symbols (what its objects use and do not
# define) must be ISO C functions (ISO_C below), compiler helpers, and,
# only in the pool's build, the thread API THREADS: "posix" (pthread_*) or
# "win32" (SRW locks, condition variables, _beginthreadex).  A new external
# fails the build: if it is ISO C, add it to ISO_C; anything else belongs in
# runtime/threads_os.h.  Used by cross_mingw.sh, cross_aarch64.sh and
# .ci/cross.
# Usage: tests/c/build_smoke.sh CC OUT EXE THREADS [THREAD FLAGS...]
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 CC OUT EXE posix|win32 [THREAD FLAGS...]" >&2; exit 2; }
cc=$1 out=$2 exe=$3 api=$4
shift 4
threads=("$@")
top=$(cd "$(dirname "$0")/../.." && pwd)
flags=(-O3 -ffp-contract=off -fno-trapping-math -falign-loops=32 -Wall -Wextra -Werror
       -I"$top/src_c" -I"$top/src_c/include")
mkdir -p "$out/obj"
par=$(nproc 2>/dev/null || echo 2)

pids=() next=0 status=0
spawn() {  # run "$@" in the background, at most $par at once
    if [ $(( ${#pids[@]} - next )) -ge "$par" ]; then
        wait "${pids[$next]}" || status=1
        next=$((next + 1))
    fi
    "$@" &
    pids+=($!)
}
common=()
for src in "$top"/src_c/ops/*.c "$top"/src_c/runtime/*.c; do
    [ "$(basename "$src")" = threads.c ] && continue
    obj=$out/obj/$(basename "$(dirname "$src")")_$(basename "$src" .c).o
    common+=("$obj")
    spawn "$cc" "${flags[@]}" -c "$src" -o "$obj"  # threads.h only: no thread flags needed
done
spawn "$cc" "${flags[@]}" "${threads[@]}" -c "$top/src_c/runtime/threads.c" -o "$out/obj/threads.o"
spawn "$cc" "${flags[@]}" "${threads[@]}" -c "$top/tests/c/smoke.c" -o "$out/obj/smoke.o"
spawn "$cc" "${flags[@]}" -DFA_NO_THREADS -c "$top/src_c/runtime/threads.c" -o "$out/obj/threads-serial.o"
spawn "$cc" "${flags[@]}" -DFA_NO_THREADS -c "$top/tests/c/smoke.c" -o "$out/obj/smoke-serial.o"
while [ "$next" -lt ${#pids[@]} ]; do
    wait "${pids[$next]}" || status=1
    next=$((next + 1))
done
[ "$status" = 0 ] || { echo "build_smoke.sh: $cc failed (see above)" >&2; exit 1; }
"$cc" "${threads[@]}" "$out/obj/smoke.o" "${common[@]}" "$out/obj/threads.o" -o "$out/smoke$exe" -lm
"$cc" "$out/obj/smoke-serial.o" "${common[@]}" "$out/obj/threads-serial.o" -o "$out/smoke-serial$exe" -lm

# the externals of the library (the objects less smoke.o)
ISO_C="exp ldexp log1p nearbyint memcpy memset strcmp fegetenv fesetenv"
HELPERS="___chkstk_ms"  # mingw: stack probes for frames over 4 KiB
case $api in
posix) threads_re='^pthread_[a-z_]+$' ;;
win32) threads_re='^(__imp_)?(AcquireSRWLockExclusive|ReleaseSRWLockExclusive|TryAcquireSRWLockExclusive|SleepConditionVariableSRW|WakeConditionVariable|WakeAllConditionVariable|CloseHandle|_beginthreadex)$' ;;
*) echo "build_smoke.sh: THREADS must be posix or win32" >&2; exit 2 ;;
esac
nm=${cc%gcc}nm
externals() {  # objects...: symbols they use and none of them defines
    "$nm" -u "$@" | awk 'NF == 2 {print $2}' | sort -u > "$out/undef.txt"
    "$nm" --defined-only "$@" | awk 'NF == 3 {print $3}' | sort -u > "$out/def.txt"
    comm -23 "$out/undef.txt" "$out/def.txt"
}
externals "${common[@]}" "$out/obj/threads.o" > "$out/externals.txt"
externals "${common[@]}" "$out/obj/threads-serial.o" > "$out/externals-serial.txt"
allowed=$(printf '%s\n' $ISO_C $HELPERS)
odd=$(grep -vxF "$allowed" "$out/externals.txt" | grep -vE "$threads_re" || true)
[ -z "$odd" ] || { echo "build_smoke.sh: the library uses non-ISO-C functions outside the thread API:" $odd >&2; exit 1; }
odd=$(grep -vxF "$allowed" "$out/externals-serial.txt" || true)
[ -z "$odd" ] || { echo "build_smoke.sh: the FA_NO_THREADS library uses:" $odd >&2; exit 1; }
grep -Eq "$threads_re" "$out/externals.txt" || { echo "build_smoke.sh: no $api thread pool in the build" >&2; exit 1; }
echo "library externals ($cc): $(tr '\n' ' ' < "$out/externals.txt")"
echo "without threads: $(tr '\n' ' ' < "$out/externals-serial.txt")"
