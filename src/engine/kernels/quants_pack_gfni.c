/*
 * engine/kernels/quants_pack_gfni.c - the packed Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 kernels of
 * quants_pack_avx512.c built with GFNI (the high nibbles by one gf2p8affineqb), for the CPUs
 * that have it (the dispatch takes them at the avx512vbmi level when the probe finds GFNI);
 * their names end in _gfni (CMakeLists.txt builds this file with -mgfni).
 */
#include "engine/kernels/quants_pack_avx512.c"
