/*
 * pmap.h: the machine-independent contract of the physical map (pmap), the
 * layer that turns virtual addresses into physical ones for the MMU.
 *
 * vm/ sees address translation only through this header.  The one
 * implementation today is hal/sv39 (RISC-V Sv39 page tables, ASIDs, TLB
 * shootdown), which is plain C: the riscv64 port gives it satp and
 * sfence.vma, the host port a software MMU (see hal.h, "MMU primitives").
 * hal/sv39/pmap.c holds the theory of operation.
 *
 * 1. Address-space layout (Sv39, 39-bit virtual addresses).  The lower
 *    half [0, 2^38) is split at 1 GiB root-slot boundaries between user
 *    space, one range [pmap_user_min(), pmap_user_max()) private to each
 *    pmap, and the kernel window, everything else in the lower half: the
 *    direct map of all RAM, identity (VA == PA), global, never user, the
 *    kernel image in it W^X, the kernel map (pmap_kernel_map_range()), and
 *    device ranges (hal_mmio_regions) identity.  The embedding kernel picks
 *    the user window once, before vm_boot(), with pmap_set_user_window();
 *    two layouts are the usual ones:
 *
 *	default (high)			low (uwin=low)
 *	[0, 128 GiB)	kernel window	[0, 2 GiB)	user space
 *	[128, 256 GiB)	user space	[2, 256 GiB)	kernel window (RAM of
 *							QEMU virt at 2 GiB)
 *	[2^38, 2^64 - 2^38)		not canonical: always -EINVAL
 *	[2^64 - 2^38, 2^64)		upper half, kernel only: the device
 *					alias PMAP_MMIO_ALIAS + pa of every
 *					device range that lies in the user
 *					window (pmap_mmio_va())
 *
 *    RAM must lie in the kernel window.  User space is one hole-free range,
 *    so the maps layer needs no list of forbidden holes:
 *    pmap_user_range_ok() is the whole rule.  Every root slot outside the
 *    user window is a kernel slot: every pmap shares the kernel's tables
 *    there (its root points to the same next-level tables), so a kernel
 *    mapping is visible in every address space at once.  Page 0 is inside
 *    the low user window: the maps layer never places a non-fixed mapping
 *    below 4 KiB, so address 0 is mapped only when asked for with
 *    VM_MAP_FIXED.
 *    Without an MMU (hal/nommu) there is one fixed user window, every
 *    physical address but page 0, [4 KiB, 2^56); pmap_set_user_window()
 *    accepts only that one and pmap_mmio_va() is the identity.
 *
 * 2. Objects.  A pmap_t is an opaque handle.  pmap_kernel() is the kernel's
 *    pmap (every mapping global, never user); pmap_create() makes a user
 *    address space (every mapping user, never global) that also sees the
 *    kernel window.  The caller owns the physical frames: the pmap only
 *    records translations, and never frees a frame it did not allocate
 *    (page-table pages are its own).
 *
 * 3. Concurrency.  Every call below may run on any hart at the same time
 *    as any other, on the same pmap too (a per-pmap lock serialises
 *    updates).  When pmap_enter, pmap_remove or pmap_protect return, every
 *    hart sees the new state: a translation that was removed or lost a
 *    permission is gone from every TLB (the shootdown has been
 *    acknowledged), so the caller may free or reuse the old frame.  Calls
 *    run in thread context with interrupts on or off, but never from an
 *    interrupt handler (they may wait for other harts).  None sleeps.
 *
 * 4. Failure.  Invalid input returns -EINVAL and changes nothing: an
 *    address or size not aligned to the mapping size, a non-canonical
 *    address, a range outside the pmap's window, W without R (Sv39 reserves
 *    it), no permission at all, unknown flags.  When page-table pages
 *    cannot be allocated the call returns -ENOMEM and changes nothing.
 *    Misuse (destroying an active pmap, say) panics with the function name
 *    and its arguments.
 */
#ifndef RVMM_HAL_PMAP_H
#define RVMM_HAL_PMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal/hal.h"

typedef struct pmap *pmap_t;

/* Layout (section 1). */
#define PMAP_LOWER_END 0x4000000000ull		/* 256 GiB: end of the lower half */
#define PMAP_USER_DEFAULT_MIN 0x2000000000ull	/* 128 GiB */
#define PMAP_USER_DEFAULT_MAX PMAP_LOWER_END
#define PMAP_USER_LOW_MIN 0x0ull		/* the low layout: [0, 2 GiB) */
#define PMAP_USER_LOW_MAX 0x80000000ull
#define PMAP_MMIO_ALIAS 0xffffffc000000000ull	/* upper half: 2^64 - 2^38 */
#define PMAP_KERNEL_MAP_MIN 0x1000000000ull	/* 64 GiB: lowest kernel map */

