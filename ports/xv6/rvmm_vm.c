/*
 * rvmm_vm.c: xv6's memory on rvmm.  Replaces kernel/kalloc.c and
 * kernel/vm.c of xv6 (both dropped from the build).
 *
 * 1. Frames and kernel objects.  kalloc()/kfree() (xv6_kfree) hand out
 *    single frames of rvmm's page allocator (per-CPU caches in front of
 *    the buddy allocator), identity-mapped, as xv6's callers expect (pipe
 *    buffers, virtio rings).  Trapframes are kmalloc objects; per-process
 *    kernel stacks are 2^RVMM_KSTACK_ORDER frames, allocated with the
 *    process (stock xv6 keeps NPROC stacks mapped from boot).
 *
 * 2. Address spaces.  One rvmm map per process (p->map, W^X); the kernel
 *    is mapped in every one of them, so nothing switches satp on a trap.
 *    The user window is [0, 2 GiB) and xv6's layout is kept: the ELF
 *    segments from 0, a guard page (left unmapped), one stack page, then
 *    the heap up to p->sz.
 *    - exec builds a fresh map, faults each page in (vm_fault) and fills
 *      it through the direct map (the map is not active yet), and swaps it
 *      in only when everything succeeded (exec_switch); the old map is
 *      destroyed then, the new one kept only on success.
 *    - fork is vm_map_copy(): the pages are shared copy-on-write, nothing
 *      is copied at fork.
 *    - sbrk maps anonymous memory (vm_mmap, FIXED) and unmaps it
 *      (vm_munmap); pages are filled at their first touch (vm_fault).
 *    - exit destroys the map (after switching this hart off it: the
 *      scheduler switches every other hart off a process's map when the
 *      process leaves it).
 *    - context switches: vm_map_activate(p->map) when the scheduler runs
 *      p, vm_map_activate(NULL) when p gives the hart back.  rvmm's pmap
 *      keeps ASIDs, so a switch writes satp and flushes nothing (but on an
 *      ASID rollover); shootdowns reach exactly the harts where the map
 *      is active.
 *    - user copies: vm_copyin/vm_copyout/vm_copyinstr on the hart's
 *      current map.  The pagetable argument of copyin/copyout/copyinstr
 *      is ignored (always the calling process's; p->pagetable stays 0).
 *
 * 3. Commit accounting.  Lazily filled memory would let sbrk promise
 *    more than there is; xv6's user programs expect sbrk to fail (-1)
 *    instead (usertests sbrkfail, countfree, execout).  Every private page
 *    a process maps (ELF segments, stack, heap) is charged to a global
 *    count that may not exceed commit_limit: the free frames when boot is
 *    done, less a reserve for the kernel's own allocations (page tables,
 *    anon tables, pipes, kernel stacks).  sbrk and exec fail when the
 *    charge does not fit; munmap, exec's old image and exit give it back.
 *    fork charges the child with the parent's pages without checking:
 *    copy-on-write shares them, and a later copy that finds no frame
 *    kills the writer (as the xv6 copy-on-write lab asks), never the
 *    kernel.
 *
 * 4. Observability: rvmm_procdump() (Ctrl-P) asks for one line of
 *    figures, which the next scheduler pass on any hart prints (it drains
 *    the per-CPU page caches and the zones first: that needs thread
 *    context with interrupts on, which the console interrupt is not).
 */
#include "rvmm_xv6.h"

static ck_spinlock_t commit_lock = CK_SPINLOCK_INITIALIZER;
static uint64 committed;		/* (commit_lock) pages charged */
static uint64 commit_limit = ~0ull;	/* set once boot is done */
static uint64 boot_free_pages;
static int stats_wanted;		/* (A) Ctrl-P */

#define COMMIT_RESERVE_MIN 512ull	/* pages kept for the kernel */

_Static_assert(RVMM_KSTACK_SIZE == KSTACKSIZE, "memlayout.h's KSTACKSIZE");

