/*
 * mmu.c: the host port's software MMU: an Sv39 walker over the simulated
 * physical memory and a small TLB per hart, so that the pmap's TLB
 * management is exercised on the host as it is on hardware.
 *
 * 1. What it models.  Each hart has a satp (Bare or Sv39, ASID field as
 *    wide as hw_asid_bits=N says, default 16) and a TLB of
 *    HOST_MMU_TLB_ENTRIES entries tagged with the ASID, the G bit and the
 *    leaf level (so a superpage is one entry).  A probe (hal_probe_*)
 *    looks the address up in the TLB; on a miss it walks the tables with
 *    ck_pr_load_64 (other harts update them concurrently), caches any
 *    valid leaf it finds, then checks the access.  Entries stay until this
 *    hart flushes them (hal_mmu_flush_local_*) or a remote fence (the
 *    simulated SBI RFENCE) does; writing satp flushes nothing, as on
 *    hardware.  So a missing or early-acknowledged shootdown, or an ASID
 *    reused without a flush, shows up as a stale translation in a host
 *    test.  Invalid entries are never cached (no negative caching).
 *    Replacement is round-robin.
 *
 * 2. Checks.  As the privileged spec says for S-mode with MXR=0: loads
 *    need R, stores W, fetches X and not U; a load or store to a U page
 *    needs the hart's SUM bit; A must be set and D for stores (Svade: no
 *    hardware A/D update), else a page fault.
 *    A malformed entry (W without R, reserved bits, PBMT without Svpbmt, a
 *    misaligned superpage, A/D/U on a non-leaf, a non-leaf at level 0) or
 *    a table outside RAM is a pmap bug and panics here, loudly.
 *
 * 3. Atomicity.  A probe translates and accesses with interrupts off and
 *    the hart's TLB lock held: an IPI handler's flush cannot come between
 *    (a hardware walk is atomic with respect to interrupts), and a remote
 *    fence from another hart waits for the access to finish (SBI's
 *    fence would be taken between two instructions).  Data accesses are
 *    ck_pr_load_64/ck_pr_store_64 on the arena, so ThreadSanitizer sees
 *    them as synchronised with the tests' own atomic cookie stores.
 *
 * 3a. Faults and user access (issue 12).  Each hart has a simulated
 *    sstatus.SUM, clear except inside the user-access routines: the
 *    probes (which put it back as they found it) and hal_copyin,
 *    hal_copyout, hal_copyinstr (which move the bytes of one page per
 *    translation, under the TLB lock, and clear it at the end).  An access
 *    carries a simulated pc: UACCESS_PC for those routines, anything else
 *    (the address of host_mmu_kernel_access) for a plain kernel access.
 *    A page fault goes to vm_fault_trap(va, access, &pc), exactly as the
 *    riscv64 trap handler does: 0 with pc unchanged retries (as often as
 *    it takes: another hart may unmap the page again meanwhile), 0 with
 *    pc moved to UACCESS_FIXUP is the routine's recovery (a failed copy:
 *    HAL_COPY_FAULT; a failed probe: -EFAULT), an error is a fault nobody
 *    resolves.  hal_copy_fixup() knows the one pair.  An access fault (no memory behind a valid translation) is no
 *    page fault: the routines fail at once.
 *
 * 4. The simulated machine facts of hal.h: the kernel image
 *    (HOST_KIMAGE_*, reserved by hal_host.c), one device page at
 *    HOST_MMIO_BASE backed by a static buffer, Svpbmt when svpbmt=1.
 */
#include <errno.h>
#include <string.h>

#include <ck_pr.h>
#include <ck_spinlock.h>

#include "hal/hal.h"
#include "hal/host/hal_host.h"
#include "hal/host/mmu.h"
#include "hal/sv39/pte.h"
#include "lib/assert.h"
#include "lib/bootargs.h"
#include "lib/stat.h"
#include "vm/fault.h"

