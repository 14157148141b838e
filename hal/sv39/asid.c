/*
 * asid.c: the ASID allocator of the Sv39 pmap (generation-based, after
 * Linux arch/riscv/mm/context.c, itself after arm64's).
 *
 * 1. Contexts.  A pmap's asid_ctx is generation << 16 | asid (0: none yet).
 *    The generation lives above the 16 satp ASID bits whatever ASIDLEN is,
 *    so a change of the usable width (the asid_bits knob) is just a new
 *    generation.  ASID 0 is never handed out: the kernel pmap runs with it,
 *    and so does every pmap when ASIDs are off.
 *
 * 2. Fast path.  A pmap whose generation is current keeps its ASID: the
 *    switch only publishes the context in active_ctx[cpu] with one CAS
 *    against the value that was there, lock-free.  The CAS fails if a
 *    rollover zeroed active_ctx[cpu] meanwhile, and the switch takes the
 *    slow path.
 *
 * 3. Slow path (asid_lock, interrupts off).  A stale pmap gets a new ASID:
 *    its old number again if that number is still free in the new
 *    generation (or reserved by a hart that still runs it), else the next
 *    free one.  When none is free, the generation rolls over: every hart's
 *    running context (or, if it has not switched since the last rollover,
 *    the context reserved then) is reserved into the new generation, the
 *    map is cleared to just those, and every hart is marked to flush its
 *    whole TLB once before it next runs a new-generation ASID (a stale
 *    entry of a recycled number must not survive).  No IPI is sent: harts
 *    catch up at their next switch.
 *
 * 4. Invariants.  (a) While a pmap is active on some hart its ASID number
 *    does not change (rollover reserves it and a stale pmap gets its
 *    reserved number back), so a shootdown may use whichever context it
 *    reads after seeing the hart in pmap->active.  (b) A number is reused
 *    for another pmap only in a later generation, and a hart flushes
 *    everything before it runs any ASID of a generation it has not
 *    flushed for.  (c) Freed pmaps never return their ASID: it is
 *    recycled by the next rollover, which flushes everything.
 *
 * 5. Width.  asid_probe_bits() writes all-ones to satp.ASID and reads back
 *    (ASIDLEN).  ASIDs are used only if there are at least ncpus + 2 of
 *    them (one reserved per hart, ASID 0, one to hand out), else every
 *    switch flushes the non-global TLB entries (flush on switch).  The
 *    bootarg asid_bits=N (and pmap_debug_set_asid_bits) caps the width so
 *    tests and benchmarks drive rollover constantly.
 *
 * 6. Observability: asid_allocs, rollovers and switch_flushes in the
 *    per-cpu pmap statistics.
 */
#include <ck_pr.h>
#include <ck_spinlock.h>

#include "hal/sv39/pmap_impl.h"
#include "lib/assert.h"
#include "lib/stat.h"

#define ASID_MAX (1u << SATP_ASID_BITS)
#define CTX_ASID_MASK ((1ull << SATP_ASID_BITS) - 1)
#define CTX_GEN(c) ((c) >> SATP_ASID_BITS)

static ck_spinlock_t asid_lock = CK_SPINLOCK_INITIALIZER;
static unsigned hw_bits;			/* (C) probed */
static unsigned used_bits;			/* (K, A) 0: ASIDs off */
static unsigned nasids;				/* (K) 1 << used_bits */
static uint64_t generation = 1;			/* (K, A) */
static uint64_t asid_map[ASID_MAX / 64];	/* (K) ASIDs taken in this generation */
static unsigned next_idx = 1;			/* (K) */
static uint64_t active_ctx[HAL_MAX_CPUS];	/* (A) context each hart runs */
static uint64_t reserved_ctx[HAL_MAX_CPUS];	/* (K) kept across a rollover */
static uint64_t flush_pending[PMAP_CPU_WORDS];	/* (K) must flush all once */

unsigned
asid_probe_bits(void)
{
	uint64_t old = hal_mmu_satp_read(), got;
	unsigned bits = 0;
	hal_intr_t s = hal_intr_disable();

	hal_mmu_satp_write(satp_with_asid(old, ASID_MAX - 1));
	got = satp_asid(hal_mmu_satp_read());
	hal_mmu_satp_write(old);
	hal_mmu_flush_local_all();
	hal_intr_restore(s);
	while (bits < SATP_ASID_BITS && (got >> bits & 1))
		bits++;
	return bits;
}

static bool
map_test_and_set(unsigned asid)
{
	uint64_t bit = 1ull << (asid % 64);
	bool was = (asid_map[asid / 64] & bit) != 0;

	asid_map[asid / 64] |= bit;
	return was;
}

/* Sets up a new generation with `bits`.  pre: asid_lock held. */
static void
asid_reset_locked(unsigned bits)
{
	unsigned n = hal_ncpus();

	if (bits > hw_bits)
		bits = hw_bits;
	if (bits > 0 && (1u << bits) < n + 2)
		bits = 0;
	ck_pr_store_uint(&used_bits, bits);
	nasids = bits ? 1u << bits : 0;
	ck_pr_store_64(&generation, ck_pr_load_64(&generation) + 1);
	for (unsigned i = 0; i < ASID_MAX / 64; i++)
		asid_map[i] = 0;
	asid_map[0] = 1;	/* ASID 0: the kernel's */
	next_idx = 1;
	for (unsigned i = 0; i < HAL_MAX_CPUS; i++) {
		ck_pr_store_64(&active_ctx[i], 0);
		reserved_ctx[i] = 0;
	}
	for (unsigned i = 0; i < n; i++)
		flush_pending[i / 64] |= 1ull << (i % 64);
}

