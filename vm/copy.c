/*
 * copy.c: copyin, copyout, copyinstr (the contract is vm/copy.h).
 *
 * 1. Layers.  This file checks the user range; the port copies
 *    (hal_copyin, hal_copyout, hal_copyinstr in hal/hal.h).  On riscv64
 *    those are assembly routines that set sstatus.SUM only around their
 *    accesses (hal/riscv64/usercopy.S); on the host they go through the
 *    software MMU with its per-hart SUM bit (hal/host/mmu.c).  Either way
 *    a fault inside reaches vm_fault_trap() (fault.c section 3), which
 *    resolves it through vm_fault() or sends the routine to its recovery
 *    code (hal_copy_fixup), so this file never sees a fault.
 *
 * 2. The range check.  [va, va + len) rounded out to pages must be a
 *    user range (pmap_user_range_ok: inside the user window, no wrap).
 *    So a user copy never touches a kernel address, and the only faults
 *    it takes are on user pages.  copyinstr does not know the string's
 *    length, so it checks and copies one page at a time and stops at the
 *    NUL: a string that ends right before the end of user space or an
 *    unmapped page is read without touching what follows.
 *
 * 3. Without an MMU there is nothing to fault: the range must be covered
 *    by entries of the current map with the needed protection, checked
 *    under the map's reader side, which stays held while the bytes are
 *    copied (an munmap waits), so a failed check copies nothing.
 */
#include <errno.h>
#include <string.h>

#include "hal/hal.h"
#include "hal/pmap.h"
#include "vm/copy.h"
#include "vm/map_impl.h"

#define PGMASK ((vaddr_t)PAGE_SIZE - 1)

/* Section 2: [va, va + len) lies in user space.  pre: len > 0. */
static bool
copy_range_ok(vaddr_t va, size_t len)
{
	vaddr_t end, s, e;

	if (len > (vaddr_t)-1 - va)
		return false;
	end = va + len;
	s = va & ~PGMASK;
	e = (end + PGMASK) & ~PGMASK;
	if (e < end)
		return false;
	return pmap_user_range_ok(s, e - s);
}

/* ------------------------------------------------------------------ */
/* No MMU (section 3).                                                 */

/*
 * The bytes of [va, va + len) that entries of map cover contiguously from
 * va with prot, at most len.  pre: map's reader side held.
 */
static size_t
nommu_covered_locked(vm_map_t map, vaddr_t va, size_t len, unsigned prot)
{
	size_t done = 0;

	while (done < len) {
		const struct vm_map_entry *e = vm_map_lookup_locked(map,
		    va + done);
		if (e == NULL || (e->e_prot & prot) != prot)
			break;
		done += e->e_end - (va + done);
	}
	return done < len ? done : len;
}

/*
 * Copies n bytes between kernel memory and the user range at uva, a page
 * at a time through the kernel's view of physical memory (a host arena's
 * regions need not be contiguous).  pre: the range is covered.
 */
static void
nommu_move(void *kva, vaddr_t uva, size_t n, bool in)
{
	char *k = kva;

	while (n > 0) {
		size_t c = PAGE_SIZE - (uva & PGMASK);
		char *u = hal_phys_to_virt((paddr_t)uva);

		if (c > n)
			c = n;
		if (in)
			memcpy(k, u, c);
		else
			memcpy(u, k, c);
		k += c;
		uva += c;
		n -= c;
	}
}

static int
nommu_copy(void *kva, vaddr_t uva, size_t len, bool in)
{
	vm_map_t map = vm_map_current();
	int err = -EFAULT;

	if (map == NULL || len > (vaddr_t)-1 - uva)
		return -EFAULT;
	vm_map_read_lock(map);
	if (nommu_covered_locked(map, uva, len,
	    in ? VM_PROT_READ : VM_PROT_WRITE) == len) {
		nommu_move(kva, uva, len, in);
		err = 0;
	}
	vm_map_read_unlock(map);
	return err;
}

static int
nommu_copyinstr(char *dst, vaddr_t usrc, size_t max)
{
	vm_map_t map = vm_map_current();
	size_t n, done = 0;
	int err = -EFAULT;

	if (map == NULL)
		return -EFAULT;
	if (max > (vaddr_t)-1 - usrc)
		max = (vaddr_t)-1 - usrc;
	vm_map_read_lock(map);
	n = nommu_covered_locked(map, usrc, max, VM_PROT_READ);
	if (n == max)
		err = -ENAMETOOLONG;
	while (done < n) {
		size_t c = PAGE_SIZE - ((usrc + done) & PGMASK);
		const char *u = hal_phys_to_virt((paddr_t)(usrc + done));
		const char *nul;

		if (c > n - done)
			c = n - done;
		nul = memchr(u, 0, c);
		if (nul != NULL) {
			memcpy(dst + done, u, (size_t)(nul - u) + 1);
			err = 0;
			break;
		}
		memcpy(dst + done, u, c);
		done += c;
	}
	vm_map_read_unlock(map);
	return err;
}

/* ------------------------------------------------------------------ */
/* The calls.                                                          */

/* The port's answer (hal.h) as an errno. */
static int
copy_err(int r)
{
	if (r == 0)
		return 0;
	return r == HAL_COPY_NONUL ? -ENAMETOOLONG : -EFAULT;
}

int
vm_copyin(void *dst, vaddr_t usrc, size_t len)
{
	if (len == 0)
		return 0;
	if (!HAL_MMU)
		return nommu_copy(dst, usrc, len, true);
	if (!copy_range_ok(usrc, len))
		return -EFAULT;
	return copy_err(hal_copyin(dst, usrc, len));
}

int
vm_copyout(vaddr_t udst, const void *src, size_t len)
{
	if (len == 0)
		return 0;
	if (!HAL_MMU)
		return nommu_copy((void *)src, udst, len, false);
	if (!copy_range_ok(udst, len))
		return -EFAULT;
	return copy_err(hal_copyout(udst, src, len));
}

int
vm_copyinstr(char *dst, vaddr_t usrc, size_t max)
{
	if (max == 0)
		return -ENAMETOOLONG;
	if (!HAL_MMU)
		return nommu_copyinstr(dst, usrc, max);
	while (max > 0) {
		/* One page at a time (section 2). */
		size_t n = PAGE_SIZE - (usrc & PGMASK);
		int err;

		if (n > max)
			n = max;
		if (!copy_range_ok(usrc, n))
			return -EFAULT;
		err = copy_err(hal_copyinstr(dst, usrc, n));
		if (err != -ENAMETOOLONG)
			return err;
		dst += n;
		usrc += n;
		max -= n;
	}
	return -ENAMETOOLONG;
}
