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
 * handler.  vm_object_release() of the last reference calls the pager's
 * put and release: they must not call back into the map layer.  Without
 * an MMU the pager's get runs inside vm_object_pager_create, in its
 * caller's context; otherwise it runs inside a page fault (the map's
 * fault lock is held and the page's slot is busy): it must not sleep and
 * must not touch the map that faulted (a sleeping kernel would instead
 * mark the page busy and wait, see docs/INTEGRATION.md).
 */
#ifndef RVMM_VM_OBJECT_H
#define RVMM_VM_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
 *		fails with -EFAULT).  Required.
 *   put:	the object lets go of its page at offset (its last reference
 *		went); write it back if needed.  The object frees the frame
 *		afterwards.  Optional.
 *   release:	after the last put; the pager forgets the object.  Optional.
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
 * => 0, -ENOMEM, or -EFAULT (the pager failed).  *how says what happened.
 * => any thread context; concurrent calls for one offset create the page
 *    once.  The page stays until the object dies.
 */
int vm_object_page(vm_object_t obj, uint64_t offset, paddr_t *pa,
    enum vm_object_found *how);

/*
 * vm_object_lookup: the resident page at offset, or false (never
 * creates; physical objects always answer).
 */
bool vm_object_lookup(vm_object_t obj, uint64_t offset, paddr_t *pa);

#endif /* RVMM_VM_OBJECT_H */
