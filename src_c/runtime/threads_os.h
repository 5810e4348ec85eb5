/* The platform primitives of the worker pool (threads.c), so that the pool
 * is one algorithm on either system:
 *   - POSIX threads (FA_HAVE_PTHREADS, set by setup.py off Windows);
 *   - Win32 (_WIN32: SRWLOCK, CONDITION_VARIABLE, _beginthreadex; Windows 7
 *     or later, which every supported CPython requires);
 *   - none (FA_NO_THREADS, set by setup.py for FASTACT_NO_THREADS=1, or
 *     neither of the above): FA_THREADS_OS is 0 and the pool runs serially.
 * fa_mutex_trylock returns 0 when it took the lock (as pthread_mutex_trylock). */
#ifndef FA_THREADS_OS_H
#define FA_THREADS_OS_H

#include <stddef.h>
#include <stdint.h>

#if defined(FA_NO_THREADS)
#define FA_THREADS_OS 0
#elif defined(_WIN32)
#define FA_THREADS_OS 1
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <process.h>

typedef SRWLOCK fa_mutex;
typedef CONDITION_VARIABLE fa_cond;
#define FA_MUTEX_INIT SRWLOCK_INIT
#define FA_COND_INIT CONDITION_VARIABLE_INIT
static inline void fa_mutex_lock(fa_mutex *m) { AcquireSRWLockExclusive(m); }
static inline void fa_mutex_unlock(fa_mutex *m) { ReleaseSRWLockExclusive(m); }
static inline int fa_mutex_trylock(fa_mutex *m) { return TryAcquireSRWLockExclusive(m) ? 0 : 1; }
static inline void fa_cond_wait(fa_cond *c, fa_mutex *m) { SleepConditionVariableSRW(c, m, INFINITE, 0); }
static inline void fa_cond_signal(fa_cond *c) { WakeConditionVariable(c); }
static inline void fa_cond_broadcast(fa_cond *c) { WakeAllConditionVariable(c); }
static inline void fa_cpu_relax(void) { YieldProcessor(); }
/* Nothing survives into a child process on Windows (no fork). */
static inline void fa_at_fork_child(void (*fn)(void)) { (void)fn; }

/* A thread function: FA_THREAD_FN(name, arg) { ... return FA_THREAD_RETURN; } */
#define FA_THREAD_FN(name, arg) static unsigned __stdcall name(void *arg)
#define FA_THREAD_RETURN 0
typedef unsigned(__stdcall *fa_thread_fn)(void *);
/* Start a detached thread (its handle closed at once); 0 on success.  The
 * CRT's _beginthreadex, not CreateThread, since the kernels call the C
 * library (exp, log). */
static inline int fa_thread_start(fa_thread_fn fn, void *arg)
{
    uintptr_t h = _beginthreadex(NULL, 0, fn, arg, 0, NULL);
    if (h == 0) return 1;
    CloseHandle((HANDLE)h);
    return 0;
}

#elif defined(FA_HAVE_PTHREADS)
#define FA_THREADS_OS 1
#include <pthread.h>

typedef pthread_mutex_t fa_mutex;
typedef pthread_cond_t fa_cond;
#define FA_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER
#define FA_COND_INIT PTHREAD_COND_INITIALIZER
static inline void fa_mutex_lock(fa_mutex *m) { pthread_mutex_lock(m); }
static inline void fa_mutex_unlock(fa_mutex *m) { pthread_mutex_unlock(m); }
static inline int fa_mutex_trylock(fa_mutex *m) { return pthread_mutex_trylock(m); }
static inline void fa_cond_wait(fa_cond *c, fa_mutex *m) { pthread_cond_wait(c, m); }
static inline void fa_cond_signal(fa_cond *c) { pthread_cond_signal(c); }
static inline void fa_cond_broadcast(fa_cond *c) { pthread_cond_broadcast(c); }
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void fa_cpu_relax(void) { _mm_pause(); }
#else
static inline void fa_cpu_relax(void) {}
#endif
static inline void fa_at_fork_child(void (*fn)(void)) { pthread_atfork(NULL, NULL, fn); }

#define FA_THREAD_FN(name, arg) static void *name(void *arg)
#define FA_THREAD_RETURN NULL
typedef void *(*fa_thread_fn)(void *);
/* Workers get at least this much stack: the column kernels keep ~48 KiB of
 * tiles on it, and musl's default thread stack is 128 KiB. */
#define FA_WORKER_STACK ((size_t)1 << 20)
static inline int fa_thread_start(fa_thread_fn fn, void *arg)
{
    pthread_t t;
    pthread_attr_t attr;
    size_t stack = 0;
    if (pthread_attr_init(&attr) != 0) return 1;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_attr_getstacksize(&attr, &stack) == 0 && stack < FA_WORKER_STACK)
        pthread_attr_setstacksize(&attr, FA_WORKER_STACK);
    int rc = pthread_create(&t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return rc != 0;
}

#else
#define FA_THREADS_OS 0
#endif

#if FA_THREADS_OS
/* The floating-point control state of a thread (rounding, flush-to-zero,
 * denormals-are-zero, exception masks, x87 precision), which the workers
 * take from the caller with each job (threads.c).  On x86-64 the registers
 * themselves: MXCSR without its sticky flags, and the x87 control word
 * (mingw-w64's log1p runs on the x87; its fesetenv leaves MXCSR as it
 * was); MSVC has no x87 code on x64 and no inline asm there.  Elsewhere
 * the C library's fenv (aarch64: FPCR and FPSR). */
#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
typedef struct {
    unsigned int mxcsr;
    unsigned short x87;
} fa_fpstate;
#define FA_MXCSR_FLAGS 0x3Fu
static inline void fa_fp_get(fa_fpstate *s)
{
    s->mxcsr = _mm_getcsr() & ~FA_MXCSR_FLAGS;
#if defined(__GNUC__) || defined(__clang__)
    __asm__ volatile("fnstcw %0" : "=m"(s->x87));
#else
    s->x87 = 0;
#endif
}
static inline void fa_fp_set(const fa_fpstate *s)
{
    _mm_setcsr((_mm_getcsr() & FA_MXCSR_FLAGS) | s->mxcsr);
#if defined(__GNUC__) || defined(__clang__)
    __asm__ volatile("fldcw %0" : : "m"(s->x87));
#endif
}
#else
#include <fenv.h>
typedef struct {
    fenv_t env;
} fa_fpstate;
static inline void fa_fp_get(fa_fpstate *s) { fegetenv(&s->env); }
static inline void fa_fp_set(const fa_fpstate *s) { fesetenv(&s->env); }
#endif

/* The job counter's reads while spinning (fa_gen_peek) only have to notice
 * that it changed: the job itself is then read under the pool's lock, which
 * orders everything.  Written under that lock (fa_gen_set). */
#if defined(_MSC_VER) && !defined(__clang__)
/* MSVC: an aligned volatile access is a single load / store */
static inline unsigned long fa_gen_peek(const unsigned long *p) { return *(const volatile unsigned long *)p; }
static inline void fa_gen_set(unsigned long *p, unsigned long v) { *(volatile unsigned long *)p = v; }
#else
static inline unsigned long fa_gen_peek(const unsigned long *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void fa_gen_set(unsigned long *p, unsigned long v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
#endif
#endif

#endif /* FA_THREADS_OS_H */
