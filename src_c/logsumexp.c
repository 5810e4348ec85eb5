/* logsumexp kernels: logsumexp_impl.h for every dtype and ISA level. */
#define FA_TEMPLATE "logsumexp_impl.h"
#include "instantiate.h"