struct tlb_ent {
	uint64_t tag;		/* va >> (12 + 9 * level) */
	pte_t pte;
	unsigned asid;
	unsigned level;
	bool valid;
};

struct mmu_hart {
	ck_spinlock_t lock;		/* the TLB: owner and remote fences */
	uint64_t satp;			/* (L) */
	struct tlb_ent tlb[HOST_MMU_TLB_ENTRIES];
	unsigned next;			/* round-robin victim */
	bool sum;			/* (L) simulated sstatus.SUM */
	struct host_mmu_stats st;	/* stat_inc by the owner or under lock */
} HAL_CACHE_ALIGNED;

static struct mmu_hart mmu_harts[HAL_MAX_CPUS];
static unsigned hw_asid_bits = SATP_ASID_BITS;
static bool sim_svpbmt;
static uint64_t mmio_page[HAL_PAGE_SIZE / 8];
static const struct hal_mem_range mmio_range = { HOST_MMIO_BASE, HAL_PAGE_SIZE };

void
host_mmu_init(void)
{
	hw_asid_bits = (unsigned)bootarg_u64(hal_bootargs(), "hw_asid_bits",
	    SATP_ASID_BITS);
	if (hw_asid_bits > SATP_ASID_BITS)
		hw_asid_bits = SATP_ASID_BITS;
	sim_svpbmt = bootarg_u64(hal_bootargs(), "svpbmt", 0) != 0;
}

static struct mmu_hart *
self(void)
{
	return &mmu_harts[hal_cpu_id()];
}

/* ---- hal.h machine facts ---- */

bool
hal_mmu_has_svpbmt(void)
{
	return sim_svpbmt;
}

void
hal_kernel_image(struct hal_kernel_image *out)
{
	out->text_start = HOST_KIMAGE_BASE;
	out->text_end = HOST_KIMAGE_BASE + HOST_KIMAGE_TEXT;
	out->rodata_start = out->text_end;
	out->rodata_end = out->rodata_start + HOST_KIMAGE_RODATA;
	out->data_start = out->rodata_end;
	out->data_end = out->data_start + HOST_KIMAGE_DATA;
	out->ret_insn = out->text_start;
	out->probe_word = out->data_start;
}

unsigned
hal_mmio_regions(const struct hal_mem_range **out)
{
	*out = &mmio_range;
	return 1;
}

/* ---- satp and local flushes ---- */

uint64_t
hal_mmu_satp_read(void)
{
	return self()->satp;
}

void
hal_mmu_satp_write(uint64_t v)
{
	struct mmu_hart *h = self();
	uint64_t mode = satp_mode(v);

	if (mode != SATP_MODE_BARE && mode != SATP_MODE_SV39)
		return;		/* unsupported mode: the write has no effect */
	v = satp_with_asid(v, satp_asid(v) & ((1u << hw_asid_bits) - 1));
	ck_pr_store_64(&h->satp, v);
}

static bool
ent_covers(const struct tlb_ent *e, vaddr_t va)
{
	return e->tag == va >> (SV39_PAGE_SHIFT + SV39_VPN_BITS * e->level);
}

/*
 * Invalidates matching entries.  va == 0 with all_va: any address;
 * asid < 0: any address space, globals too; else non-global entries of
 * that ASID.  pre: h->lock held.
 */
static void
tlb_inval_locked(struct mmu_hart *h, bool all_va, vaddr_t va, long asid)
{
	for (unsigned i = 0; i < HOST_MMU_TLB_ENTRIES; i++) {
		struct tlb_ent *e = &h->tlb[i];
		if (!e->valid)
			continue;
		if (asid >= 0 && ((e->pte & PTE_G) || e->asid != (unsigned)asid))
			continue;
		if (!all_va && !ent_covers(e, va))
			continue;
		e->valid = false;
	}
}

