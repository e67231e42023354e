#ifndef SLUICE_ALLOCATION_COUNTER_H
#define SLUICE_ALLOCATION_COUNTER_H

/// Counts heap allocations (malloc, calloc, realloc, the aligned variants) made on threads that asked to be
/// counted. Linked into the test executable, it defines those functions itself and hands every call to glibc's
/// allocator (`__libc_malloc` and friends), so it sees the allocations of Swift, NIO and libc alike.

/// Starts (1) or stops (0) counting the allocations of the calling thread.
void sluice_allocations_count_this_thread(int on);

/// Allocations counted so far, over every thread that counts.
long sluice_allocations_counted(void);

/// Whether the counter is really in the allocation path (the executable's symbols interpose libc's).
int sluice_allocations_interposed(void);

/// 1 when built under a sanitizer, which owns malloc: there is no counter then (scripts/sanitize).
int sluice_allocations_sanitized(void);

#endif
