/*
 * zone.h: object caches ("zones") for fixed-size kernel objects.
 *
 * A zone hands out objects of one size and alignment.  It sits on the page
 * allocator (vm/page.h) and keeps freed objects for quick reuse on the cpu
 * that freed them, so the common alloc and free touch no shared cache line
 * and take no lock.  How it does that is private (vm/zone_impl.h); this
 * header is the contract.
 *
 * Construction.  Two kinds of initialisation must not be confused:
 *   - zone_init() is the one-time set-up of the zone layer itself (boot);
 *   - a zone's constructor `ctor(obj)` puts one object into its constructed
 *     state (locks initialised, lists empty, ...).  It runs when an object
 *     enters the zone's cache from raw memory, NOT on every zone_alloc: an
 *     object freed with zone_free() stays constructed and may be handed out
 *     again without running the constructor.  The caller must therefore
 *     free objects in their constructed state.  The destructor `dtor(obj)`
 *     runs when the zone gives an object's memory back (zone_reap, reclaim,
 *     zone_destroy, or when the zone runs without its per-cpu caches).
 *     Both may be NULL; both run in the context of the zone call that
 *     triggered them (possibly with interrupts off, never in an IPI handler)
 *     and must not call into the same zone.
 *
 * Contexts.  Unless a call says otherwise:
 *   - zone_alloc() and zone_free() may run in thread context with
 *     interrupts on or off.  They never sleep.  They must NOT run from an
 *     IPI or other interrupt handler (they may call the page allocator,
 *     which may cross-call other cpus, and a zone's reclaim runs its
 *     per-cpu flush as an IPI).  They must not be called from a zone's own
 *     constructor or destructor.  They keep the calling thread on its
 *     cpu themselves (hal_preempt_disable) and do not mask interrupts on
 *     their common path.
 *   - zone_create(), zone_destroy(), zone_reap(), zone_reap_all(),
 *     zone_set_magazines() run in thread context with interrupts enabled
 *     (some cross-call every cpu), with no zone or page lock held.
 *   - zone_stats(), zone_cpu_stats(), zone_is_valid() may run in any
 *     thread context; figures about other cpus may be slightly stale.
 *   - zone_alloc(), zone_free() and the management calls are not
 *     reentrant from a zone's constructor or destructor on the same zone.
 *
 * Failure.  zone_alloc() returns NULL when the page allocator has no
 * memory left for a new slab (after asking every reclaim hook, unless
 * ZALLOC_NORECLAIM is given) or when failure injection says so
 * (zone_set_fail_every).  Nothing else fails.  Fallible management calls
 * return 0 or a negative errno.
 *
 * Misuse panics with the function, the zone name and the address: freeing
 * an object twice, freeing it to another zone, freeing a pointer that is
 * not an object start, and (debug zones) an overflow into the redzone or a
 * write to a freed object.
 */
#ifndef RVMM_VM_ZONE_H
#define RVMM_VM_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opaque handle. */
typedef struct zone *zone_t;

typedef void (*zone_ctor_t)(void *obj);
typedef void (*zone_dtor_t)(void *obj);

/* zone_create flags */
#define ZONE_NOMAG 0x1u		/* no per-cpu magazines: every alloc and
				   free goes to the slab layer under the
				   zone lock (the "nomag" baseline) */
#define ZONE_DEBUG 0x2u		/* poison, redzones, state tags (default
				   on when VM_DEBUG_LEVEL >= 2) */
#define ZONE_NODEBUG 0x4u	/* never debug, whatever the level */

/* zone_alloc flags */
#define ZALLOC_ZERO 0x1u	/* zero the object (zones without ctor) */
#define ZALLOC_NORECLAIM 0x2u	/* fail rather than run reclaim hooks */

#define ZONE_NAME_MAX 32

/*
 * zone_init: sets up the zone layer (the magazine zones, the reclaim hook).
 * pre: boot cpu, once, after page_init() (from vm_boot), before any other
 *      zone call.
 */
