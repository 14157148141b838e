/*
 * mmap.c: xv6's mmap(2) and munmap(2) on rvmm's memory objects.
 *
 * Theory of operation.
 *
 * A file mapping is an rvmm pager object over the file's inode
 * (vm/object.h): the object's page at offset o holds the file's bytes
 * [o, o + PGSIZE), read by the pager's get the first time a process
 * touches the page (lazily: mmap itself reads nothing) and zero beyond
 * the end of the file.  Every mapping of one inode, in every process,
 * maps the same object, so MAP_SHARED stores are seen by all of them at
 * once; a MAP_PRIVATE mapping maps the object copy-on-write (rvmm's
 * amaps), so its stores stay in private copies and never reach the file.
 * Anonymous mappings (MAP_ANON) are rvmm's anonymous memory; fork shares
 * (MAP_SHARED) or copies on write (MAP_PRIVATE) all of them through
 * vm_map_copy, so this file has nothing to do at fork.
 *
 * The registry.  A table of open mapping objects, one per inode that is
 * mapped anywhere, holds one reference to each object and one to the
 * inode (idup).  The map entries hold the others.  When a munmap, an exit
 * or an exec leaves the registry's reference as the object's last, the
 * registry lets go: vm_object_release calls the pager's put for every
 * resident page (write-back) and then release (iput).  The registry only
 * lets go in a process's own context, where it may sleep on the disk.
 *
 * Write-back.  rvmm does not track dirty pages; a page of an object that
 * has ever been mapped MAP_SHARED and writable is written back whole
 * (clipped at the file's size: a mapping never grows its file) when a
 * munmap or an exit removes a shared writable mapping of it, and by put
 * when the object dies.  Pages of objects only ever mapped read-only or
 * private are never written.
 *
 * Sleeping.  The pager's get runs in the faulting process's context with
 * no rvmm lock held (vm/fault.c section 5) and sleeps on the disk in
 * readi; faults of other processes on the same page sleep in rvmm
 * through the hooks registered here (xv6's sleep and wakeup).
 *
 * Locks.  reg.lock (a sleeplock: put and release sleep on the disk while
 * it is held) protects the registry: its slots, and the rule that an
 * inode has at most one object.  Order: reg.lock, then the log
 * (begin_op), then an inode's lock.  Faults never take reg.lock.
 */
#include "rvmm_xv6.h"
#include "fcntl.h"

#ifndef MAP_ANON
#define MAP_ANON 0x20
#endif

/* The largest file xv6 holds, rounded up: every file object's size. */
#define MFILE_SIZE PGROUNDUP((uint64)MAXFILE * BSIZE)
/* Where mmap places mappings when the caller gives no address: half-way
   up the user window, far above any heap sbrk can grow in 128 MiB. */
#define MMAP_HINT_DIV 2
/*
 * Map entries looked at in one go (in reg, not on the one-page kernel
 * stack); sys_mmap refuses a mapping to a process with more than
 * MMAP_MAX_ENTRIES, so exit finds every file mapping in one listing.
 */
#define ENTRY_MAX 96
#define MMAP_MAX_ENTRIES 64

struct mfile {
	struct inode *ip;	/* idup'd; NULL: slot free */
	vm_object_t obj;	/* the registry's reference */
	int shared_w;		/* ever mapped MAP_SHARED and writable */
};

static struct {
	struct sleeplock lock;
	struct mfile slot[NFILE];
	struct vm_map_entry_info ents[ENTRY_MAX];
} reg;

_Static_assert(PROT_READ == VM_PROT_READ && PROT_WRITE == VM_PROT_WRITE &&
    PROT_EXEC == VM_PROT_EXEC, "xv6 PROT_* are rvmm's VM_PROT_*");

static int
mfile_writeback(struct mfile *mf, uint64 off, void *src)
{
	struct inode *ip = mf->ip;
	int r = 0;

	begin_op();
	ilock(ip);
	if (off < ip->size) {
		uint n = ip->size - off < PGSIZE ? ip->size - off : PGSIZE;
		if (writei(ip, 0, (uint64)src, off, n) != n)
			r = -1;
	}
	iunlock(ip);
	end_op();
	return r;
}