/* Leaf sizes. */
#define PMAP_SIZE_4K (1ull << 12)
#define PMAP_SIZE_2M (1ull << 21)
#define PMAP_SIZE_1G (1ull << 30)

/* Permissions (prot). */
#define PMAP_PROT_READ 0x1u
#define PMAP_PROT_WRITE 0x2u
#define PMAP_PROT_EXEC 0x4u
#define PMAP_PROT_ALL 0x7u

/* pmap_enter flags: the leaf size (default 4 KiB), attributes, options. */
#define PMAP_ENTER_4K 0x0u
#define PMAP_ENTER_2M 0x1u
#define PMAP_ENTER_1G 0x2u
#define PMAP_ENTER_SIZE_MASK 0x3u
#define PMAP_ATTR_IO 0x10u	/* device memory: Svpbmt IO (strongly ordered,
				   non-cacheable) where Svpbmt exists */
#define PMAP_ATTR_NC 0x20u	/* normal non-cacheable: Svpbmt NC */
#define PMAP_ATTR_MASK 0x30u
#define PMAP_ENTER_NOREPLACE 0x100u	/* -EEXIST if anything is mapped there */

/*
 * pmap_set_user_window: user space becomes [lo, hi).
 * => lo, hi multiples of 1 GiB (one root slot), lo < hi <= 2^38 (the lower
 *    half); no RAM region (hal_mem_regions) meets [lo, hi); else -EINVAL
 *    and nothing changes.  Device ranges inside the window are reached
 *    through their alias (pmap_mmio_va()).  The kernel map is placed
 *    around the window (pmap_kernel_map_range()).
 * => the no-MMU pmap has one fixed window and accepts only that one.
 * pre: boot cpu, before vm_boot() (pmap_bootstrap); a call after it is
 *      misuse and panics.
 */
int pmap_set_user_window(vaddr_t lo, vaddr_t hi);

/*
 * pmap_check_user_window: what pmap_set_user_window(lo, hi) would return
 * (0 or -EINVAL), without changing anything.  pre: any context, after the
 * port knows its RAM regions.
 */
int pmap_check_user_window(vaddr_t lo, vaddr_t hi);

/*
 * pmap_user_min, pmap_user_max: user space is [pmap_user_min(),
 * pmap_user_max()) (default [128 GiB, 256 GiB); no MMU: [4 KiB, 2^56)).
 * pre: any context.
 */
vaddr_t pmap_user_min(void);
vaddr_t pmap_user_max(void);

/*
 * pmap_user_range_ok: true if [va, va + size) is a page-aligned, non-empty
 * range inside user space (section 1), without wrap-around.  This is the
 * whole rule a user pmap checks; the maps layer calls it to validate
 * fixed-address requests and picks free gaps inside
 * [pmap_user_min(), pmap_user_max()).
 * pre: any context.
 */
static inline bool
pmap_user_range_ok(vaddr_t va, size_t size)
{
	vaddr_t lo = pmap_user_min(), hi = pmap_user_max();

	return size != 0 && (va & (PMAP_SIZE_4K - 1)) == 0 &&
	    (size & (PMAP_SIZE_4K - 1)) == 0 && va >= lo && va < hi &&
	    size <= hi - va;
}

/*
 * pmap_kernel_map_range: the range vm_map_kernel() manages, [*lo, *hi):
 * from the first 1 GiB boundary above all RAM (PMAP_KERNEL_MAP_MIN at
 * least) up to the user window or the end of the lower half, whichever
 * comes first, never inside the user window.  *lo == *hi: no room (RAM
 * reaches too high).  No MMU: empty.
 * pre: any context, after the window is final.
 */
void pmap_kernel_map_range(vaddr_t *lo, vaddr_t *hi);

/*
 * pmap_mmio_va: the virtual address at which the kernel reaches the
 * device register at physical address pa once paging is on: pa itself
 * (identity) unless pa lies in the user window, where it is
 * PMAP_MMIO_ALIAS + pa (only for ranges listed by hal_mmio_regions(),
 * which pmap_bootstrap maps there).  Before paging is on (satp Bare) the
 * kernel uses pa.  No MMU: pa.
 * pre: any context.
 */
vaddr_t pmap_mmio_va(paddr_t pa);

/*
 * pmap_direct_va: the virtual address at which the kernel's direct map
 * translates physical address pa (the identity).  On riscv64 this equals
 * hal_phys_to_virt(pa); on the host, hal_phys_to_virt() is the simulation's
 * own pointer and pmap_direct_va() the simulated virtual address that the
 * software MMU translates (what hal_probe_*() take).
 */
static inline vaddr_t
pmap_direct_va(paddr_t pa)
{
	return (vaddr_t)pa;
}

