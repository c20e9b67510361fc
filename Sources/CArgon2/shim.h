#ifndef PARLEY_CARGON2_SHIM_H
#define PARLEY_CARGON2_SHIM_H
#include <argon2.h>
#include <malloc.h>

// Each hash works in one large block that is freed at once. glibc serves such blocks with
// mmap, but after the first is freed it raises its mmap threshold to their size and keeps
// later ones in its per-thread heaps, where they stay resident. A fixed threshold turns that
// adaptation off: every block of 1 MiB or more goes back to the system when freed.
static inline void parley_return_large_blocks_to_system(void) { mallopt(M_MMAP_THRESHOLD, 1 << 20); }
#endif