/* ---- the pager ---- */

/*
 * True when the caller holds an xv6 spinlock: xv6 may not sleep then
 * (sched() panics).  A user copy inside pipewrite or piperead runs under
 * the pipe's spinlock; if it touches a file page that is not in yet, the
 * pager cannot read the disk there.
 */
static int
holding_spinlock(void)
{
	int n;

	push_off();
	n = mycpu()->noff;
	pop_off();
	return n > 1;
}

static int
mfile_get(void *priv, uint64_t offset, struct vm_page *pg)
{
	struct mfile *mf = priv;
	struct inode *ip = mf->ip;
	int r = 0;

	/* Cannot sleep on the disk here: the fault, and the copy, fail. */
	if (holding_spinlock())
		return -1;
	ilock(ip);
	if (offset < ip->size) {
		uint n = ip->size - offset < PGSIZE ? ip->size - offset : PGSIZE;
		if (readi(ip, 0, (uint64)page_to_kva(pg), offset, n) != n)
			r = -1;	/* the fault fails: -EFAULT */
	}
	iunlock(ip);
	return r;
}

static void
mfile_put(void *priv, uint64_t offset, struct vm_page *pg)
{
	struct mfile *mf = priv;

	if (mf->shared_w)
		(void)mfile_writeback(mf, offset, page_to_kva(pg));
}

static void
mfile_release(void *priv)
{
	struct mfile *mf = priv;

	begin_op();
	iput(mf->ip);
	end_op();
	mf->ip = 0;
	mf->obj = 0;
	mf->shared_w = 0;
}

static const struct vm_pager_ops mfile_ops = {
	.name = "xv6-file",
	.get = mfile_get,
	.put = mfile_put,
	.release = mfile_release,
};

/* The registry slot whose object is obj, or NULL.  pre: reg.lock. */
static struct mfile *
mfile_of_locked(vm_object_t obj)
{
	if (obj == 0)
		return 0;
	for (int i = 0; i < NFILE; i++)
		if (reg.slot[i].ip != 0 && reg.slot[i].obj == obj)
			return &reg.slot[i];
	return 0;
}

/*
 * Lets go of every object no map uses any more (the registry's reference
 * is its last): write-back and iput happen here.  pre: reg.lock.
 */
static void
mfile_sweep_locked(void)
{
	for (int i = 0; i < NFILE; i++) {
		struct mfile *mf = &reg.slot[i];
		if (mf->ip != 0 && vm_object_refs(mf->obj) == 1)
			vm_object_release(mf->obj);	/* put..., release */
	}
}

/*
 * Writes back the resident pages of [start, end) of a map entry (its
 * object is mf's, mapped shared and writable).  pre: reg.lock.
 */
static void
mfile_writeback_range_locked(struct mfile *mf,
    const struct vm_map_entry_info *e, uint64 start, uint64 end)
{
	for (uint64 va = start; va < end; va += PGSIZE) {
		uint64_t off = e->offset + (va - e->start);
		paddr_t pa;
		if (vm_object_lookup(mf->obj, off, &pa))
			(void)mfile_writeback(mf, off, page_to_kva(pa_to_page(pa)));
	}
}

/*
 * The entries of map, in address order, into reg.ents: how many there
 * are (at most ENTRY_MAX are copied).  pre: reg.lock.
 */
static size_t
entries_locked(vm_map_t map)
{
	return vm_map_entries(map, reg.ents, ENTRY_MAX);
}

/* Writes back e's part of [start, end) if e maps a file shared writable. */
static void
entry_writeback_locked(const struct vm_map_entry_info *e, uint64 start,
    uint64 end)
{
	struct mfile *mf = mfile_of_locked(e->object);
	uint64 s = e->start > start ? e->start : start;
	uint64 t = e->end < end ? e->end : end;

	if (mf != 0 && s < t && (e->flags & VM_MAP_SHARED) &&
	    (e->prot & VM_PROT_WRITE))
		mfile_writeback_range_locked(mf, e, s, t);
}

