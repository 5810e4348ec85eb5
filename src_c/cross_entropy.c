/* cross_entropy kernels: cross_entropy_impl.h for every dtype and ISA level. */
#define FA_TEMPLATE "cross_entropy_impl.h"
#include "instantiate.h"
