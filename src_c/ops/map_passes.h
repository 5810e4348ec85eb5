/* Part of the op templates (see ops/dtype.h): the element-wise passes of the
 * SIMD levels (FA_VEC), written once over the level's vector primitives
 * FA_V(name) (simd/README.md): y[j] = F(x[j]) (vmap1) and y[j] = F(g[j], x[j])
 * (vmap2), and the copy of a stack tile to y (vput_tile) for the maps whose
 * arithmetic is plain C.  Element-wise, so how the elements are split into
 * vectors changes no result; y may be x or g exactly (each element is read
 * before its own store).
 *
 * Streaming stores: an output of at least FA_STREAM_BYTES (runtime/kernels.h;
 * per kernel call: the thread pool hands each thread one contiguous range) is
 * written with non-temporal stores, after a head of plain stores up to the
 * vector alignment of y.  They skip the read-for-ownership of every output
 * line (a third of the memory traffic of a one-input map) and keep the
 * output from evicting the inputs; they pay off only when the output does
 * not fit in the caches anyway (below the threshold a caller would read y
 * from cache next).  Measured (one thread, repeated calls, against a build
 * that never streams): avx512 (Zen 4) relu and relu_backward 1.2-1.4x faster
 * from 4 MiB to 16 MiB outputs, 1.5-3.4x from 32 MiB on; avx2 (Zen 3 class)
 * relu 1.8-3.6x slower at 4 MiB, 1.7-2.5x faster at 8 MiB, 1.3-1.8x from
 * 32 MiB on.
 * The pass ends with the level's fence, so the streamed stores are ordered
 * before the kernel returns. */

#define FA_ML FA_V(LANES)

/* stream y[0 .. len)?  (y element-aligned: a vector boundary is reachable) */
static inline int FA_FN(vstream_ok)(const T *y, size_t len)
{
    return len * sizeof(T) >= FA_STREAM_BYTES && (uintptr_t)y % sizeof(T) == 0;
}

/* elements before y + j is aligned to a whole vector (< LANES) */
static inline size_t FA_FN(vhead)(const T *y)
{
    const size_t vb = FA_ML * sizeof(T);
    return (vb - (uintptr_t)y % vb) % vb / sizeof(T);
}

/* y[j] = F(k, a[j]) (vmap1) or F(k, a[j], b[j]) (vmap2) over n elements: a
 * head of r_ < LANES elements when streaming (up to y's vector alignment),
 * U_MAP vectors per step, single vectors, the partial last vector
 * (load_part / store_part: nothing past the end read or written). */
#define FA_MLOAD_(p, j) FA_V(loadu)((p) + (j))
#define FA_MPART_(p, j) FA_V(load_part)((p) + (j), r_, (T)0)
#define FA_MARGS1_(a, b, j, L) L(a, j)
#define FA_MARGS2_(a, b, j, L) L(a, j), L(b, j)
#define FA_VMAP_(ARGS, a, b, y, n, F, k)                                                       \
    do {                                                                                       \
        size_t j_ = 0, n_ = (n), r_ = 0;                                                       \
        const int st_ = FA_FN(vstream_ok)((y), n_);                                            \
        if (st_) r_ = FA_FN(vhead)(y);                                                         \
        if (r_ > 0) {                                                                          \
            FA_V(store_part)((y), r_, F(k, ARGS(a, b, 0, FA_MPART_)));                        \
            j_ = r_;                                                                           \
        }                                                                                      \
        for (; j_ + FA_V(U_MAP) * FA_ML <= n_; j_ += FA_V(U_MAP) * FA_ML) {                    \
            FA_V(t) v_[FA_V(U_MAP)];                                                           \
            for (int i_ = 0; i_ < FA_V(U_MAP); i_++)                                           \
                v_[i_] = F(k, ARGS(a, b, j_ + i_ * FA_ML, FA_MLOAD_));                         \
            if (st_)                                                                           \
                for (int i_ = 0; i_ < FA_V(U_MAP); i_++) FA_V(stream)((y) + j_ + i_ * FA_ML, v_[i_]); \
            else                                                                               \
                for (int i_ = 0; i_ < FA_V(U_MAP); i_++) FA_V(storeu)((y) + j_ + i_ * FA_ML, v_[i_]); \
        }                                                                                      \
        for (; j_ + FA_ML <= n_; j_ += FA_ML) {                                                \
            FA_V(t) v_ = F(k, ARGS(a, b, j_, FA_MLOAD_));                                      \
            if (st_) FA_V(stream)((y) + j_, v_);                                               \
            else FA_V(storeu)((y) + j_, v_);                                                   \
        }                                                                                      \
        if (j_ < n_) {                                                                         \
            r_ = n_ - j_;                                                                      \
            FA_V(store_part)((y) + j_, r_, F(k, ARGS(a, b, j_, FA_MPART_)));                   \
        }                                                                                      \
        if (st_) FA_V(fence)();                                                                \
    } while (0)
#define FA_VMAP1(x, y, n, F, k) FA_VMAP_(FA_MARGS1_, x, x, y, n, F, k)
#define FA_VMAP2(g, x, y, n, F, k) FA_VMAP_(FA_MARGS2_, g, x, y, n, F, k)

/* Maps whose arithmetic is plain C compute FA_TILE elements at a time into a
 * stack tile and copy it out with vput_tile.  st: vstream_ok of the whole
 * output; the first tile is then shorter by y's head (vtile_first), so that
 * every later tile starts at a vector boundary of y (FA_TILE elements are a
 * whole number of vectors). */
static inline size_t FA_FN(vtile_first)(const T *y, int st)
{
    return st ? FA_TILE - FA_FN(vhead)(y) : FA_TILE;
}
/* y[0 .. n) = tile[0 .. n), n <= FA_TILE: when st, a head up to y's vector
 * alignment with a partial store, then whole vectors streamed; else plain
 * stores; the partial last vector with store_part. */
static inline void FA_FN(vput_tile)(const T *tile, T *y, size_t n, int st)
{
    size_t j = 0;
    if (st) {
        size_t r = FA_FN(vhead)(y);
        if (r > n) r = n;
        if (r > 0) FA_V(store_part)(y, r, FA_V(load_part)(tile, r, (T)0));
        for (j = r; j + FA_ML <= n; j += FA_ML) FA_V(stream)(y + j, FA_V(loadu)(tile + j));
    } else {
        for (; j + FA_ML <= n; j += FA_ML) FA_V(storeu)(y + j, FA_V(loadu)(tile + j));
    }
    if (j < n) FA_V(store_part)(y + j, n - j, FA_V(load_part)(tile + j, n - j, (T)0));
}
