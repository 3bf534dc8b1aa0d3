/* core/ops/half.h: scalar conversions between float32 and the two 16-bit
 * floating types, bit-exact, shared by the CPU kernels (C) and their CUDA
 * twins (MT_HD marks them __host__ __device__ under nvcc).
 *
 *  - bfloat16 (MT_BF16): the upper 16 bits of a float32 (8-bit exponent, 7-bit
 *    mantissa). float32 -> bf16 rounds to nearest, ties to even, like
 *    c10::BFloat16 (torch `x.to(torch.bfloat16)`); a NaN becomes the quiet NaN
 *    0x7FC0 (torch's canonical NaN); inf and subnormals follow from the bits.
 *  - float16 (MT_F16): IEEE 754 binary16 (5-bit exponent, 10-bit mantissa).
 *    float32 -> f16 rounds to nearest even, gradual underflow to f16
 *    subnormals (2^-24 steps), |x| >= 65520 becomes inf, a NaN stays a quiet
 *    NaN with its sign (torch `x.to(torch.float16)`).
 *  - Both widen to float32 exactly.
 * Integer arithmetic only: the result does not depend on the FPU's rounding
 * mode or on flush-to-zero. */
#ifndef MT_HALF_H
#define MT_HALF_H

#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define MT_HD __host__ __device__ __forceinline__
#else
#define MT_HD static inline
#endif

MT_HD uint32_t mt_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

MT_HD float mt_f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* float32 -> bfloat16 bits, round to nearest even; NaN -> 0x7FC0. */
MT_HD uint16_t mt_f32_to_bf16(float f)
{
    const uint32_t u = mt_f32_bits(f);
    const uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? 0x7fc0u : r); /* branch-free: vectorises */
}

/* bfloat16 bits -> float32 (exact). */
MT_HD float mt_bf16_to_f32(uint16_t h) { return mt_f32_from_bits((uint32_t)h << 16); }

/* float32 -> IEEE binary16 bits, round to nearest even. */
MT_HD uint16_t mt_f32_to_f16(float f)
{
    const uint32_t x = mt_f32_bits(f);
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    const uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u); /* NaN: quiet NaN, sign kept (as torch) */
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);                         /* >= 65520: inf */
    if (ax >= 0x38800000u) {                                                           /* normal: |x| >= 2^-14 */
        uint32_t r = ax - 0x38000000u;                                                 /* exponent bias 127 -> 15 */
        r += 0xfffu + ((r >> 13) & 1u);
        return (uint16_t)(sign | (r >> 13));
    }
    if (ax <= 0x33000000u) return sign; /* |x| <= 2^-25: 0 (2^-25 is a tie, to even) */
    /* subnormal: units of 2^-24; the float's significand m * 2^(e-150) = m >> (126 - e) units */
    const uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - e; /* 14..24 */
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (uint16_t)(sign | q);
}

/* IEEE binary16 bits -> float32 (exact). */
MT_HD float mt_f16_to_f32(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1fu) return mt_f32_from_bits(sign | 0x7f800000u | (m << 13));
    if (e) return mt_f32_from_bits(sign | ((e + 112u) << 23) | (m << 13));
    if (!m) return mt_f32_from_bits(sign);
    uint32_t sh = 0;
    while (!(m & 0x400u)) {
        m <<= 1;
        sh++;
    }
    return mt_f32_from_bits(sign | ((113u - sh) << 23) | ((m & 0x3ffu) << 13));
}

/* float32 rounded to bfloat16 / float16 precision, kept as float32. */
MT_HD float mt_round_bf16(float f) { return mt_bf16_to_f32(mt_f32_to_bf16(f)); }
MT_HD float mt_round_f16(float f) { return mt_f16_to_f32(mt_f32_to_f16(f)); }

#endif
