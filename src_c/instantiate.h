/* Compiles the template named by FA_TEMPLATE (a *_impl.h file) once per dtype
 * and ISA level: the portable "scalar" level with the baseline flags, and on
 * x86-64 with GCC or Clang the same C again for SSE2 (the baseline there),
 * AVX2+FMA and AVX-512, where the compiler vectorises it with wider
 * registers.  Hand-written kernels for
 * a level replace these in the tables (dispatch.c).  With -ffp-contract=off
 * every level computes the same operations: results are identical. */
#include "fastact.h"

#define FA_DTYPE 32
#define FA_ISA scalar
#include FA_TEMPLATE
#undef FA_ISA
#undef FA_DTYPE
#define FA_DTYPE 64
#define FA_ISA scalar
#include FA_TEMPLATE
#undef FA_ISA
#undef FA_DTYPE

#if FA_HAVE_X86_LEVELS
/* sse2: the x86-64 baseline, so no target attribute is needed */
#include "rows_sse2.h"
#undef FA_HAND
#define FA_HAND FA_SSE2_HAND
#undef FA_HAND_EXP
#define FA_HAND_EXP FA_SSE2_HAND
#define FA_DTYPE 32
#define FA_ISA sse2
#include FA_TEMPLATE
#undef FA_ISA
#undef FA_DTYPE
#define FA_DTYPE 64
#define FA_ISA sse2
#include FA_TEMPLATE
#undef FA_ISA
#undef FA_DTYPE
#undef FA_HAND
#define FA_HAND 0
#undef FA_HAND_EXP
#define FA_HAND_EXP 0

#if defined(__clang__)
#define FA_TARGET_BEGIN(t) _Pragma(FA_STR(clang attribute push(__attribute__((target(t))), apply_to = function)))
#define FA_TARGET_END _Pragma("clang attribute pop")
#else
#define FA_TARGET_BEGIN(t) _Pragma("GCC push_options") _Pragma(FA_STR(GCC target(t)))
#define FA_TARGET_END _Pragma("GCC pop_options")
#endif
#define FA_STR_(x) #x
#define FA_STR(x) FA_STR_(x)

FA_TARGET_BEGIN("avx2,fma")
#include "rows_avx2.h"
#undef FA_HAND
#define FA_HAND 1
#undef FA_HAND_EXP
#define FA_HAND_EXP 1
#define FA_DTYPE 32
#define FA_ISA avx2
#include FA_TEMPLATE
#undef FA_ISA
#undef FA_DTYPE
#define FA_DTYPE 64
#define FA_ISA avx2
#include FA_TEMPLATE
#undef FA_ISA
#undef FA_DTYPE
#undef FA_HAND
#define FA_HAND 0
#undef FA_HAND_EXP
#define FA_HAND_EXP 0
FA_TARGET_END

FA_TARGET_BEGIN("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
#include "rows_avx512.h"
#undef FA_HAND
#define FA_HAND 1
#undef FA_HAND_EXP
#define FA_HAND_EXP 1
#define FA_DTYPE 32
#define FA_ISA avx512
#include FA_TEMPLATE
#undef FA_ISA
#undef FA_DTYPE
#define FA_DTYPE 64
#define FA_ISA avx512
#include FA_TEMPLATE
#undef FA_ISA
#undef FA_DTYPE
#undef FA_HAND
#define FA_HAND 0
#undef FA_HAND_EXP
#define FA_HAND_EXP 0
FA_TARGET_END
#endif
