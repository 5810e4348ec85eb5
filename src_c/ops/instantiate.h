/* Compiles the template named by FA_TEMPLATE (an op file of ops/, which
 * includes this header with FA_TEMPLATE naming itself) once per dtype and
 * ISA level: the portable "scalar" level with the baseline flags, and on
 * x86-64 with GCC or Clang the same C again for SSE2 (the baseline there),
 * AVX2+FMA and AVX-512, where the compiler vectorises it with wider
 * registers.  A level with vector primitives (simd/<isa>.h) sets
 * FA_VEC: its row passes are then the generic ones of ops/vec_passes.h over
 * them instead of the portable passes.  With -ffp-contract=off the portable
 * code computes the same operations at every level. */
#include "runtime/kernels.h"

#define FA_VEC 0

#define FA_ISA scalar
#include "ops/level.h"
#undef FA_ISA

#if FA_HAVE_X86_LEVELS
#if defined(__clang__)
#define FA_TARGET_BEGIN(t) _Pragma(FA_STR(clang attribute push(__attribute__((target(t))), apply_to = function)))
#define FA_TARGET_END _Pragma("clang attribute pop")
#else
#define FA_TARGET_BEGIN(t) _Pragma("GCC push_options") _Pragma(FA_STR(GCC target(t)))
#define FA_TARGET_END _Pragma("GCC pop_options")
#endif
#define FA_STR_(x) #x
#define FA_STR(x) FA_STR_(x)

/* sse2: the x86-64 baseline, no target attribute needed */
#include "simd/sse2.h"
#undef FA_VEC
#define FA_VEC 1
#define FA_ISA sse2
#include "ops/level.h"
#undef FA_ISA

FA_TARGET_BEGIN("avx2,fma")
#include "simd/avx2.h"
#define FA_ISA avx2
#include "ops/level.h"
#undef FA_ISA
FA_TARGET_END

FA_TARGET_BEGIN("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
#include "simd/avx512.h"
#define FA_ISA avx512
#include "ops/level.h"
#undef FA_ISA
FA_TARGET_END
#endif