static void
local_inval(bool all_va, vaddr_t va, long asid)
{
	struct mmu_hart *h = self();
	hal_intr_t s = hal_intr_disable();

	ck_spinlock_lock(&h->lock);
	tlb_inval_locked(h, all_va, va, asid);
	stat_inc(&h->st.flushes);
	ck_spinlock_unlock(&h->lock);
	hal_intr_restore(s);
}

void
hal_mmu_flush_local_all(void)
{
	local_inval(true, 0, -1);
}

void
hal_mmu_flush_local_asid(unsigned asid)
{
	local_inval(true, 0, (long)(asid & ((1u << hw_asid_bits) - 1)));
}

void
hal_mmu_flush_local_va(vaddr_t va, unsigned asid)
{
	local_inval(false, va, (long)(asid & ((1u << hw_asid_bits) - 1)));
}

void
hal_mmu_flush_local_va_all(vaddr_t va)
{
	local_inval(false, va, -1);
}

/*
 * The simulated SBI RFENCE: the caller applies the fence to each target's
 * TLB under that TLB's lock, which is what the firmware does in M-mode
 * (and the call returns when all are done).
 */
int
hal_mmu_remote_fence(const hal_cpuset_t *set, vaddr_t start, size_t size,
    long asid)
{
	unsigned me = hal_cpu_id(), n = hal_ncpus();

	if (asid >= 0)
		asid &= (long)((1u << hw_asid_bits) - 1);
	for (unsigned i = 0; i < n; i++) {
		if (i == me || !hal_cpuset_has(set, i))
			continue;
		struct mmu_hart *h = &mmu_harts[i];
		hal_intr_t s = hal_intr_disable();
		ck_spinlock_lock(&h->lock);
		if (size == HAL_MMU_SIZE_ALL || size > 64 * HAL_PAGE_SIZE) {
			tlb_inval_locked(h, true, 0, asid);
		} else {
			for (size_t off = 0; off < size; off += HAL_PAGE_SIZE)
				tlb_inval_locked(h, false, start + off, asid);
		}
		stat_inc(&h->st.remote);
		ck_spinlock_unlock(&h->lock);
		hal_intr_restore(s);
	}
	return 0;
}

/* ---- translation ---- */

/* The simulation's pointer for a physical address, or NULL (no memory). */
static uint64_t *
phys_ptr(paddr_t pa)
{
	const struct hal_mem_range *r;
	unsigned n = hal_mem_regions(&r);

	for (unsigned i = 0; i < n; i++)
		if (pa >= r[i].base && pa - r[i].base < r[i].size)
			return hal_phys_to_virt(pa);
	if (pa >= mmio_range.base && pa - mmio_range.base < mmio_range.size)
		return &mmio_page[(pa - mmio_range.base) / 8];
	return NULL;
}

static _Noreturn void
malformed(const char *what, pte_t v, unsigned level, vaddr_t va)
{
	panic("host mmu (cpu %u): %s: pte %#llx at level %u for va %#llx",
	    hal_cpu_id(), what, (unsigned long long)v, level,
	    (unsigned long long)va);
}

static void
check_leaf(pte_t v, unsigned l, vaddr_t va)
{
	if ((v & PTE_W) && !(v & PTE_R))
		malformed("W without R", v, l, va);
	if (v & (PTE_RESERVED_MASK | PTE_N))
		malformed("reserved bits set", v, l, va);
	if (pte_pbmt(v) != 0 && (!sim_svpbmt || pte_pbmt(v) == 3))
		malformed("PBMT without Svpbmt (or reserved PBMT)", v, l, va);
	if (pte_pa(v) & (sv39_level_size(l) - 1))
		malformed("misaligned superpage", v, l, va);
}

/*
 * Finds the leaf for va in h's TLB or by walking; false if none (page
 * fault).  pre: h->lock held, interrupts off.
 */