void
asid_init(unsigned hw, unsigned cap)
{
	ck_spinlock_lock(&asid_lock);
	hw_bits = hw;
	asid_reset_locked(cap);
	ck_spinlock_unlock(&asid_lock);
}

void
pmap_debug_set_asid_bits(unsigned bits)
{
	for (unsigned i = 0; i < hal_ncpus(); i++) {
		pmap_t cur = ck_pr_load_ptr(&pmap_cpus[i].cur);
		/* NULL: the cpu is not online yet (no paging, no ASID). */
		VM_PANIC_IF(cur != NULL && cur != &pmap_kernel_store,
		    "pmap_debug_set_asid_bits(%u): cpu %u runs a user pmap",
		    bits, i);
	}
	hal_intr_t s = hal_intr_disable();
	ck_spinlock_lock(&asid_lock);
	asid_reset_locked(bits);
	ck_spinlock_unlock(&asid_lock);
	hal_intr_restore(s);
}

bool
asid_enabled(void)
{
	return ck_pr_load_uint(&used_bits) != 0;
}

unsigned asid_bits_hw(void) { return hw_bits; }
unsigned asid_bits_used(void) { return ck_pr_load_uint(&used_bits); }
uint64_t asid_generation(void) { return ck_pr_load_64(&generation); }

/* Rollover.  pre: asid_lock held. */
static void
flush_context_locked(void)
{
	unsigned n = hal_ncpus();

	for (unsigned i = 0; i < ASID_MAX / 64; i++)
		asid_map[i] = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t c = ck_pr_fas_64(&active_ctx[i], 0);
		/*
		 * A hart that has not switched since the last rollover has 0
		 * here and still runs the context reserved then.
		 */
		if (c == 0)
			c = reserved_ctx[i];
		(void)map_test_and_set((unsigned)(c & CTX_ASID_MASK));
		reserved_ctx[i] = c;
	}
	asid_map[0] |= 1;
	for (unsigned i = 0; i < n; i++)
		flush_pending[i / 64] |= 1ull << (i % 64);
}

/* If some hart reserved `old`, move the reservation to `new`.  pre: lock. */
static bool
update_reserved_locked(uint64_t old, uint64_t new)
{
	bool hit = false;

	for (unsigned i = 0; i < hal_ncpus(); i++) {
		if (reserved_ctx[i] == old) {
			reserved_ctx[i] = new;
			hit = true;
		}
	}
	return hit;
}

static uint64_t
new_context_locked(pmap_t p, unsigned cpu)
{
	uint64_t ctx = ck_pr_load_64(&p->asid_ctx);
	uint64_t gen = ck_pr_load_64(&generation);
	unsigned asid = (unsigned)(ctx & CTX_ASID_MASK);

	if (ctx != 0 && asid < nasids) {
		uint64_t nc = gen << SATP_ASID_BITS | asid;
		/* Still running somewhere: keep the number (invariant a). */
		if (update_reserved_locked(ctx, nc))
			return nc;
		/* Free in this generation: take it back. */
		if (asid != 0 && !map_test_and_set(asid))
			return nc;
	}
	for (asid = next_idx; asid < nasids; asid++)
		if (!(asid_map[asid / 64] >> (asid % 64) & 1))
			goto found;
	/* None left: new generation. */
	gen++;
	ck_pr_store_64(&generation, gen);
	flush_context_locked();
	stat_inc(&pmap_cpus[cpu].st.rollovers);
	for (asid = 1; asid < nasids; asid++)
		if (!(asid_map[asid / 64] >> (asid % 64) & 1))
			goto found;
	panic("asid: no free ASID after rollover (%u ASIDs, %u harts)", nasids,
	    hal_ncpus());
found:
	(void)map_test_and_set(asid);
	next_idx = asid + 1;
	stat_inc(&pmap_cpus[cpu].st.asid_allocs);
	return gen << SATP_ASID_BITS | asid;
}

/*
 * asid_switch: p's ASID for running on `cpu`; sets *flush_all when this
 * hart must flush its whole TLB first (a rollover happened since it last
 * did).  pre: interrupts off, ASIDs enabled, p is a user pmap.
 */
unsigned
asid_switch(pmap_t p, unsigned cpu, bool *flush_all)
{
	uint64_t ctx = ck_pr_load_64(&p->asid_ctx);
	uint64_t old_active = ck_pr_load_64(&active_ctx[cpu]);

	*flush_all = false;
	if (ctx != 0 && CTX_GEN(ctx) == ck_pr_load_64(&generation) &&
	    old_active != 0 && ck_pr_cas_64(&active_ctx[cpu], old_active, ctx))
		return (unsigned)(ctx & CTX_ASID_MASK);

	ck_spinlock_lock(&asid_lock);
	ctx = ck_pr_load_64(&p->asid_ctx);
	if (ctx == 0 || CTX_GEN(ctx) != ck_pr_load_64(&generation)) {
		ctx = new_context_locked(p, cpu);
		ck_pr_store_64(&p->asid_ctx, ctx);
	}
	uint64_t bit = 1ull << (cpu % 64);
	if (flush_pending[cpu / 64] & bit) {
		flush_pending[cpu / 64] &= ~bit;
		*flush_all = true;
	}
	ck_pr_store_64(&active_ctx[cpu], ctx);
	ck_spinlock_unlock(&asid_lock);
	return (unsigned)(ctx & CTX_ASID_MASK);
}