/*
 * Writes back what the shared writable file mappings of [addr, addr +
 * len) in map hold, then unmaps the range.  0 or a negative errno (the
 * range is then still mapped).  pre: reg.lock.
 */
static int
unmap_locked(vm_map_t map, uint64 addr, uint64 len)
{
	uint64 end = addr + len;
	size_t n = entries_locked(map);
	size_t got = n < ENTRY_MAX ? n : ENTRY_MAX;
	uint64 va = addr;

	if (end < addr)
		return -1;
	for (size_t i = 0; i < got; i++)
		entry_writeback_locked(&reg.ents[i], addr, end);
	/*
	 * More entries than the buffer holds (sys_mmap keeps a process below
	 * that, but munmaps can split entries): look the rest up by address.
	 */
	if (n > ENTRY_MAX && reg.ents[got - 1].end > va)
		va = reg.ents[got - 1].end;
	while (n > ENTRY_MAX && va < end) {
		struct vm_map_entry_info one;
		if (!vm_map_lookup(map, va, &one)) {
			va += PGSIZE;
			continue;
		}
		entry_writeback_locked(&one, addr, end);
		va = one.end;
	}
	return vm_munmap(map, addr, len);
}

/* ---- system calls ---- */

uint64
sys_mmap(void)
{
	uint64 addr, len, off;
	int prot, flags, fd;
	struct proc *p = myproc();
	vm_map_t map = proc_map(p);
	vm_object_t obj = 0;
	unsigned vflags;
	vaddr_t lo, hi;
	long r;

	argaddr(0, &addr);
	argaddr(1, &len);
	argint(2, &prot);
	argint(3, &flags);
	argint(4, &fd);
	argaddr(5, &off);

	if (len == 0 || len > MFILE_SIZE * 1024 || (off % PGSIZE) != 0 ||
	    (addr % PGSIZE) != 0 || (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)))
		return -1;
	int share = flags & (MAP_SHARED | MAP_PRIVATE);
	if ((share != MAP_SHARED && share != MAP_PRIVATE) ||
	    (flags & ~(MAP_SHARED | MAP_PRIVATE | MAP_ANON)))
		return -1;
	struct vm_map_stats ms;
	vm_map_stats(map, &ms);
	if (ms.entries >= MMAP_MAX_ENTRIES)
		return -1;
	len = PGROUNDUP(len);
	vflags = share == MAP_SHARED ? VM_MAP_SHARED : VM_MAP_PRIVATE;
	vm_map_window(map, &lo, &hi);
	if (addr == 0)
		addr = lo + (hi - lo) / MMAP_HINT_DIV;

	if (flags & MAP_ANON) {
		if (off != 0)
			return -1;
		r = vm_mmap(map, addr, len, prot, vflags | VM_MAP_ANON, 0, 0);
		return r < 0 ? -1 : (uint64)r;
	}

	struct file *f;
	if (fd < 0 || fd >= NOFILE || (f = p->ofile[fd]) == 0 ||
	    f->type != FD_INODE || !f->readable)
		return -1;
	if (share == MAP_SHARED && (prot & PROT_WRITE) && !f->writable)
		return -1;
	if (off + len > MFILE_SIZE)
		return -1;

	acquiresleep(&reg.lock);
	struct mfile *mf = 0, *fr = 0;
	for (int i = 0; i < NFILE; i++) {
		if (reg.slot[i].ip == f->ip)
			mf = &reg.slot[i];
		else if (reg.slot[i].ip == 0 && fr == 0)
			fr = &reg.slot[i];
	}
	if (mf == 0) {
		if (fr == 0)
			goto fail;
		obj = vm_object_pager_create(MFILE_SIZE, VM_PROT_ALL, &mfile_ops, fr);
		if (obj == 0)
			goto fail;
		fr->ip = idup(f->ip);
		fr->obj = obj;
		fr->shared_w = 0;
		mf = fr;
	}
	r = vm_mmap(map, addr, len, prot, vflags, mf->obj, off);
	if (r >= 0 && share == MAP_SHARED && (prot & PROT_WRITE))
		mf->shared_w = 1;
	if (r < 0)
		mfile_sweep_locked();	/* a new object nobody maps */
	releasesleep(&reg.lock);
	return r < 0 ? -1 : (uint64)r;