/*
 * pmap_bootstrap: builds the kernel pmap (direct map of every RAM region,
 * the kernel image W^X, the device ranges at pmap_mmio_va()) around the
 * user window (pmap_set_user_window, fixed from now on), switches the
 * calling hart from Bare to Sv39 on it (pmap_bootstrap_cpu), probes the
 * ASID width (every hart is assumed to have the boot hart's) and sets up
 * the ASID allocator.  The other harts are left alone: each switches
 * itself when it comes online (vm_boot_cpu).  Options (vm_set_bootargs):
 * asid_bits=N caps the ASIDs used (debug: drives rollover),
 * shootdown=ipi|rfence|flushall picks the shootdown method.
 * pre: once, from vm_boot() on the boot hart, after page_init(); the
 *      calling hart is online (lib/smp.h).
 */
void pmap_bootstrap(void);

/*
 * pmap_bootstrap_cpu: turns paging on for the calling hart: satp = the
 * kernel pmap (ASID 0), a full local flush, pmap_current() = pmap_kernel().
 * pre: after pmap_bootstrap() began building (it calls this for the boot
 *      hart), once per hart, from vm_boot_cpu(); the hart is online.
 */
void pmap_bootstrap_cpu(void);

/* pmap_kernel: the kernel's pmap.  pre: any context. */
pmap_t pmap_kernel(void);

/*
 * pmap_create: a new, empty user address space, or NULL when memory is
 * short.  pre: thread context.
 */
pmap_t pmap_create(void);

/*
 * pmap_destroy: frees the pmap and every page-table page it owns.  Mappings
 * still present are dropped (their frames are the caller's).
 * pre: p is a user pmap, active on no hart (panics otherwise), and no other
 *      call on p is running or will run.
 */
void pmap_destroy(pmap_t p);

/*
 * pmap_enter: maps [va, va + size) to [pa, pa + size) with `prot`, where
 * size is the leaf size in flags (4 KiB, 2 MiB or 1 GiB).  An existing
 * mapping there is replaced (unless PMAP_ENTER_NOREPLACE: -EEXIST): a
 * smaller leaf inside an existing superpage splits the superpage (the rest
 * keeps its translation), a superpage over smaller leaves replaces them all.
 * A and D (D for writable mappings) are set at once: no A/D fault follows.
 * => va, pa aligned to the size; va canonical, inside the pmap's window
 *    (user space for a user pmap, the kernel window or the device alias
 *    for the kernel's: section 1);
 *    prot has R or X and no W without R; else -EINVAL.
 * => returns 0, -EINVAL, -EEXIST or -ENOMEM (nothing changed).
 * => thread context; takes p's lock; may wait for other harts.
 */
int pmap_enter(pmap_t p, vaddr_t va, paddr_t pa, unsigned prot,
    unsigned flags);

/*
 * pmap_remove: removes every translation in [start, end).  Superpages that
 * straddle a boundary are split first, so the part outside stays mapped.
 * Page-table pages left empty are freed.
 * => start, end page-aligned, start <= end, inside the pmap's window.
 * => returns 0, -EINVAL, or -ENOMEM (a split needed a page; nothing
 *    changed).  On return no hart can use a removed translation.
 * => thread context; takes p's lock; may wait for other harts.
 */
int pmap_remove(pmap_t p, vaddr_t start, vaddr_t end);

/*
 * pmap_protect: restricts every mapping in [start, end) to its current
 * permissions AND prot (it never adds a permission: re-enter for that).
 * A mapping left with neither R nor X is removed.  Straddling superpages
 * are split as for pmap_remove.
 * => same address rules as pmap_remove; prot has no W without R.
 * => returns 0, -EINVAL or -ENOMEM (nothing changed).  On return no hart
 *    can use a removed permission.
 * => thread context; takes p's lock; may wait for other harts.
 */
int pmap_protect(pmap_t p, vaddr_t start, vaddr_t end, unsigned prot);

/* What pmap_extract found. */
struct pmap_mapping {
	paddr_t pa;		/* physical address of va itself */
	uint64_t size;		/* leaf size: PMAP_SIZE_4K, _2M or _1G */
	unsigned prot;		/* PMAP_PROT_* */
	unsigned attr;		/* PMAP_ATTR_IO / _NC actually set (Svpbmt) */
	bool global;		/* G bit */
	bool user;		/* U bit */
	uint64_t pte;		/* the raw leaf entry (tests, debugging) */
};

/*
 * pmap_extract: looks va up in p's tables (not in any TLB).
 * => returns 0 and fills *out, -ENOENT when nothing maps va, -EINVAL when
 *    va is not canonical.
 * => thread context; takes p's lock.
 */
int pmap_extract(pmap_t p, vaddr_t va, struct pmap_mapping *out);