/* ------------------------------------------------------------------ */
/* Frames: xv6's kalloc() and kfree().                                 */

void
kinit(void)
{
}

void *
kalloc(void)
{
	struct vm_page *pg = page_alloc(0, 0);

	return pg != NULL ? page_to_kva(pg) : 0;
}

void
xv6_kfree(void *pa)
{
	if (((uint64)pa % PGSIZE) != 0)
		panic("kfree %p", pa);
	page_free(kva_to_page(pa), 0);
}

/* ------------------------------------------------------------------ */
/* Commit accounting (section 3).                                      */

static int
commit_charge(uint64 n, int force)
{
	int ok = 1;

	ck_spinlock_lock(&commit_lock);
	if (!force && committed + n > commit_limit)
		ok = 0;
	else
		committed += n;
	ck_spinlock_unlock(&commit_lock);
	return ok ? 0 : -1;
}

static void
commit_release(uint64 n)
{
	ck_spinlock_lock(&commit_lock);
	if (n > committed)
		panic("commit_release %lu > %lu", (unsigned long)n,
		    (unsigned long)committed);
	committed -= n;
	ck_spinlock_unlock(&commit_lock);
}

/* Free frames, with the per-CPU caches and the zones' cached memory
 * given back first.  pre: thread context, interrupts on. */
static uint64
free_pages_drained(void)
{
	zone_reap_everything();
	page_drain_all();
	return page_free_count();
}

/* End of the boot hart's initialisation (main): the commit limit, and
 * the free memory after boot, printed once. */
void
rvmm_boot_done(void)
{
	uint64 total, reserve;
	struct page_stats ps;

	boot_free_pages = free_pages_drained();
	page_stats(&ps);
	total = ps.total_pages;
	reserve = total / 32;
	if (reserve < COMMIT_RESERVE_MIN)
		reserve = COMMIT_RESERVE_MIN;
	commit_limit = boot_free_pages > reserve ? boot_free_pages - reserve : 0;
	printf("rvmm: boot free_pages=%d total_pages=%d commit_limit=%d\n",
	    (int)boot_free_pages, (int)total, (int)commit_limit);
}

/* ------------------------------------------------------------------ */
/* Processes.                                                          */

vm_map_t
proc_map(struct proc *p)
{
	return p->map;
}

/* allocproc: trapframe, kernel stack, an empty map.  0 or -1 (freeproc
 * undoes what was done).  p->lock held. */
int
rvmm_proc_alloc(struct proc *p)
{
	struct vm_page *pg;

	p->commit = 0;
	p->trapframe = kmalloc(sizeof(struct trapframe), KM_ZERO);
	if (p->trapframe == 0)
		return -1;
	pg = page_alloc(RVMM_KSTACK_ORDER, 0);
	if (pg == NULL)
		return -1;
	p->kstack = (uint64)page_to_kva(pg);
	p->map = vm_map_create(VM_MAPF_WXORX);
	if (p->map == NULL)
		return -1;
	return 0;
}

/* freeproc: what rvmm_proc_alloc made.  The map is gone by then (exit,
 * or a failed fork destroyed it; map changes need interrupts on, and
 * freeproc runs under p->lock); an empty one may remain only if allocproc
 * failed after making it, which it does not (the map comes last). */
void
rvmm_proc_free(struct proc *p)
{
	if (p->map != NULL) {
		vm_map_destroy(p->map);
		p->map = NULL;
	}
	if (p->commit != 0) {
		commit_release(p->commit);
		p->commit = 0;
	}
	if (p->kstack != 0) {
		page_free(kva_to_page((void *)p->kstack), RVMM_KSTACK_ORDER);
		p->kstack = 0;
	}
	if (p->trapframe != 0) {
		kfree(p->trapframe);
		p->trapframe = 0;
	}
}

/* The kernel address of user page va of map (not necessarily active),
 * filled in first: to load a map exec has not switched to yet. */