fail:
	releasesleep(&reg.lock);
	return -1;
}

uint64
sys_munmap(void)
{
	uint64 addr, len;
	vm_map_t map = proc_map(myproc());
	int r;

	argaddr(0, &addr);
	argaddr(1, &len);
	if (len == 0 || (addr % PGSIZE) != 0)
		return -1;
	len = PGROUNDUP(len);
	acquiresleep(&reg.lock);
	r = unmap_locked(map, addr, len);
	mfile_sweep_locked();
	releasesleep(&reg.lock);
	return r < 0 ? -1 : 0;
}

/* ---- process life ---- */

int
mmap_fork(struct proc *parent, struct proc *child)
{
	/* vm_map_copy shared or copied every mapping, references included. */
	(void)parent;
	(void)child;
	return 0;
}

/*
 * Unmaps every file mapping of p's map (writing back the shared writable
 * ones) and lets go of objects nobody maps any more.  Called by exit, and
 * by exec before it discards the old map, in p's context.
 */
void
mmap_exit(struct proc *p)
{
	vm_map_t map = proc_map(p);

	if (map == 0)
		return;
	acquiresleep(&reg.lock);
	for (int again = 1; again;) {
		size_t n = entries_locked(map);
		size_t got = n < ENTRY_MAX ? n : ENTRY_MAX;
		again = 0;
		for (size_t i = 0; i < got; i++) {
			const struct vm_map_entry_info *e = &reg.ents[i];
			if (mfile_of_locked(e->object) == 0)
				continue;
			/* A whole entry: no split, so no -ENOMEM to retry. */
			again = unmap_locked(map, e->start, e->end - e->start) == 0;
			break;		/* reg.ents was refilled */
		}
	}
	mfile_sweep_locked();
	releasesleep(&reg.lock);
}

/* ---- sleeping in rvmm: xv6's sleep and wakeup ---- */

static uint64 vm_sleeps;	/* times a process slept in rvmm (ck_pr) */

/* How many times processes slept in rvmm waiting for a busy page. */
uint64
mmap_sleeps(void)
{
	return ck_pr_load_64(&vm_sleeps);
}

static void
xv6_vm_sleep(const void *chan, ck_spinlock_t *lk)
{
	struct proc *p = myproc();

	if (holding_spinlock()) {
		/*
		 * A user copy under an xv6 spinlock met a page another process
		 * is reading in: xv6 cannot sleep here, so wait spinning (a
		 * spurious return: rvmm checks again).  The reader runs on
		 * another hart; on one hart this cannot finish.
		 */
		ck_spinlock_unlock(lk);
		for (int i = 0; i < 1000; i++)
			ck_pr_stall();
		ck_spinlock_lock(lk);
		return;
	}
	ck_pr_inc_64(&vm_sleeps);
	acquire(&p->lock);
	ck_spinlock_unlock(lk);
	p->chan = (void *)chan;
	p->state = SLEEPING;
	sched();
	p->chan = 0;
	release(&p->lock);
	ck_spinlock_lock(lk);
}

static void
xv6_vm_wakeup(const void *chan)
{
	wakeup((void *)chan);
}

static const struct vm_sleep_ops xv6_sleep_ops = {
	.sleep = xv6_vm_sleep,
	.wakeup = xv6_vm_wakeup,
};

void
mmap_init(void)
{
	initsleeplock(&reg.lock, "mmap");
	vm_set_sleep_ops(&xv6_sleep_ops);
}