/*
 * pmap_activate: makes p the calling hart's address space (a context
 * switch): assigns p an ASID if its own is stale, writes satp, flushes what
 * must be flushed.  pmap_activate(pmap_kernel()) leaves user space.
 * => thread context; disables interrupts internally.  The caller must not
 *    migrate between this call and its use of p (rvmm does not preempt).
 */
void pmap_activate(pmap_t p);

/* pmap_current: the calling hart's active pmap.  pre: not migrating. */
pmap_t pmap_current(void);

/*
 * pmap_fault_fixup: a page fault at va may be spurious (this hart's TLB
 * still held an old entry, or the hardware cached an invalid one, which
 * Sv39 allows without Svvptc).  If the active pmap's tables now allow
 * `access` (HAL_FAULT_*) at va, flushes va on this hart and returns 0
 * (retry the access); else -EFAULT.  For the VM's fault handler.
 * pre: any context on the faulting hart, interrupts off.
 */
int pmap_fault_fixup(vaddr_t va, unsigned access);

/* Page-table pages p owns now (its root included). */
size_t pmap_table_pages(pmap_t p);

/*
 * pmap_is_valid: expensive; walks every table of p and checks the
 * invariants of hal/sv39/pmap_impl.h (entry counts, no W without R, A/D,
 * U/G by kind of pmap, the kernel slots shared).  Prints what is wrong.
 * pre: thread context; takes p's lock.
 */
bool pmap_is_valid(pmap_t p);

/* ------------------------------------------------------------------ */
/* Shootdown method, statistics and debug knobs.                       */

enum pmap_shootdown {
	PMAP_SHOOTDOWN_IPI,	/* cross-call (IPI) to each target, acked */
	PMAP_SHOOTDOWN_RFENCE,	/* SBI RFENCE remote_sfence_vma_asid */
	PMAP_SHOOTDOWN_FLUSHALL,/* baseline: every hart flushes everything */
};

/*
 * Selects the shootdown method (benchmarks compare them in one boot).
 * pre: no pmap_enter/remove/protect running.
 */
void pmap_set_shootdown(enum pmap_shootdown how);
enum pmap_shootdown pmap_get_shootdown(void);
const char *pmap_shootdown_name(enum pmap_shootdown how);

/* Per-cpu counters (each written by its own cpu). */
struct pmap_cpu_stats {
	uint64_t local_flushes;		/* sfence.vma executed by this hart */
	uint64_t shootdowns;		/* batched invalidations started here */
	uint64_t remote_requests;	/* target harts asked by those */
	uint64_t ipis_sent;		/* IPIs sent for them (ipi, flushall) */
	uint64_t rfence_calls;		/* SBI RFENCE calls made for them */
	uint64_t lazy_flushes;		/* ASID flushes owed by an earlier
					   shootdown, paid on activation */
	uint64_t switches;		/* pmap_activate that changed satp */
	uint64_t switch_flushes;	/* full flushes on switch (no ASIDs,
					   or a rollover to catch up with) */
	uint64_t asid_allocs;		/* new ASIDs assigned here */
	uint64_t rollovers;		/* ASID generations started here */
};

/* Sums over cpus plus global figures. */
struct pmap_stats {
	struct pmap_cpu_stats sum;
	size_t table_pages;		/* page-table pages of every pmap */
	size_t pmaps;			/* pmaps alive, the kernel's included */
	unsigned asid_bits_hw;		/* probed ASIDLEN */
	unsigned asid_bits;		/* ASID bits in use (0: flush on switch) */
	uint64_t asid_generation;
	bool svpbmt;
};

void pmap_cpu_stats(unsigned cpu, struct pmap_cpu_stats *out);
void pmap_stats(struct pmap_stats *out);

/*
 * pmap_debug_set_asid_bits: uses at most `bits` ASID bits from now on
 * (capped by the hardware; 0 or too few for the hart count: flush on
 * every switch).  Starts a new generation.
 * pre: every hart runs on pmap_kernel(); thread context.
 */
void pmap_debug_set_asid_bits(unsigned bits);

/*
 * pmap_debug_skip_remote: when on, shootdowns flush only the calling hart
 * and skip every remote hart (and the deferred flushes): a deliberate bug,
 * so tests can prove that their stale-translation checks can fail.
 */
void pmap_debug_skip_remote(bool on);

/*
 * pmap_debug_lockless_walks: the lockless walk of pmap_fault_fixup spins
 * delay_spins times between levels (widening the window in which another
 * hart may free a table it reaches), and with `unprotected` the freeing
 * side no longer waits for such walks (hal/sv39/shootdown.c section 7): a
 * deliberate bug, so a test shows that the protection is needed.  (0,
 * false) is the normal state.  The delay and the walk's check for a
 * freed table exist from debug level 1 on.
 */
void pmap_debug_lockless_walks(unsigned delay_spins, bool unprotected);

#endif /* RVMM_HAL_PMAP_H */