static char *
map_page_kva(vm_map_t map, uint64 va)
{
	struct pmap_mapping m;

	va = PGROUNDDOWN(va);
	if (vm_fault(map, va, HAL_FAULT_READ) != 0)
		return 0;
	if (pmap_extract(vm_map_pmap(map), va, &m) != 0)
		return 0;
	return (char *)hal_phys_to_virt(m.pa);
}

static int
map_write(vm_map_t map, uint64 va, const char *src, uint64 len)
{
	while (len > 0) {
		char *k = map_page_kva(map, va);
		uint64 n = PGSIZE - (va % PGSIZE);

		if (k == 0)
			return -1;
		if (n > len)
			n = len;
		memmove(k + va % PGSIZE, src, n);
		va += n;
		src += n;
		len -= n;
	}
	return 0;
}

/* userinit: initcode at 0, one page, read and execute.  No spinlock
 * held; interrupts are on for the map change (main() runs with them off:
 * they go back off). */
void
uvmfirst(struct proc *p, uchar *src, uint sz)
{
	int on = intr_get();

	if (sz >= PGSIZE)
		panic("uvmfirst: more than a page");
	intr_on();
	if (vm_mmap(p->map, 0, PGSIZE, VM_PROT_READ | VM_PROT_EXEC,
	    VM_MAP_PRIVATE | VM_MAP_ANON | VM_MAP_FIXED, NULL, 0) != 0 ||
	    map_write(p->map, 0, (char *)src, sz) != 0)
		panic("uvmfirst");
	if (!on)
		intr_off();
	commit_charge(1, 1);
	p->commit = 1;
}

/* sbrk: grows or shrinks the heap by n bytes.  0 or -1. */
int
growproc(int n)
{
	struct proc *p = myproc();
	uint64 sz = p->sz, newsz = sz + n;
	uint64 lo, hi;

	if (n > 0) {
		if (newsz < sz || newsz > pmap_user_max())
			return -1;
		lo = PGROUNDUP(sz);
		hi = PGROUNDUP(newsz);
		if (hi > lo) {
			uint64 pages = (hi - lo) / PGSIZE;
			if (commit_charge(pages, 0) != 0)
				return -1;
			if (vm_mmap(p->map, lo, hi - lo, VM_PROT_READ |
			    VM_PROT_WRITE, VM_MAP_PRIVATE | VM_MAP_ANON |
			    VM_MAP_FIXED, NULL, 0) < 0) {
				commit_release(pages);
				return -1;
			}
			p->commit += pages;
		}
	} else if (n < 0) {
		if (newsz > sz)		/* below 0: as stock, nothing */
			return 0;
		lo = PGROUNDUP(newsz);
		hi = PGROUNDUP(sz);
		if (hi > lo) {
			uint64 pages = (hi - lo) / PGSIZE;
			if (vm_munmap(p->map, lo, hi - lo) != 0)
				return -1;
			if (pages > p->commit)
				pages = p->commit;
			commit_release(pages);
			p->commit -= pages;
		}
	}
	p->sz = newsz;
	return 0;
}

/* fork: the child shares the parent's memory copy-on-write.  0 or -1
 * (np->map is then gone).  Interrupts on, no lock held. */
int
rvmm_fork(struct proc *p, struct proc *np)
{
	if (vm_map_copy(np->map, p->map) != 0 || mmap_fork(p, np) != 0) {
		vm_map_destroy(np->map);
		np->map = NULL;
		return -1;
	}
	commit_charge(p->commit, 1);
	np->commit = p->commit;
#ifdef RVMM_XV6_CHECK
	if (!vm_map_is_valid(p->map) || !vm_map_is_valid(np->map))
		panic("fork: invalid map");
#endif
	return 0;
}

/* exit: the map goes now (the process runs kernel code only from here
 * on).  Interrupts on, no lock held. */