static bool
lookup_locked(struct mmu_hart *h, vaddr_t va, pte_t *leaf, unsigned *level)
{
	uint64_t satp = h->satp;
	unsigned asid = satp_asid(satp);

	for (unsigned i = 0; i < HOST_MMU_TLB_ENTRIES; i++) {
		const struct tlb_ent *e = &h->tlb[i];
		if (e->valid && ((e->pte & PTE_G) || e->asid == asid) &&
		    ent_covers(e, va)) {
			*leaf = e->pte;
			*level = e->level;
			stat_inc(&h->st.hits);
			return true;
		}
	}
	stat_inc(&h->st.walks);
	paddr_t t = satp_root_pa(satp);
	for (unsigned l = SV39_ROOT_LEVEL;; l--) {
		uint64_t *tp = phys_ptr(t);
		if (tp == NULL || phys_ptr(t + HAL_PAGE_SIZE - 1) == NULL)
			malformed("page table outside RAM", t, l, va);
		pte_t v = ck_pr_load_64(&tp[sv39_index(va, l)]);
		if (!pte_valid(v))
			return false;
		if (pte_leaf(v)) {
			check_leaf(v, l, va);
			struct tlb_ent *e = &h->tlb[h->next];
			h->next = (h->next + 1) % HOST_MMU_TLB_ENTRIES;
			e->tag = va >> (SV39_PAGE_SHIFT + SV39_VPN_BITS * l);
			e->pte = v;
			e->asid = asid;
			e->level = l;
			e->valid = true;
			*leaf = v;
			*level = l;
			return true;
		}
		if (l == 0)
			malformed("non-leaf at level 0", v, l, va);
		if (v & (PTE_A | PTE_D | PTE_U | PTE_PBMT_MASK | PTE_N |
		    PTE_RESERVED_MASK))
			malformed("A/D/U/PBMT on a non-leaf", v, l, va);
		t = pte_pa(v);
	}
}

/*
 * Translates va for `access`: 0 and *out, -EFAULT (a page fault) or
 * -ENXIO (an access fault).  pre: as above.
 */
static int
translate_locked(struct mmu_hart *h, vaddr_t va, unsigned access,
    uint64_t **out)
{
	pte_t v;
	unsigned l;
	paddr_t pa;

	if (!sv39_va_canonical(va))
		goto fault;
	if (satp_mode(h->satp) == SATP_MODE_BARE) {
		pa = va;
	} else {
		if (!lookup_locked(h, va, &v, &l))
			goto fault;
		if (!(v & PTE_A))
			goto fault;
		if ((access & HAL_FAULT_READ) && !(v & PTE_R))
			goto fault;
		if ((access & HAL_FAULT_WRITE) &&
		    (!(v & PTE_W) || !(v & PTE_D)))
			goto fault;
		if ((access & HAL_FAULT_EXEC) && (!(v & PTE_X) || (v & PTE_U)))
			goto fault;
		if ((v & PTE_U) && !(access & HAL_FAULT_EXEC) && !h->sum)
			goto fault;	/* S-mode, SUM clear */
		pa = pte_pa(v) + (va & (sv39_level_size(l) - 1));
	}
	*out = phys_ptr(pa);
	if (*out == NULL)
		return -ENXIO;		/* an access fault */
	return 0;
fault:
	stat_inc(&h->st.faults);
	return -EFAULT;
}

/* One aligned 8-byte access (0, -EFAULT or -ENXIO as translate_locked). */
static int
access_once(vaddr_t va, unsigned access, uint64_t *val)
{
	struct mmu_hart *h = self();
	uint64_t *p;
	hal_intr_t s = hal_intr_disable();
	int err;

	ck_spinlock_lock(&h->lock);
	err = translate_locked(h, va, access, &p);
	if (err == 0) {
		if (access & HAL_FAULT_READ)
			*val = ck_pr_load_64(p);
		else if (access & HAL_FAULT_WRITE)
			ck_pr_store_64(p, *val);
	}
	ck_spinlock_unlock(&h->lock);
	hal_intr_restore(s);
	return err;
}

