/*
 * vmath.h - inline math for the tensor core's element-wise loops (GELU,
 * the attention softmax): e^x without libm, a fixed-order float sum, an
 * order-preserving integer key for float maxima, VECTOR_CLONES, and
 * VM_KERNEL, which builds a loop for AVX-512, for AVX2 with FMA and plain,
 * and picks one per call by what the CPU has; and, for the AVX-512
 * intrinsics of lib/gemm.c and lib/attention.c, lane masks (vm_lanes16),
 * the fixed-order sum of a vector's lanes (vm_lanes_total512) and an 8 x
 * 8 transpose in registers (vm_tr8x8).  Internal to lib/; not installed.
 *
 * Why not libm and target_clones alone: expf and erff are calls that no
 * compiler vectorises, and a polynomial wants fused multiply-adds (half
 * the instructions, one rounding each), which ISO C only gives through
 * fmaf().  fmaf() is one instruction where the target has FMA and a slow
 * library call where it has not, so the bodies here take an int fused
 * (a constant at each expansion): VM_KERNEL expands a body with fused = 1
 * for the AVX-512 and AVX2+FMA builds and with fused = 0 (plain multiply
 * and add) for the rest.  Both fused builds give the same bits; the plain
 * one may differ in the last place, as OpenBLAS's kernels differ by CPU.
 * Clamps and selects work on the bits where they can: GCC does not always
 * turn a float comparison into a vector select while FP traps are in
 * force.  The few float selects in the kernels are marked, and were seen
 * vectorised in the generated code (objdump -d build/lib/attention.o).
 */
#ifndef SL_VMATH_H
#define SL_VMATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define VM_INLINE static inline __attribute__((always_inline))
#else
#define VM_INLINE static inline
#endif

/* a * b + c: one rounding (an FMA instruction) when fused, else two. */
VM_INLINE float vm_madd(float a, float b, float c, int fused)
{
	return fused ? fmaf(a, b, c) : a * b + c;
}

/* e^x, relative error under 1e-7 for -87 <= x <= 88 (callers keep to
 * that); a NaN gives a NaN.  Cody-Waite reduction x = n ln2 + r, a degree-6
 * polynomial for e^r (Cephes' expf coefficients), and 2^n made from the
 * exponent bits.  n = round(x / ln 2) comes from adding 1.5 * 2^23, whose
 * low mantissa bits are then n itself; all integer work is unsigned, so
 * no input, NaN included, is undefined behaviour. */
VM_INLINE float vm_exp(float x, int fused)
{
	float k, n, r, p, s;
	uint32_t kb, e;

	k = vm_madd(x, 1.44269504088896341f, 12582912.0f, fused);
	n = k - 12582912.0f;
	r = vm_madd(n, -0.693359375f, x, fused);
	r = vm_madd(n, 2.12194440e-4f, r, fused);
	p = 1.9875691500e-4f;
	p = vm_madd(p, r, 1.3981999507e-3f, fused);
	p = vm_madd(p, r, 8.3334519073e-3f, fused);
	p = vm_madd(p, r, 4.1665795894e-2f, fused);
	p = vm_madd(p, r, 1.6666665459e-1f, fused);
	p = vm_madd(p, r, 5.0000001201e-1f, fused);
	p = vm_madd(p * r, r, r, fused) + 1.0f;
	memcpy(&kb, &k, sizeof kb);
	e = (kb + 127u) << 23; /* 1.5 * 2^23's own bits shift out */
	memcpy(&s, &e, sizeof s);
	return p * s;
}

/* A float's bits as an unsigned key with the float order (negatives
 * flipped, positives above them): an integer max, which vectorises, finds
 * the float max exactly.  A NaN with the sign clear is above +inf. */
VM_INLINE uint32_t vm_key(float x)
{
	uint32_t b;

	memcpy(&b, &x, sizeof b);
	return b ^ ((0u - (b >> 31)) | 0x80000000u);
}

VM_INLINE float vm_unkey(uint32_t k)
{
	float x;

	k ^= ((k >> 31) - 1u) | 0x80000000u;
	memcpy(&x, &k, sizeof x);
	return x;
}

/* Sums run in VM_LANES interleaved lanes (element i into lane i % 16),
 * added pairwise at the end: a fixed order, so the same bits every run,
 * and one the compiler vectorises (a single running sum it may not
 * reorder). */
