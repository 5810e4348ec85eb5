/* The plain-C side of tests/test_capi.py's extension: calls fastact's C API
 * through fastact_api.h only (its own translation unit, so its own import). */
#ifndef CAPI_PLAIN_H
#define CAPI_PLAIN_H
#include <stddef.h>
#include <stdint.h>

/* fastact_import() for this file: 0, or -1 with a Python exception set. */
int plain_import(void);
/* The function of fastact_api.h named `name` (as probe.pyx's cy_call: the
 * argument layout is documented in tests/test_capi.py), float (f64 == 0)
 * or double; its return code, or -100 for an unknown name. */
int plain_call(const char *name, int f64, void *const *p, const size_t *s, const double *d,
               int64_t i, int flag);
/* fastact_kernel_level() of this file (NULL before plain_import). */
const char *plain_level(void);
#endif
