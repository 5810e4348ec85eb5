/* Hand-written SSE2 row primitives (the x86-64 baseline level): not written
 * yet, so the sse2 level runs the portable kernels (FA_SSE2_HAND 0), which
 * the compiler vectorises for SSE2 anyway. */
#ifndef FA_ROWS_SSE2_H
#define FA_ROWS_SSE2_H
#define FA_SSE2_HAND 0
#endif
