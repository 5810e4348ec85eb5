/* long-row chunk kernels: chunk_impl.h for every dtype and ISA level. */
#define FA_TEMPLATE "chunk_impl.h"
#include "instantiate.h"
