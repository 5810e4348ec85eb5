/* Bugs planted in sanitizer builds only, to check that the sanitizers see
 * them (runtime/planted.c). */
#ifndef FA_PLANTED_H
#define FA_PLANTED_H
#include <stddef.h>

/* 1 in a FASTACT_SANITIZE build (setup.py defines FA_SANITIZER_BUILD), else 0 */
int fa_sanitizer_build(void);
/* kind 1: reads x[n], one past the end (AddressSanitizer: heap-buffer-overflow
 * for a heap array of n doubles); kind 2: INT_MAX + n in int (UBSan: signed
 * integer overflow, for n > 0).  Outside sanitizer builds: nothing, -1. */
int fa_planted_bug(int kind, const double *x, size_t n);

#endif
