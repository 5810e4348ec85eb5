/* logsumexp kernels for float32 and float64: instantiates logsumexp_impl.h twice. */
#include "fastact.h"

#define FA_DTYPE 32
#include "logsumexp_impl.h"
#undef FA_DTYPE

#define FA_DTYPE 64
#include "logsumexp_impl.h"
#undef FA_DTYPE
