/*
 * object.h: memory objects, the things maps map (Mach-style).
 *
 * An object is a reference-counted range of `size` bytes whose pages
 * every map that maps it shares.  Three kinds:
 *
 *	anonymous	pages are zero-filled frames, created on first touch
 *			and kept until the object dies (shared memory, the
 *			backing of VM_MAP_SHARED|VM_MAP_ANON)
 *	physical	a fixed physical range (device registers, a frame
 *			buffer, a carve-out): no frames are allocated, the
 *			page at offset o is pa + o; mapped VM_MAP_SHARED only
 *	pager		pages come from a pager, a small ops table the kernel
 *			provides (its file system, say): get fills a zeroed
 *			frame for an offset, put takes it back when the
 *			object dies, release ends the pager's state
 *
 * Pages of anonymous and pager objects are frames from vm/page.h; a
 * resident page stays until the last reference goes, then every page is
 * put back (pager) and freed.  Without an MMU (HAL_MMU == 0) such an
 * object is one physically contiguous segment, allocated, zeroed and
 * filled by the pager when the object is made (so creation fails when no
 * run of that size is free, or the pager's get fails), and every mapping
 * of it maps that segment where it lies.  A private mapping of an object reads its
 * pages and writes to copies (vm/amap.h); a shared one writes the pages.
 *
 * Contexts: thread context, interrupts on or off, never in an interrupt
 * handler.  The pager's get, put and release run with no rvmm lock held,
 * so they may sleep (in the embedding kernel's own way) and may take the
 * kernel's locks:
 *	get	inside vm_object_page(), which marks the object's page busy
 *		first.  A page fault that needs the pager takes a reference
 *		on the object, drops the map's reader side and the page's
 *		amap slot, calls vm_object_page() and starts over (vm/fault.c
 *		section 5); other faults and vm_object_page() calls on the
 *		busy page wait (sleeping through struct vm_sleep_ops below,
 *		or spinning without them).  Without an MMU get runs inside
 *		vm_object_pager_create, in its caller's context.
 *	put, release  when the last reference goes: in vm_object_release(),
 *		or after vm_munmap / vm_map_destroy have let go of the map's
 *		lock (a release under a map's writer side is deferred until
 *		that side is released, on the same cpu).
 * A get must not wait for the page it is filling (fault on it, or ask
 * vm_object_page for it): that waits forever.  A get that sleeps needs
 * the sleep hooks: without them a waiter spins (hal_cpu_relax), which
 * only works while the holder runs on another hart.
 */
#ifndef RVMM_VM_OBJECT_H
#define RVMM_VM_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ck_spinlock.h>

#include "hal/hal.h"
#include "vm/map.h"

struct vm_page;

enum vm_object_kind {
	VM_OBJ_ANON,
	VM_OBJ_PHYS,
	VM_OBJ_PAGER,
};

/*
 * The pager of a pager-backed object.  priv is what vm_object_pager_create
 * was given.
 *   get:	fill the frame pg (zeroed; PAGE_SIZE bytes at page_to_kva(pg))
 *		with the object's data at `offset` (page-aligned).  Returns 0,
 *		-ENOMEM, or another negative errno (-EIO, say: the fault then
 *		fails with -EFAULT).  May sleep.  Called once per offset at a
 *		time: while it runs the page is busy, and every other user of
 *		that page waits; after a failure the next one to want the page
 *		calls get again.  Required.
 *   put:	the object lets go of its page at offset (its last reference
 *		went); write it back if needed.  The object frees the frame
 *		afterwards.  May sleep.  Optional.
 *   release:	after the last put; the pager forgets the object.  May
 *		sleep.  Optional.
 */
struct vm_pager_ops {
	const char *name;
	int (*get)(void *priv, uint64_t offset, struct vm_page *pg);
	void (*put)(void *priv, uint64_t offset, struct vm_page *pg);
	void (*release)(void *priv);
};

/*
 * Constructors: one reference, held by the caller.  size is a non-zero
 * multiple of PAGE_SIZE, at most VM_OBJECT_MAX_SIZE; maxprot the
 * protections the object allows (VM_PROT_*; anonymous objects allow all).
 * A physical object's pa is page-aligned.  NULL on bad arguments or when
 * memory is short.
 */
#define VM_OBJECT_MAX_SIZE (1ull << 39)	/* 512 GiB: the page table's reach */