#define VM_LANES 16

VM_INLINE float vm_lanes_total(const float *acc)
{
	float s[VM_LANES / 2];

	for (int k = 0; k < VM_LANES / 2; k++)
		s[k] = acc[k] + acc[k + VM_LANES / 2];
	for (int k = 0; k < VM_LANES / 4; k++)
		s[k] += s[k + VM_LANES / 4];
	return (s[0] + s[2]) + (s[1] + s[3]);
}

/* VM_X86: GCC on x86-64 outside the sanitizer builds, where the library
 * carries code for CPU features it picks at run time.  There VM_T512
 * marks a function built for AVX-512 (intrinsics from immintrin.h) and
 * vm_lanes16(n) is the mask of lanes [0, n) of 16 (n may be <= 0 or
 * >= 16), for the masked loads and stores of short rows. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define VM_X86 1
#include <immintrin.h>
#define VM_T512 __attribute__((target("avx512f")))
VM_T512 static inline __mmask16 vm_lanes16(ptrdiff_t n)
{
	return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* r[0..8) (8 floats each) transposed in place */
VM_T512 static inline __attribute__((always_inline)) void vm_tr8x8(__m256 *r)
{
	__m256 t[8], u[8];

#pragma GCC unroll 4
	for (int i = 0; i < 4; i++) {
		t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
	}
#pragma GCC unroll 2
	for (int i = 0; i < 2; i++) {
		u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
		u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xee);
		u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
		u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xee);
	}
#pragma GCC unroll 4
	for (int i = 0; i < 4; i++) {
		r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
		r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
	}
}

/* vm_lanes_total of the 16 lanes of v: the same additions in the same
 * order, so the same bits */
VM_T512 static inline __attribute__((always_inline)) float vm_lanes_total512(__m512 v)
{
	__m256 h = _mm256_add_ps(_mm512_castps512_ps256(v),
	                         _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
	__m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
	float s[4];

	_mm_storeu_ps(s, q);
	return (s[0] + s[2]) + (s[1] + s[3]);
}
#else
#define VM_X86 0
#endif

/* Whether the AVX-512 builds may run: VM_X86 and a CPU with AVX-512F. */
static inline int vm_avx512(void)
{
#if VM_X86
	return __builtin_cpu_supports("avx512f");
#else
	return 0;
#endif
}

/* VECTOR_CLONES: a loop without multiply-adds (the same bits in every
 * build) compiled for AVX-512, AVX2 and plain SSE2, one picked at load
 * time (GCC's target_clones); a plain function elsewhere and under the
 * sanitizers. */
#if VM_X86
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/* VM_KERNEL(name, (params), args...) defines static void name(params)
 * from an always-inline body name_body(int fused, args...): it runs the
 * body built for AVX-512 or for AVX2 with FMA when the CPU has them (GCC
 * on x86-64), else the plain build; elsewhere the one build, fused where
 * fmaf is an instruction (__FP_FAST_FMAF).  Sanitizer builds take the
 * plain path only. */
#if VM_X86
#define VM_KERNEL(name, params, ...)                                            \
	__attribute__((target("avx512f"))) static void name##_avx512 params     \
	{                                                                       \
		name##_body(1, __VA_ARGS__);                                    \
	}                                                                       \
	__attribute__((target("arch=x86-64-v3"))) static void name##_fma params \
	{                                                                       \
		name##_body(1, __VA_ARGS__);                                    \
	}                                                                       \
	static void name params                                                 \
	{                                                                       \
		if (__builtin_cpu_supports("avx512f"))                          \
			name##_avx512(__VA_ARGS__);                             \
		else if (__builtin_cpu_supports("avx2") &&                      \
		         __builtin_cpu_supports("fma"))                         \
			name##_fma(__VA_ARGS__);                                \
		else                                                            \
			name##_body(0, __VA_ARGS__);                            \
	}
#else
#ifdef __FP_FAST_FMAF
#define VM_FUSED 1
#else
#define VM_FUSED 0
#endif
#define VM_KERNEL(name, params, ...) \
	static void name params      \
	{                            \
		name##_body(VM_FUSED, __VA_ARGS__); \
	}
#endif

#endif
