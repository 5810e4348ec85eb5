/* relu kernels: relu_impl.h for every dtype and ISA level. */
#define FA_TEMPLATE "relu_impl.h"
#include "instantiate.h"
