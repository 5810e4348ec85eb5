/* Worker pool for fa_parallel_for (threads.h), on POSIX threads.  Elsewhere
 * (MSVC) everything runs serially in the caller.
 *
 * One job at a time: a caller takes `busy` with trylock; a caller that finds
 * it taken runs its job alone.  The job is published under `lock` with a new
 * generation number; worker i runs part i + 1 and the caller part 0, and the
 * last one to finish signals `done`.  After fork() the child has no workers:
 * pthread_atfork resets the pool there. */
#include "threads.h"

#include <stdlib.h>

#if defined(_WIN32) || !defined(FA_HAVE_PTHREADS)

static int fa_nthreads = 1;
void fa_set_num_threads(int n) { fa_nthreads = n < 1 ? 1 : (n > FA_MAX_THREADS ? FA_MAX_THREADS : n); }
int fa_get_num_threads(void) { return fa_nthreads; }
int fa_threads_available(void) { return 0; }
void fa_parallel_for(size_t count, fa_task_fn fn, void *ctx)
{
    if (count) fn(ctx, 0, count);
}

#else
#include <pthread.h>

/* Idle workers poll for a new job this many times (~100 us) before sleeping. */
#define FA_SPIN 20000L

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void fa_cpu_relax(void) { _mm_pause(); }
#else
static inline void fa_cpu_relax(void) {}
#endif

static struct {
    pthread_mutex_t busy;      /* held by the caller whose job runs on the pool */
    pthread_mutex_t lock;      /* protects everything below */
    pthread_cond_t start, done;
    int nthreads;              /* requested thread count */
    int nworkers;              /* workers created */
    unsigned long generation;  /* bumped for every job */
    int parts, pending;        /* parts of the current job, parts not finished */
    fa_task_fn fn;
    void *ctx;
    size_t count;
    int atfork_set;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER, 1, 0, 0, 0, 0, NULL, NULL, 0, 0};

static void part_range(size_t count, int parts, int i, size_t *b, size_t *e)
{
    *b = count * (size_t)i / (size_t)parts;
    *e = count * (size_t)(i + 1) / (size_t)parts;
}

/* The generation each worker was created at: a worker must not skip a job
 * published before it first took the lock. */
static unsigned long created_at[FA_MAX_THREADS];

static void *worker_main(void *arg)
{
    int id = (int)(size_t)arg; /* runs part id + 1 */
    pthread_mutex_lock(&pool.lock);
    unsigned long seen = created_at[id];
    for (;;) {
        if (pool.generation == seen) {
            /* Jobs come in bursts (one per call): spin a little before
             * sleeping, since waking a sleeping thread costs tens of
             * microseconds, more than a mid-sized job. */
            pthread_mutex_unlock(&pool.lock);
            for (long spin = 0; spin < FA_SPIN && __atomic_load_n(&pool.generation, __ATOMIC_ACQUIRE) == seen; spin++)
                fa_cpu_relax();
            pthread_mutex_lock(&pool.lock);
        }
        while (pool.generation == seen) pthread_cond_wait(&pool.start, &pool.lock);
        seen = pool.generation;
        if (id + 1 >= pool.parts) continue; /* not needed for this job */
        fa_task_fn fn = pool.fn;
        void *ctx = pool.ctx;
        size_t b, e;
        part_range(pool.count, pool.parts, id + 1, &b, &e);
        pthread_mutex_unlock(&pool.lock);
        if (b < e) fn(ctx, b, e);
        pthread_mutex_lock(&pool.lock);
        if (--pool.pending == 0) pthread_cond_signal(&pool.done);
    }
    return NULL;
}

static void reset_in_child(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
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
        pthread_atfork(NULL, NULL, reset_in_child);
        pool.atfork_set = 1;
    }
    while (pool.nworkers < want) {
        pthread_t t;
        created_at[pool.nworkers] = pool.generation; /* stable: we hold `busy` */
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, worker_main, (void *)(size_t)pool.nworkers);
        pthread_attr_destroy(&attr);
        if (rc != 0) break;
        pthread_mutex_lock(&pool.lock);
        pool.nworkers++;
        pthread_mutex_unlock(&pool.lock);
    }
    return pool.nworkers;
}

void fa_set_num_threads(int n)
{
    n = n < 1 ? 1 : (n > FA_MAX_THREADS ? FA_MAX_THREADS : n);
    pthread_mutex_lock(&pool.lock);
    pool.nthreads = n;
    pthread_mutex_unlock(&pool.lock);
}

int fa_get_num_threads(void)
{
    pthread_mutex_lock(&pool.lock);
    int n = pool.nthreads;
    pthread_mutex_unlock(&pool.lock);
    return n;
}

int fa_threads_available(void) { return 1; }

void fa_parallel_for(size_t count, fa_task_fn fn, void *ctx)
{
    if (count == 0) return;
    int n = fa_get_num_threads();
    if ((size_t)n > count) n = (int)count;
    if (n <= 1 || pthread_mutex_trylock(&pool.busy) != 0) {
        fn(ctx, 0, count);
        return;
    }
    int workers = ensure_workers(n - 1);
    int parts = workers + 1 < n ? workers + 1 : n;
    pthread_mutex_lock(&pool.lock);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.count = count;
    pool.parts = parts;
    pool.pending = parts - 1;
    __atomic_store_n(&pool.generation, pool.generation + 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool.start);
    pthread_mutex_unlock(&pool.lock);

    size_t b, e;
    part_range(count, parts, 0, &b, &e);
    fn(ctx, b, e);

    pthread_mutex_lock(&pool.lock);
    while (pool.pending > 0) pthread_cond_wait(&pool.done, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.busy);
}
#endif
