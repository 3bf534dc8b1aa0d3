/* core/rng.h: counter-based random numbers (Philox4x32-10, Salmon et al.,
 * SC'11; the generator of curand and PyTorch's CUDA backend). A value depends
 * only on (seed, counter), so CPU and CUDA, and any number of threads, give the
 * same numbers: element i of a draw at `offset` uses counter offset + i.
 * Header-only so CUDA kernels use the very same code.
 */
#ifndef MT_RNG_H
#define MT_RNG_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define MT_HD __host__ __device__ __forceinline__
#else
#define MT_HD static inline
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_philox4 { uint32_t v[4]; } mt_philox4;

MT_HD uint32_t mt_mulhilo32(uint32_t a, uint32_t b, uint32_t *hi)
{
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

/* Philox4x32-10 block for 128-bit counter (c0..c3) and 64-bit key. */
MT_HD mt_philox4 mt_philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                               uint32_t k0, uint32_t k1)
{
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = mt_mulhilo32(0xD2511F53u, c0, &hi0);
        uint32_t lo1 = mt_mulhilo32(0xCD9E8D57u, c2, &hi1);
        uint32_t n0 = hi1 ^ c1 ^ k0;
        uint32_t n2 = hi0 ^ c3 ^ k1;
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    mt_philox4 out = {{c0, c1, c2, c3}};
    return out;
}

/* 32 random bits for (seed, counter). */
MT_HD uint32_t mt_philox_u32(uint64_t seed, uint64_t counter)
{
    mt_philox4 r = mt_philox4x32((uint32_t)counter, (uint32_t)(counter >> 32), 0u, 0u,
                                 (uint32_t)seed, (uint32_t)(seed >> 32));
    return r.v[0];
}

/* Uniform in [0, 1) with 24 random bits (exactly representable in float). */
MT_HD float mt_philox_uniform(uint64_t seed, uint64_t counter)
{
    return (float)(mt_philox_u32(seed, counter) >> 8) * (1.0f / 16777216.0f);
}

/* Uniform in [0, 1) with 53 random bits, for double-precision uses. */
MT_HD double mt_philox_uniform_d(uint64_t seed, uint64_t counter)
{
    mt_philox4 r = mt_philox4x32((uint32_t)counter, (uint32_t)(counter >> 32), 1u, 0u,
                                 (uint32_t)seed, (uint32_t)(seed >> 32));
    uint64_t bits = ((uint64_t)(r.v[0] >> 5) << 26) | (uint64_t)(r.v[1] >> 6);
    return (double)bits * (1.0 / 9007199254740992.0);
}

/* Standard normal (Box-Muller on two independent uniforms of this counter). */
MT_HD double mt_philox_normal(uint64_t seed, uint64_t counter)
{
    mt_philox4 r = mt_philox4x32((uint32_t)counter, (uint32_t)(counter >> 32), 2u, 0u,
                                 (uint32_t)seed, (uint32_t)(seed >> 32));
    double u1 = ((double)r.v[0] + 1.0) * (1.0 / 4294967297.0); /* (0,1] */
    double u2 = (double)r.v[1] * (1.0 / 4294967296.0);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* A stream: a seed plus the next unused counter. Each draw of n numbers takes
 * counters [offset, offset + n) and advances offset by n. */
typedef struct mt_rng {
    uint64_t seed;
    uint64_t offset;
} mt_rng;

/* Returns the current offset and advances the stream by n counters. */
MT_HD uint64_t mt_rng_next_offset(mt_rng *r, uint64_t n)
{
    uint64_t o = r->offset;
    r->offset += n;
    return o;
}

/* A derived seed for a sub-stream (e.g. per (seed, epoch, sample) for
 * augmentation): one Philox block of the three keys. */
MT_HD uint64_t mt_rng_derive(uint64_t seed, uint64_t a, uint64_t b)
{
    mt_philox4 r = mt_philox4x32((uint32_t)a, (uint32_t)(a >> 32), (uint32_t)b, (uint32_t)(b >> 32),
                                 (uint32_t)seed, (uint32_t)(seed >> 32));
    return ((uint64_t)r.v[0] << 32) | r.v[1];
}

#ifdef __cplusplus
}
#endif
#endif
