/* A small pool of worker threads shared by every call, for splitting large
 * arrays across cores.  The only global state of the library besides the
 * kernel tables: the thread count set by fa_set_num_threads. */
#ifndef FA_THREADS_H
#define FA_THREADS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* fn(ctx, begin, end) over [0, count), split into at most fa_get_num_threads()
 * contiguous parts, the caller's thread taking the first.  Runs everything
 * in the caller when one thread is set, when count < 2, or when the pool is
 * already running another call (so concurrent callers never oversubscribe:
 * each then runs on its own thread).  Returns when all parts are done.
 * fn must not call fa_parallel_for. */
typedef void (*fa_task_fn)(void *ctx, size_t begin, size_t end);
void fa_parallel_for(size_t count, fa_task_fn fn, void *ctx);

/* The most threads a call may use; fa_set_num_threads clamps to it. */
#define FA_MAX_THREADS 256

/* Number of threads to use, clamped to [1, FA_MAX_THREADS].  Workers are
 * created on first use and kept (idle workers sleep on a condition variable).
 * In a build without threads (fa_threads_available() == 0) the count is
 * always 1: fa_set_num_threads does nothing and every call runs serially. */
void fa_set_num_threads(int n);
int fa_get_num_threads(void);
/* 1 when built with thread support (POSIX threads, or Win32 threads on
 * Windows), else 0 (serial: FA_NO_THREADS, or neither; threads_os.h). */
int fa_threads_available(void);

#ifdef __cplusplus
}
#endif
#endif /* FA_THREADS_H */
