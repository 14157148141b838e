/*
 * kmalloc.h: general-purpose kernel allocation by size.
 *
 * kmalloc(size) rounds size up to one of the size classes (16 B .. 64 KiB:
 * steps of 16 up to 128, then eight classes per doubling, so no request
 * above 128 bytes wastes more than 12.5%) and takes an object from that
 * class's zone (vm/zone.h); larger requests take whole frames from the
 * page allocator (in O(log n) up to 4 MiB, see kmalloc.c) and record the
 * size in the first frame's struct vm_page.  kfree() needs no size: it
 * finds the zone or the run from the address.
 *
 * Alignment: at least 16 bytes; a power-of-two size gets its natural
 * alignment (a request of 2^k bytes lands in the class of exactly 2^k, or
 * in 2^k-aligned frames); other sizes above 64 KiB are page aligned.
 *
 * Contexts: kmalloc/kfree/ksize run in thread context with interrupts on
 * or off, never in an interrupt handler (as zone_alloc/zone_free).  They
 * never sleep.  kmalloc returns NULL only when memory is exhausted (after
 * reclaim unless KM_NORECLAIM) or under failure injection.
 *
 * Misuse panics with the address: kfree of a pointer kmalloc did not
 * return (foreign memory, an interior pointer), double free (checked by
 * the zone layer in debug builds; always for large allocations).
 */
#ifndef RVMM_VM_KMALLOC_H
#define RVMM_VM_KMALLOC_H

#include <stdbool.h>
#include <stddef.h>

#include "vm/zone.h"

#define KM_ZERO ZALLOC_ZERO		/* zero-filled */
#define KM_NORECLAIM ZALLOC_NORECLAIM	/* fail rather than reclaim */

#define KMALLOC_MIN 16
#define KMALLOC_MAX_CLASS 8192		/* largest small class (16 B steps
					   in the inline lookup) */
#define KMALLOC_MAX_BIG 65536		/* largest class; larger: frames */

/*
 * kmalloc_init: creates the size-class zones.
 * pre: boot cpu, once, after zone_init().
 */
void kmalloc_init(void);

/* size 0 is served as 1 byte. */
void *kmalloc(size_t size, unsigned flags);
/* kfree(NULL) does nothing. */
void kfree(void *p);
/* The usable size of an allocation (its class size, or the size asked
   for above KMALLOC_MAX_BIG). */
size_t ksize(const void *p);

/* Size classes, for tests and statistics. */
unsigned kmalloc_nclasses(void);
size_t kmalloc_class_size(unsigned i);
zone_t kmalloc_class_zone(unsigned i);
/* The class zone a request of `size` bytes uses (NULL above the classes). */
zone_t kmalloc_zone_for(size_t size);

/*
 * Switches every class zone between magazines and the no-magazine
 * baseline, turns debug checking on or off (-EBUSY if a class still has
 * objects out), arms failure injection (classes and large allocations),
 * and reaps every class.
 * => thread context, interrupts enabled, no concurrent kmalloc use.
 */
void kmalloc_set_magazines(bool on);
int kmalloc_set_debug(bool on);
void kmalloc_set_fail_every(unsigned n);
size_t kmalloc_reap_all(void);

struct kmalloc_stats {
	uint64_t large_allocs;	/* allocations above KMALLOC_MAX_BIG */
	uint64_t large_frees;
	uint64_t large_pages;	/* frames held by large allocations now */
	uint64_t failures;	/* large allocations that failed */
};
void kmalloc_stats(struct kmalloc_stats *out);

#endif /* RVMM_VM_KMALLOC_H */