void
rvmm_exit(struct proc *p)
{
	vm_map_t map = p->map;

	push_off();
	vm_map_activate(NULL);
	pop_off();
	p->map = NULL;
	vm_map_destroy(map);
	commit_release(p->commit);
	p->commit = 0;
}

/* scheduler(): p is about to run on this hart / has given it back. */
void
rvmm_switch_in(struct proc *p)
{
	vm_map_activate(p->map);
}

void
rvmm_switch_out(void)
{
	vm_map_activate(NULL);
}

/* ------------------------------------------------------------------ */
/* exec.                                                               */

vm_map_t
exec_map(void)
{
	return vm_map_create(VM_MAPF_WXORX);
}

static unsigned
perm_to_prot(int perm)
{
	unsigned prot = VM_PROT_READ;

	if (perm & PTE_W)
		prot |= VM_PROT_WRITE;
	if (perm & PTE_X)
		prot |= VM_PROT_EXEC;
	return prot;
}

/* Maps [PGROUNDUP(oldsz), newsz) with perm (PTE_W, PTE_X); returns newsz,
 * or 0 (as xv6's uvmalloc). */
uint64
exec_alloc(vm_map_t map, uint64 oldsz, uint64 newsz, int perm)
{
	uint64 lo = PGROUNDUP(oldsz), hi = PGROUNDUP(newsz);

	if (newsz < oldsz)
		return oldsz;
	if (hi > pmap_user_max())
		return 0;
	if (hi > lo && vm_mmap(map, lo, hi - lo, perm_to_prot(perm),
	    VM_MAP_PRIVATE | VM_MAP_ANON | VM_MAP_FIXED, NULL, 0) < 0)
		return 0;
	return newsz;
}

/* Reads sz bytes at offset of ip into the pages at va (mapped). */
int
exec_load(vm_map_t map, uint64 va, struct inode *ip, uint offset, uint sz)
{
	for (uint i = 0; i < sz; i += PGSIZE) {
		char *k = map_page_kva(map, va + i);
		uint n = sz - i < PGSIZE ? sz - i : PGSIZE;

		if (k == 0)
			return -1;
		if (readi(ip, 0, (uint64)k, offset + i, n) != n)
			return -1;
	}
	return 0;
}

int
exec_copyout(vm_map_t map, uint64 va, char *src, uint64 len)
{
	return map_write(map, va, src, len);
}

/* The stack guard page: unmapped (stock xv6 clears its PTE_U). */
void
exec_guard(vm_map_t map, uint64 va)
{
	if (vm_munmap(map, va, PGSIZE) != 0)
		panic("exec_guard");
}

/* Commits p to the image in map (sz bytes, one guard page): charges its
 * pages, switches this hart to it and destroys the old map.  0, or -1
 * when the charge does not fit (nothing changed). */
int
exec_switch(struct proc *p, vm_map_t map, uint64 sz)
{
	uint64 pages = PGROUNDUP(sz) / PGSIZE - 1;
	vm_map_t old = p->map;

	if (pages > p->commit) {
		if (commit_charge(pages - p->commit, 0) != 0)
			return -1;
	} else {
		commit_release(p->commit - pages);
	}
	p->commit = pages;
	/* The old image's file mappings: written back, their objects let
	 * go here, where exec may sleep (mmap.c). */
	mmap_exit(p);
#ifdef RVMM_XV6_CHECK
	if (!vm_map_is_valid(map))
		panic("exec: invalid map");
#endif
	push_off();
	p->map = map;
	vm_map_activate(map);
	pop_off();
	vm_map_destroy(old);
	return 0;
}

void
exec_abort(vm_map_t map)
{
	vm_map_destroy(map);
}

/* ------------------------------------------------------------------ */
/* User memory: copyin, copyout, copyinstr (the current map's).        */

int
copyout(pagetable_t pagetable, uint64 dstva, char *src, uint64 len)
{
	(void)pagetable;
	return vm_copyout(dstva, src, len) == 0 ? 0 : -1;
}

