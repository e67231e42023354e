// The allocation counter of AllocationCounter.h. Defined in the executable, these functions take the place of
// libc's for the whole process (ELF symbol interposition); uncounted threads pay one thread-local load per call.
#include "AllocationCounter.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void __libc_free(void *pointer);
extern void *__libc_memalign(size_t alignment, size_t size);

static _Thread_local int counting = 0;
static atomic_long counted = 0;
static atomic_int seen = 0;

static inline void note(void) {
    atomic_store_explicit(&seen, 1, memory_order_relaxed);
    if (counting) atomic_fetch_add_explicit(&counted, 1, memory_order_relaxed);
}

void sluice_allocations_count_this_thread(int on) { counting = on; }
long sluice_allocations_counted(void) { return atomic_load_explicit(&counted, memory_order_relaxed); }

int sluice_allocations_interposed(void) {
    atomic_store_explicit(&seen, 0, memory_order_relaxed);
    void *volatile probe = __builtin_malloc(24);  // through the PLT: ours if interposition works
    __builtin_free(probe);
    return atomic_load_explicit(&seen, memory_order_relaxed);
}

void *malloc(size_t size) {
    note();
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    note();
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    note();
    return __libc_realloc(pointer, size);
}

void free(void *pointer) { __libc_free(pointer); }

void *memalign(size_t alignment, size_t size) {
    note();
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    note();
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    note();
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL && size != 0) return ENOMEM;
    *result = pointer;
    return 0;
}

void *valloc(size_t size) {
    note();
    return __libc_memalign(4096, size);
}
