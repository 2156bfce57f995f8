/*
 * engine/kernels/quants_packk_gfni.c - the packed Q4_K / Q6_K kernels of
 * quants_packk_avx512.c built with GFNI, for the CPUs that have it (the dispatch picks them
 * at the avx512vbmi level when the probe finds GFNI); their names end in _gfni
 * (CMakeLists.txt builds this file with -mgfni).
 */
#include "engine/kernels/quants_packk_avx512.c"