void zone_init(void);

/*
 * zone_create: a new zone of objects of `size` bytes (1 .. 16 KiB),
 * aligned to `align` (0 for the default of 16 bytes, or a power of two
 * from 8 to 32 KiB).  `name` is copied (ZONE_NAME_MAX - 1 chars kept).
 * ctor/dtor: see Construction above (either may be NULL).  flags:
 * ZONE_NOMAG, ZONE_DEBUG, ZONE_NODEBUG.
 * => thread context, interrupts enabled.
 * => returns the zone, or NULL when memory for its descriptor is lacking
 *    or an argument is invalid.
 */
zone_t zone_create(const char *name, size_t size, size_t align,
    zone_ctor_t ctor, zone_dtor_t dtor, unsigned flags);

/*
 * zone_destroy: gives every cached object and slab back and frees the zone.
 * => thread context, interrupts enabled, no concurrent call on this zone.
 * => returns 0, or -EBUSY when objects are still allocated (the zone is
 *    left intact and usable: its caches have been emptied).
 */
int zone_destroy(zone_t z);

/*
 * zone_alloc: one constructed object, or NULL (see Failure above).
 * => thread context, interrupts on or off; not in an interrupt handler.
 */
void *zone_alloc(zone_t z, unsigned flags);

/*
 * zone_free: returns an object obtained from zone_alloc(z).  obj must not
 * be NULL.  Freeing on another cpu than the allocating one is fine.
 * => thread context, interrupts on or off; not in an interrupt handler.
 * => panics on misuse (double free, wrong zone, bad pointer; debug:
 *    redzone overflow).
 */
void zone_free(zone_t z, void *obj);

/*
 * zone_reap: gives back what lies outside the zone's working set: cached
 * objects the zone did not need since the previous zone_reap() (their
 * magazines sat in the depot the whole interval), and empty slabs beyond a
 * small reserve.  Objects held by the cpus stay.
 * => thread context, interrupts enabled.  Returns the frames freed.
 */
size_t zone_reap(zone_t z);

/*
 * zone_reap_all: gives back everything not allocated: every cpu's cached
 * objects (cross-calls each cpu to flush its own caches), the depot and
 * every empty slab.  Used by reclaim and tests.
 * => thread context, interrupts enabled.  Returns the frames freed.
 */
size_t zone_reap_all(zone_t z);

/*
 * zone_reap_everything: zone_reap_all() on every zone (the magazine zones
 * last).  This is also the page allocator's reclaim hook.
 * => thread context, interrupts on or off, no zone lock held.
 */
size_t zone_reap_everything(void);

/*
 * zone_set_magazines: switches a zone between the magazine layer (default)
 * and the no-magazine baseline.  Turning them off flushes every cpu.
 * => thread context, interrupts enabled, no concurrent use of the zone.
 */
void zone_set_magazines(zone_t z, bool on);

/*
 * zone_set_fail_every: failure injection.  With n > 0, every n-th
 * zone_alloc() on this zone returns NULL (0 turns it off).  Other cpus
 * may be using the zone meanwhile.
 * => thread context, interrupts on or off (arming flushes every cpu's
 *    magazines of z to the depot by IPI).
 */
void zone_set_fail_every(zone_t z, unsigned n);

