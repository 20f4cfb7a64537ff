// Element-wise loops of the fused training nodes get an AVX2 clone besides the baseline x86-64
// one, picked at load time by the CPU (the Debian build targets plain x86-64).
#pragma once

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define GEX_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GEX_VECTOR_CLONES
#endif
