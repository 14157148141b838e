/*
 * copy.h: copying between the kernel and user memory (copyin, copyout,
 * copyinstr).
 *
 * The user side is an address in the calling hart's current user address
 * space (the map passed to vm_map_activate on this hart; none active:
 * every user address fails).  The kernel side is an ordinary kernel
 * pointer.  The user address is not trusted: anything the user could pass
 * is answered with an error, never a panic or a hang:
 *	- a range not wholly inside user space (pmap_user_range_ok), or one
 *	  that wraps around the end of the address space: -EFAULT before any
 *	  access;
 *	- an unmapped page, or one without the needed permission (read for
 *	  copyin and copyinstr, write for copyout): -EFAULT, from the
 *	  routine's recovery point when the fault that the access took could
 *	  not be resolved.
 * NULL is an address like any other: -EFAULT because page 0 is outside
 * user space or not mapped (a map that maps page 0 with VM_MAP_FIXED makes
 * it an ordinary address).
 *
 * A fault inside a copy goes through vm_fault() as a fault of the user
 * process would: a page not yet touched is filled (zero-fill, the
 * object's page, a pager's page-in), a copy-on-write page is copied before
 * copyout writes it, so the user sees exactly what a store of its own
 * would have done.
 *
 * What a failed copy may have done.  Bytes are copied in increasing
 * address order.  On -EFAULT the destination may hold a prefix of the
 * copy that ends before the first byte that could not be accessed (so
 * never anything at or beyond the faulting page); pages copyout reached
 * before the fault may have been faulted in (filled or copied), as a
 * user store would have.  The rest of the destination is unchanged.
 *
 * Without an MMU (HAL_MMU == 0) user addresses are physical: the range
 * must lie inside entries of the current map with the needed protection,
 * checked before anything is copied, so a failed copy writes nothing.
 *
 * Contexts: thread context (a copy may fault, and the fault path may spin
 * on the map), interrupts on or off, never from an interrupt handler.
 * The user memory may change under a copy (other harts of the process,
 * munmap): each aligned word is read or written once, and a page unmapped
 * meanwhile makes the copy fail with -EFAULT or succeed with the bytes
 * before or after the change, never anything else.
 */
#ifndef RVMM_VM_COPY_H
#define RVMM_VM_COPY_H

#include <stddef.h>

#include "hal/hal.h"

/*
 * vm_copyin: copies len bytes from user address usrc to dst.
 * => 0, or -EFAULT (see above).  len 0: 0, nothing is checked.
 */
int vm_copyin(void *dst, vaddr_t usrc, size_t len);

/*
 * vm_copyout: copies len bytes from src to user address udst.
 * => 0, or -EFAULT (see above; a read-only page is -EFAULT).  len 0: 0.
 */
int vm_copyout(vaddr_t udst, const void *src, size_t len);

/*
 * vm_copyinstr: copies a NUL-terminated string from user address usrc to
 * dst, at most max bytes including the NUL.  Only the bytes up to the NUL
 * are read, so a string that ends just before an unmapped page is fine.
 * => 0: dst holds the string and its NUL;
 *    -ENAMETOOLONG: no NUL within the first max bytes (max 0 included);
 *    -EFAULT: a byte before the NUL could not be read (outside user
 *    space, unmapped, not readable).
 *    On an error dst holds whatever was read so far and is not a string.
 */
int vm_copyinstr(char *dst, vaddr_t usrc, size_t max);

#endif /* RVMM_VM_COPY_H */