/* Statistics of one zone (sums over cpus; a snapshot, not atomic). */
struct zone_stats {
	const char *name;
	size_t size;		/* object size asked for */
	size_t align;
	size_t stride;		/* distance between objects in a slab */
	unsigned slab_pages;	/* pages per slab */
	unsigned slab_objs;	/* objects per slab */
	unsigned magsize;	/* current magazine capacity (0: no magazines) */
	bool magazines;		/* magazine layer on */
	bool debug;		/* poison/redzone on */
	size_t slabs;		/* slabs held */
	size_t slabs_partial, slabs_full, slabs_empty;
	size_t objs_in_use;	/* allocated by callers */
	size_t objs_cached;	/* free, constructed, in magazines/depot */
	size_t objs_slab_free;	/* free in slabs (not constructed) */
	size_t depot_full;	/* magazines in the depot */
	size_t depot_empty;
	size_t mem_held;	/* bytes of page frames held by slabs */
	size_t waste;		/* bytes held but not usable by objects:
				   slab tails, headers, stride padding */
	uint64_t allocs, frees;	/* zone_alloc / zone_free calls */
	uint64_t mag_hits;	/* allocs + frees served by a cpu's magazines */
	uint64_t depot_gets;	/* full magazines taken from the depot */
	uint64_t depot_puts;	/* full magazines given to the depot */
	uint64_t slab_allocs;	/* objects taken from the slab layer (by
				   single allocations and refills) */
	uint64_t slab_frees;	/* objects given back to the slab layer */
	uint64_t pages_allocs;	/* slabs created */
	uint64_t pages_frees;	/* slabs destroyed */
	uint64_t contention;	/* depot lock try-lock failures */
	uint64_t slab_contention;	/* slab lock try-lock failures */
	uint64_t resizes;	/* magazine size increases */
	uint64_t failures;	/* zone_alloc returned NULL */
	uint64_t injected;	/* of those, by failure injection */
	uint64_t flush_deferred;	/* flush IPIs that found a cpu in the
					   fast path and were sent again */
};

/* Per cpu statistics. */
struct zone_cpu_stats {
	uint64_t allocs, frees;
	uint64_t alloc_misses;	/* neither magazine could serve the alloc */
	uint64_t free_misses;	/* neither magazine had room */
	uint64_t depot_gets, depot_puts;
	uint64_t slab_allocs, slab_frees;	/* objects moved */
	uint64_t alloc_slab;	/* allocs served by the slab layer */
	uint64_t free_slab;	/* frees that went to the slab layer */
};

void zone_stats(zone_t z, struct zone_stats *out);
void zone_cpu_stats(zone_t z, unsigned cpu, struct zone_cpu_stats *out);
const char *zone_name(zone_t z);
/* Object size of a zone (what kmalloc's ksize reports). */
size_t zone_size(zone_t z);
/* Prints the zone's statistics to the console. */
void zone_dump(zone_t z);

/*
 * Totals over every zone alive now (zone_stats of each, summed; a
 * snapshot: a destroyed zone's counts went with it).
 * zone_totals() fills *out; zone_dump_summary() prints them in two lines,
 * the second naming the zones that hold the most memory.
 * => thread context (takes the zone list lock with interrupts off).
 */
struct zone_totals {
	size_t zones;
	size_t slabs;
	size_t objs_in_use, objs_cached;
	size_t mem_held, waste;		/* bytes */
	uint64_t allocs, frees, mag_hits;
	uint64_t depot_trips;		/* depot_gets + depot_puts */
	uint64_t slab_allocs, slab_frees;
	uint64_t contention, slab_contention;
	uint64_t failures;
};
void zone_totals(struct zone_totals *out);
void zone_dump_summary(void);

/*
 * zone_is_valid: walks the zone's slabs, free lists and depot and checks
 * the invariants of vm/zone_impl.h (and the poison of free objects in a
 * debug zone).  Expensive.
 * => thread context; the zone must be quiet (no concurrent alloc/free).
 */
bool zone_is_valid(zone_t z);

/* Whether the poison/redzone checks are on for this zone. */
bool zone_is_debug(zone_t z);

/*
 * zone_set_debug: turns the poison/redzone checks on or off.  The object
 * layout changes, so the zone must hold no slab: it is reaped first.
 * => thread context, interrupts enabled, no concurrent use of the zone.
 * => returns 0, or -EBUSY when objects are allocated.
 */
int zone_set_debug(zone_t z, bool on);

#endif /* RVMM_VM_ZONE_H */