/* Section 3a: the simulated pc of the user-access routines, and its fixup. */
static const char uaccess_text[2];
#define UACCESS_PC ((vaddr_t)&uaccess_text[0])
#define UACCESS_FIXUP ((vaddr_t)&uaccess_text[1])

vaddr_t
hal_copy_fixup(vaddr_t pc)
{
	return pc == UACCESS_PC ? UACCESS_FIXUP : 0;
}

/*
 * The trap an access at pc took (err from translate_locked): 0 to retry,
 * -EFAULT when the routine at pc recovers, else the fault nobody resolves
 * (vm_fault_trap's error, or -ENXIO for an access fault outside the
 * routines).
 */
static int
mmu_trap(vaddr_t va, unsigned access, vaddr_t pc, int err)
{
	vaddr_t p = pc;

	if (err == -ENXIO)
		return hal_copy_fixup(pc) != 0 ? -EFAULT : -ENXIO;
	err = vm_fault_trap(va, access, &p);
	if (err != 0)
		return err;
	return p == pc ? 0 : -EFAULT;
}

/* Sets the hart's SUM bit; returns the previous value. */
static bool
sum_set(bool on)
{
	struct mmu_hart *h = self();
	bool was = h->sum;

	h->sum = on;
	return was;
}

/* A probe: one access with SUM set, faults resolved or recovered. */
static int
probe_access(vaddr_t va, unsigned access, uint64_t *val)
{
	bool was = sum_set(true);
	int err;

	while ((err = access_once(va, access, val)) != 0 &&
	    (err = mmu_trap(va, access, UACCESS_PC, err)) == 0)
		;
	(void)sum_set(was);
	return err == 0 ? 0 : -EFAULT;
}

int
hal_probe_read64(vaddr_t va, uint64_t *out)
{
	if (va & 7)
		return -EINVAL;
	return probe_access(va, HAL_FAULT_READ, out);
}

int
hal_probe_write64(vaddr_t va, uint64_t value)
{
	if (va & 7)
		return -EINVAL;
	return probe_access(va, HAL_FAULT_WRITE, &value);
}

int
hal_probe_exec(vaddr_t va)
{
	uint64_t unused = 0;

	if (va & 1)
		return -EINVAL;
	/* A fetch that translates "runs" the ret: nothing else to do. */
	return probe_access(va & ~(vaddr_t)7, HAL_FAULT_EXEC, &unused);
}

/* ---- user copies (hal.h; section 3a) ---- */

enum move_how { MOVE_IN, MOVE_OUT, MOVE_STR };

/*
 * Moves the n bytes at va (inside one page) to or from k under one
 * translation: words where both sides are aligned, else bytes; MOVE_STR
 * stops after a NUL (*nul set, *n the bytes moved).  Returns 0 or
 * translate_locked's error (nothing moved).
 */
static int
move_once(vaddr_t va, char *k, size_t *n, enum move_how how, bool *nul)
{
	struct mmu_hart *h = self();
	unsigned access = how == MOVE_OUT ? HAL_FAULT_WRITE : HAL_FAULT_READ;
	uint64_t *p;
	hal_intr_t s = hal_intr_disable();
	int err;

	ck_spinlock_lock(&h->lock);
	err = translate_locked(h, va, access, &p);
	if (err == 0) {
		uint8_t *u = (uint8_t *)p;
		size_t i = 0;

		if (how != MOVE_STR && (((uintptr_t)u ^ (uintptr_t)k) & 7) == 0) {
			for (; i < *n && ((uintptr_t)(u + i) & 7); i++) {
				if (how == MOVE_IN)
					k[i] = (char)ck_pr_load_8(u + i);
				else
					ck_pr_store_8(u + i, (uint8_t)k[i]);
			}
			for (; i + 8 <= *n; i += 8) {
				uint64_t *w = (uint64_t *)(u + i);
				if (how == MOVE_IN)
					*(uint64_t *)(k + i) = ck_pr_load_64(w);
				else
					ck_pr_store_64(w, *(uint64_t *)(k + i));
			}
		}
		for (; i < *n; i++) {
			if (how == MOVE_OUT) {
				ck_pr_store_8(u + i, (uint8_t)k[i]);
				continue;
			}
			k[i] = (char)ck_pr_load_8(u + i);
			if (how == MOVE_STR && k[i] == '\0') {
				*nul = true;
				*n = i + 1;
				break;
			}
		}
	}
	ck_spinlock_unlock(&h->lock);
	hal_intr_restore(s);
	return err;
}

