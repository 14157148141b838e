/*
 * map_util.h: helpers shared by the map, object, COW and multi-hart
 * tests: leak snapshots (free frames and the layer's live objects after
 * every cache is drained), entry snapshots compared entry by entry, and
 * user-memory accesses through the MMU (hal_probe_*), which go through
 * the fault hook like a kernel's copyin/copyout.
 */
#ifndef RVMM_TESTS_MAP_UTIL_H
#define RVMM_TESTS_MAP_UTIL_H

#include <errno.h>
#include <string.h>

#include "hal/hal.h"
#include "hal/pmap.h"
#include "tests/ktest.h"
#include "tests/probe_util.h"
#include "vm/fault.h"
#include "vm/map.h"
#include "vm/object.h"
#include "vm/page.h"
#include "vm/zone.h"

#define PG ((vaddr_t)PAGE_SIZE)
/*
 * The lowest address a placement without VM_MAP_FIXED returns: the user
 * window's start, or 4 KiB when the window starts at 0 (uwin=low).
 */
#define UBASE (pmap_user_min() < PG ? PG : pmap_user_min())
#define SNAP_MAX 256

struct leak_snap {
	size_t free;
	struct vm_stats vs;
};

static inline void
mt_prepare(void)
{
	vm_map_init();
	vm_map_activate(NULL);
}

static inline void
leak_start(struct leak_snap *l)
{
	mt_prepare();
	zone_reap_everything();
	page_drain_all();
	l->free = page_free_count();
	vm_stats(&l->vs);
}

/* Every frame, map, entry, anon, object and table node is back. */
#define LEAK_CHECK(l)                                                          \
	do {                                                                   \
		struct vm_stats vs_;                                           \
		vm_map_activate(NULL);                                         \
		zone_reap_everything();                                        \
		page_drain_all();                                              \
		vm_stats(&vs_);                                                \
		KT_EXPECT_EQ(vs_.maps, (l)->vs.maps);                          \
		KT_EXPECT_EQ(vs_.entries, (l)->vs.entries);                    \
		KT_EXPECT_EQ(vs_.anons, (l)->vs.anons);                        \
		KT_EXPECT_EQ(vs_.objects, (l)->vs.objects);                    \
		KT_EXPECT_EQ(vs_.slot_nodes, (l)->vs.slot_nodes);              \
		KT_EXPECT_EQ(page_free_count(), (l)->free);                    \
	} while (0)

struct entry_snap {
	size_t n;
	struct vm_map_entry_info e[SNAP_MAX];
};

static inline void
snap_entries(vm_map_t m, struct entry_snap *s)
{
	s->n = vm_map_entries(m, s->e, SNAP_MAX);
}

static inline bool
snap_same(const struct entry_snap *a, const struct entry_snap *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n && i < SNAP_MAX; i++) {
		const struct vm_map_entry_info *x = &a->e[i], *y = &b->e[i];
		if (x->start != y->start || x->end != y->end ||
		    x->prot != y->prot || x->maxprot != y->maxprot ||
		    x->flags != y->flags || x->object != y->object ||
		    x->offset != y->offset)
			return false;
	}
	return true;
}

/* The map is entry by entry as in *before. */
#define EXPECT_UNCHANGED(m, before)                                            \
	do {                                                                   \
		struct entry_snap *now_ = &mt_snap_now;                        \
		snap_entries((m), now_);                                       \
		if (!snap_same((before), now_))                                \
			KT_FAIL("map changed: %zu entries, %zu before",        \
			    now_->n, (before)->n);                             \
		KT_EXPECT(vm_map_is_valid(m));                                 \
	} while (0)

static inline uint64_t
uread(vaddr_t va)
{
	uint64_t v = 0xdeadbeefdeadbeefull;

	if (hal_probe_read64(va, &v) != 0)
		KT_FAIL("read %#lx faulted", (unsigned long)va);
	return v;
}

static inline void
uwrite(vaddr_t va, uint64_t v)
{
	if (hal_probe_write64(va, v) != 0)
		KT_FAIL("write %#lx faulted", (unsigned long)va);
}

static inline uint64_t
cookie(uint64_t a, uint64_t b)
{
	uint64_t x = (a * 0x9e3779b97f4a7c15ull) ^ (b + 0x632be59bd9b4e019ull);

	return x ^ (x >> 31);
}

static inline void
fault_delta(const struct vm_fault_stats *a, struct vm_fault_stats *d)
{
	struct vm_fault_stats b;
	const uint64_t *x = (const uint64_t *)a;
	uint64_t *y = (uint64_t *)&b, *o = (uint64_t *)d;

	vm_fault_stats(&b);
	for (size_t i = 0; i < sizeof(b) / sizeof(uint64_t); i++)
		o[i] = y[i] - x[i];
}

#endif /* RVMM_TESTS_MAP_UTIL_H */
