// The allocation counter of AllocationCounter.h. Defined in the executable, these functions take the place of
// libc's for the whole process (ELF symbol interposition); uncounted threads pay one thread-local load per call.
#include "AllocationCounter.h"

// Under AddressSanitizer or ThreadSanitizer (scripts/sanitize) the sanitizer owns malloc: interposing it as well
// would hand its blocks to libc's free. The counter is then left out, and the allocation tests are skipped.
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SLUICE_NO_INTERPOSITION 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SLUICE_NO_INTERPOSITION 1
#endif

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

#ifdef SLUICE_NO_INTERPOSITION
int sluice_allocations_sanitized(void) { return 1; }
#else
int sluice_allocations_sanitized(void) { return 0; }

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
#endif