vm_object_t vm_object_anon_create(uint64_t size);
vm_object_t vm_object_phys_create(paddr_t pa, uint64_t size,
    unsigned maxprot);
vm_object_t vm_object_pager_create(uint64_t size, unsigned maxprot,
    const struct vm_pager_ops *ops, void *priv);

/* Adds a reference.  pre: the caller holds one. */
void vm_object_ref(vm_object_t obj);

/*
 * Drops a reference; the last one frees every page (after the pager's
 * put) and the object.  Panics when there is no reference to drop.
 */
void vm_object_release(vm_object_t obj);

enum vm_object_kind vm_object_kind(vm_object_t obj);
uint64_t vm_object_size(vm_object_t obj);
unsigned vm_object_maxprot(vm_object_t obj);
/* The base of a physical object, or of a segment (no-MMU build). */
paddr_t vm_object_phys_addr(vm_object_t obj);
/* References held now (maps' entries and the caller's). */
unsigned vm_object_refs(vm_object_t obj);
/* Frames the object holds now (0 for physical objects). */
size_t vm_object_resident(vm_object_t obj);

/*
 * How vm_object_page found its page (fault statistics).
 */
enum vm_object_found {
	VM_OBJPG_RESIDENT,	/* already there */
	VM_OBJPG_ZEROED,	/* anonymous object: a new zero-filled frame */
	VM_OBJPG_PAGEDIN,	/* the pager filled a new frame */
	VM_OBJPG_PHYS,		/* physical object: computed, no frame */
};

/*
 * vm_object_page: the physical address of the object's page at offset
 * (page-aligned, < size), creating it if need be.
 * => 0, -ENOMEM, or -EFAULT (the pager failed).  *how (if how is not
 *    NULL) says what happened.  obj released already: panics.
 * => thread context, the caller holding a reference on obj and no rvmm
 *    lock (no map lock, no page's slot).  May call the pager's get, and
 *    may wait (sleep through the hooks, or spin) while another caller or
 *    fault creates the same page: concurrent calls for one offset create
 *    it once (a failed get creates nothing: the next caller tries again).
 *    The page stays until the object dies.
 */
int vm_object_page(vm_object_t obj, uint64_t offset, paddr_t *pa,
    enum vm_object_found *how);

/*
 * How many times a caller (vm_object_page, or a fault) found a page of
 * obj busy being created and waited for it (observability, tests).
 */
uint64_t vm_object_waits(vm_object_t obj);

/*
 * Sleeping: the embedding kernel's wait channels (optional).
 *
 *   sleep(chan, lk):	called with the spinlock lk held (taken by rvmm with
 *			ck_spinlock_trylock); atomically releases lk and
 *			puts the calling thread to sleep on chan, so that a
 *			wakeup(chan) issued after lk was released is not
 *			lost; reacquires lk before returning.  May return
 *			without a wakeup (spurious): rvmm checks again.
 *   wakeup(chan):	wakes every thread asleep on chan.  rvmm calls it
 *			with no rvmm lock held, after it changed what the
 *			sleepers wait for and then took and released their
 *			lk (so a sleeper that saw the old state under lk is
 *			already asleep).  Must not sleep.
 *
 * chan is an address inside rvmm (the page's slot word), only a key.
 * This is the contract of xv6's and the BSDs' sleep(chan, lock)/wakeup.
 * rvmm sleeps only where it holds nothing else: in vm_object_page() and
 * in the fault path after dropping the map and the page's slot, i.e. in
 * the context vm_fault()/vm_object_page() was called in; a kernel that
 * registers the hooks calls them where the current thread may sleep.
 *
 * vm_set_sleep_ops(ops): registers the hooks (NULL: none).  Without hooks
 * rvmm never sleeps: a wait for a busy page spins (hal_cpu_relax, serving
 * cross-calls when interrupts are off).  Call it before any fault on a
 * pager object, or when no thread waits; ops must stay valid.  Panics
 * when ops lacks sleep or wakeup.
 */
struct vm_sleep_ops {
	void (*sleep)(const void *chan, ck_spinlock_t *lk);
	void (*wakeup)(const void *chan);
};

void vm_set_sleep_ops(const struct vm_sleep_ops *ops);

/*
 * vm_object_lookup: the resident page at offset, or false (never
 * creates; physical objects always answer).
 */
bool vm_object_lookup(vm_object_t obj, uint64_t offset, paddr_t *pa);

#endif /* RVMM_VM_OBJECT_H */
