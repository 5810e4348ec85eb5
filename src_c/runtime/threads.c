/* Worker pool for fa_parallel_for (threads.h), on POSIX threads or Win32
 * (threads_os.h).  Without either (FA_NO_THREADS) everything runs serially
 * in the caller and the thread count stays 1.
 *
 * One job at a time: a caller takes `busy` with trylock; a caller that finds
 * it taken runs its job alone.  The job is published under `lock` with a new
 * generation number; worker i runs part i + 1 and the caller part 0, and the
 * last one to finish signals `done`.  After fork() the child has no workers:
 * an atfork handler resets the pool there (POSIX).
 *
 * Workers run each part in the caller's floating-point control state
 * (rounding, flush-to-zero, x87 precision: fa_fpstate, threads_os.h),
 * published with the job, since a thread starts with the system's default
 * or its creator's, which need not be the caller's now.  Under Windows,
 * mingw-w64's startup code sets the main thread's x87 unit to 64-bit
 * precision while new threads get 53 bits, and its log1p runs on the x87:
 * without this, float64 log_softmax/logsumexp changed in the last bit with
 * the thread count (tests/c/smoke.c under wine); on Linux, a rounding mode
 * or flush-to-zero set by the caller after the workers started did too. */
#include "threads.h"
#include "threads_os.h"

#if !FA_THREADS_OS

void fa_set_num_threads(int n) { (void)n; }
int fa_get_num_threads(void) { return 1; }
int fa_threads_available(void) { return 0; }
void fa_parallel_for(size_t count, fa_task_fn fn, void *ctx)
{
    if (count) fn(ctx, 0, count);
}

#else

/* Idle workers poll for a new job this many times (~100 us) before sleeping. */
#define FA_SPIN 20000L

static struct {
    fa_mutex busy;             /* held by the caller whose job runs on the pool */
    fa_mutex lock;             /* protects everything below */
    fa_cond start, done;
    int nthreads;              /* requested thread count */
    int nworkers;              /* workers created */
    unsigned long generation;  /* bumped for every job */
    int parts, pending;        /* parts of the current job, parts not finished */
    fa_task_fn fn;
    void *ctx;
    size_t count;
    fa_fpstate fp;             /* the caller's floating-point control state */
    int atfork_set;
} pool = {.busy = FA_MUTEX_INIT, .lock = FA_MUTEX_INIT, .start = FA_COND_INIT,
          .done = FA_COND_INIT, .nthreads = 1};

static void part_range(size_t count, int parts, int i, size_t *b, size_t *e)
{
    *b = count * (size_t)i / (size_t)parts;
    *e = count * (size_t)(i + 1) / (size_t)parts;
}

/* The generation each worker was created at: a worker must not skip a job
 * published before it first took the lock. */
static unsigned long created_at[FA_MAX_THREADS];

FA_THREAD_FN(worker_main, arg)
{
    int id = (int)(size_t)arg; /* runs part id + 1 */
    fa_mutex_lock(&pool.lock);
    unsigned long seen = created_at[id];
    for (;;) {
        if (pool.generation == seen) {
            /* Jobs come in bursts (one per call): spin a little before
             * sleeping, since waking a sleeping thread costs tens of
             * microseconds, more than a mid-sized job. */
            fa_mutex_unlock(&pool.lock);
            for (long spin = 0; spin < FA_SPIN && fa_gen_peek(&pool.generation) == seen; spin++)
                fa_cpu_relax();
            fa_mutex_lock(&pool.lock);
        }
        while (pool.generation == seen) fa_cond_wait(&pool.start, &pool.lock);
        seen = pool.generation;
        if (id + 1 >= pool.parts) continue; /* not needed for this job */
        fa_task_fn fn = pool.fn;
        void *ctx = pool.ctx;
        fa_fpstate fp = pool.fp;
        size_t b, e;
        part_range(pool.count, pool.parts, id + 1, &b, &e);
        fa_mutex_unlock(&pool.lock);
        if (b < e) {
            fa_fp_set(&fp);
            fn(ctx, b, e);
        }
        fa_mutex_lock(&pool.lock);
        if (--pool.pending == 0) fa_cond_signal(&pool.done);
    }
    return FA_THREAD_RETURN;
}

static void reset_in_child(void)
{
    fa_mutex m = FA_MUTEX_INIT;
    fa_cond c = FA_COND_INIT;
    pool.busy = m;
    pool.lock = m;
    pool.start = c;
    pool.done = c;
    pool.nworkers = 0;
    pool.pending = 0;
}

/* Create workers up to `want` (called with `busy` held). */
static int ensure_workers(int want)
{
    if (!pool.atfork_set) {
        fa_at_fork_child(reset_in_child);
        pool.atfork_set = 1;
    }
    while (pool.nworkers < want) {
        created_at[pool.nworkers] = pool.generation; /* stable: we hold `busy` */
        if (fa_thread_start(worker_main, (void *)(size_t)pool.nworkers) != 0) break;
        fa_mutex_lock(&pool.lock);
        pool.nworkers++;
        fa_mutex_unlock(&pool.lock);
    }
    return pool.nworkers;
}

void fa_set_num_threads(int n)
{
    n = n < 1 ? 1 : (n > FA_MAX_THREADS ? FA_MAX_THREADS : n);
    fa_mutex_lock(&pool.lock);
    pool.nthreads = n;
    fa_mutex_unlock(&pool.lock);
}

int fa_get_num_threads(void)
{
    fa_mutex_lock(&pool.lock);
    int n = pool.nthreads;
    fa_mutex_unlock(&pool.lock);
    return n;
}

int fa_threads_available(void) { return 1; }

void fa_parallel_for(size_t count, fa_task_fn fn, void *ctx)
{
    if (count == 0) return;
    int n = fa_get_num_threads();
    if ((size_t)n > count) n = (int)count;
    if (n <= 1 || fa_mutex_trylock(&pool.busy) != 0) {
        fn(ctx, 0, count);
        return;
    }
    int workers = ensure_workers(n - 1);
    int parts = workers + 1 < n ? workers + 1 : n;
    fa_fpstate fp;
    fa_fp_get(&fp);
    fa_mutex_lock(&pool.lock);
    pool.fp = fp;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.count = count;
    pool.parts = parts;
    pool.pending = parts - 1;
    fa_gen_set(&pool.generation, pool.generation + 1);
    fa_cond_broadcast(&pool.start);
    fa_mutex_unlock(&pool.lock);

    size_t b, e;
    part_range(count, parts, 0, &b, &e);
    fn(ctx, b, e);

    fa_mutex_lock(&pool.lock);
    while (pool.pending > 0) fa_cond_wait(&pool.done, &pool.lock);
    fa_mutex_unlock(&pool.lock);
    fa_mutex_unlock(&pool.busy);
}
#endif