int
copyin(pagetable_t pagetable, char *dst, uint64 srcva, uint64 len)
{
	(void)pagetable;
	return vm_copyin(dst, srcva, len) == 0 ? 0 : -1;
}

int
copyinstr(pagetable_t pagetable, char *dst, uint64 srcva, uint64 max)
{
	(void)pagetable;
	return vm_copyinstr(dst, srcva, max) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Page faults.                                                        */

static unsigned
fault_access(uint64 scause)
{
	switch (scause) {
	case 12:
		return HAL_FAULT_EXEC;
	case 13:
		return HAL_FAULT_READ;
	case 15:
		return HAL_FAULT_WRITE;
	}
	return 0;
}

int
rvmm_is_page_fault(uint64 scause)
{
	return fault_access(scause) != 0;
}

/* usertrap(): a page fault from user mode.  0: resolved, return to the
 * process; -1: kill it (nothing mapped, protection, or no memory).
 * Interrupts off (no migration inside vm_fault). */
int
rvmm_user_fault(uint64 scause, uint64 stval, uint64 sepc)
{
	vaddr_t pc = sepc;

	return vm_fault_trap(stval, fault_access(scause) | HAL_FAULT_USER,
	    &pc) == 0 ? 0 : -1;
}

/* kerneltrap(): a page fault in kernel mode: inside a user-copy routine
 * (resolved, or sent to its recovery code), else a kernel bug. */
void
rvmm_kernel_fault(uint64 scause, uint64 stval, uint64 *sepc)
{
	vaddr_t pc = *sepc;
	int err = vm_fault_trap(stval, fault_access(scause), &pc);

	if (err != 0)
		panic("xv6: kernel page fault at %#lx, sepc %#lx (%d)",
		    (unsigned long)stval, (unsigned long)*sepc, err);
	*sepc = pc;
}

/* ------------------------------------------------------------------ */
/* Ctrl-P.                                                             */

void
rvmm_procdump(void)
{
	ck_pr_store_int(&stats_wanted, 1);
}

/* From scheduler(), each pass: thread context, interrupts on. */
void
rvmm_sched_idle(void)
{
	struct vm_fault_stats fs;
	struct pmap_stats ps;
	struct smp_stats ss;
	uint64 ipis = 0, calls = 0, free;

	if (ck_pr_load_int(&stats_wanted) == 0 ||
	    !ck_pr_cas_int(&stats_wanted, 1, 0))
		return;
	free = free_pages_drained();
	vm_fault_stats(&fs);
	pmap_stats(&ps);
	for (unsigned c = 0; c < hal_ncpus(); c++) {
		smp_stats_cpu(c, &ss);
		ipis += ss.ipis_sent;
		calls += ss.calls_sent;
	}
	printf("rvmm: free_pages=%d boot_free_pages=%d committed=%d "
	    "faults=%d zero_fill=%d cow_copy=%d cow_reuse=%d "
	    "tlb_local_flushes=%d shootdowns=%d "
	    "shootdown_ipis=%d rfences=%d switches=%d switch_flushes=%d "
	    "asid_rollovers=%d asid_bits=%d ipis=%d cross_calls=%d "
	    "pager_sleeps=%d\n",
	    (int)free, (int)boot_free_pages, (int)committed,
	    (int)fs.faults, (int)fs.zero_fill, (int)fs.cow_copy,
	    (int)fs.cow_reuse, (int)ps.sum.local_flushes,
	    (int)ps.sum.shootdowns, (int)ps.sum.ipis_sent,
	    (int)ps.sum.rfence_calls, (int)ps.sum.switches,
	    (int)ps.sum.switch_flushes, (int)ps.sum.rollovers,
	    (int)ps.asid_bits, (int)ipis, (int)calls, (int)mmap_sleeps());
#ifdef RVMM_XV6_CHECK
	if (!page_is_valid())
		panic("page allocator invalid");
#endif
}