static int
host_ucopy(vaddr_t va, char *k, size_t len, enum move_how how)
{
	unsigned access = how == MOVE_OUT ? HAL_FAULT_WRITE : HAL_FAULT_READ;
	bool nul = false;
	int err = 0;

	(void)sum_set(true);
	while (len > 0) {
		size_t n = HAL_PAGE_SIZE - (va & (HAL_PAGE_SIZE - 1));

		if (n > len)
			n = len;
		err = move_once(va, k, &n, how, &nul);
		if (err != 0) {
			err = mmu_trap(va, access, UACCESS_PC, err);
			if (err != 0)
				break;
			continue;
		}
		if (nul)
			break;
		va += n;
		k += n;
		len -= n;
	}
	(void)sum_set(false);
	if (err != 0)
		return HAL_COPY_FAULT;
	return how == MOVE_STR && !nul ? HAL_COPY_NONUL : 0;
}

int
hal_copyin(void *dst, vaddr_t usrc, size_t len)
{
	return host_ucopy(usrc, dst, len, MOVE_IN);
}

int
hal_copyout(vaddr_t udst, const void *src, size_t len)
{
	return host_ucopy(udst, (char *)(uintptr_t)src, len, MOVE_OUT);
}

int
hal_copyinstr(char *dst, vaddr_t usrc, size_t max)
{
	return host_ucopy(usrc, dst, max, MOVE_STR);
}

/* ---- plain kernel accesses (section 3a) ---- */

int
host_mmu_kernel_access(vaddr_t va, unsigned access, uint64_t *val)
{
	vaddr_t pc = (vaddr_t)host_mmu_kernel_access;
	int err;

	while ((err = access_once(va & ~(vaddr_t)7, access, val)) != 0 &&
	    (err = mmu_trap(va, access, pc, err)) == 0)
		;
	return err;
}

uint64_t
host_mmu_access_or_panic(vaddr_t va, unsigned access, uint64_t value)
{
	uint64_t v = value;
	int err = host_mmu_kernel_access(va, access, &v);

	if (err == 0)
		return (access & HAL_FAULT_READ) ? v : 0;
	const char *what = (access & HAL_FAULT_EXEC) ? "instruction page fault" :
	    (access & HAL_FAULT_WRITE) ? "store page fault" : "load page fault";
	unsigned long cause = (access & HAL_FAULT_EXEC) ? 12 :
	    (access & HAL_FAULT_WRITE) ? 15 : 13;
	panic("unexpected trap: %s (scause %#lx) at sepc %#lx, stval %#lx, "
	    "from S mode%s (host software MMU)", what, cause,
	    (access & HAL_FAULT_EXEC) ? (unsigned long)va : 0ul,
	    (unsigned long)va, err == -EPERM ? ": kernel access to user "
	    "memory outside the user-copy routines (sstatus.SUM is clear)" :
	    "");
}

void
host_mmu_stats(unsigned cpu, struct host_mmu_stats *out)
{
	const struct host_mmu_stats *s = &mmu_harts[cpu].st;

	out->hits = stat_read(&s->hits);
	out->walks = stat_read(&s->walks);
	out->faults = stat_read(&s->faults);
	out->flushes = stat_read(&s->flushes);
	out->remote = stat_read(&s->remote);
}
