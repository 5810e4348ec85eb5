/* Which ISA level this CPU and OS can run: cpuid for the instruction sets,
 * xgetbv for the register state the OS saves on context switches (AVX needs
 * XMM+YMM, AVX-512 also opmask and ZMM state). */
#include "fastact.h"

#if defined(__x86_64__) || defined(_M_X64)
#if defined(_MSC_VER)
#include <intrin.h>
static void fa_cpuid(int leaf, int sub, unsigned r[4])
{
    int v[4];
    __cpuidex(v, leaf, sub);
    for (int i = 0; i < 4; i++) r[i] = (unsigned)v[i];
}
static unsigned long long fa_xgetbv(void) { return _xgetbv(0); }
#else
#include <cpuid.h>
static void fa_cpuid(int leaf, int sub, unsigned r[4])
{
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}
static unsigned long long fa_xgetbv(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

int fa_cpu_level(void)
{
    unsigned r[4];
    fa_cpuid(0, 0, r);
    unsigned max_leaf = r[0];
    int level = FA_LEVEL_SSE2; /* part of x86-64 */
    if (max_leaf < 7) return level;
    fa_cpuid(1, 0, r);
    unsigned ecx1 = r[2];
    int osxsave = (ecx1 >> 27) & 1, avx = (ecx1 >> 28) & 1, fma = (ecx1 >> 12) & 1;
    if (!(osxsave && avx && fma)) return level;
    unsigned long long xcr0 = fa_xgetbv();
    if ((xcr0 & 0x6) != 0x6) return level; /* XMM and YMM state */
    fa_cpuid(7, 0, r);
    unsigned ebx7 = r[1];
    if (!((ebx7 >> 5) & 1)) return level; /* AVX2 */
    level = FA_LEVEL_AVX2;
    int avx512 = ((ebx7 >> 16) & 1) /* F */ && ((ebx7 >> 17) & 1) /* DQ */
                 && ((ebx7 >> 30) & 1) /* BW */ && ((ebx7 >> 31) & 1) /* VL */;
    if (avx512 && (xcr0 & 0xE6) == 0xE6) level = FA_LEVEL_AVX512; /* opmask, ZMM */
    return level;
}
#else
int fa_cpu_level(void) { return FA_LEVEL_SCALAR; }
#endif
