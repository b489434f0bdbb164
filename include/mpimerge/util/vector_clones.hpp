#pragma once
// MPIMERGE_VECTOR_CLONES on a hot loop's function compiles it twice, for AVX2 and for the x86-64
// baseline, and picks one at load time for the CPU at hand: cluster binaries stay portable and
// still use wide vectors. Results are the same bits either way: the loops are element-wise (no
// reassociated sums) and FMA contraction is off (-ffp-contract=off).
// clang (the fuzz build) does not clone templates: it gets the baseline only.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(MPIMERGE_NO_VECTOR_CLONES)
#define MPIMERGE_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define MPIMERGE_VECTOR_CLONES
#endif
