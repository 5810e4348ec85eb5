/* exp kernels (for the tests' accuracy sweep): exp_impl.h for every dtype and level. */
#define FA_TEMPLATE "exp_impl.h"
#include "instantiate.h"
