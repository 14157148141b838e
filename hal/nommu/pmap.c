/*
 * hal/nommu/pmap.c: hal/pmap.h without an MMU (HAL_MMU == 0).
 *
 * Theory.  With satp left Bare every address is physical, so the one
 * address space there is maps every address to itself, with every
 * permission: pmap_kernel() and every pmap_create() return the same
 * identity pmap, pmap_extract() reports the identity, and there is
 * nothing to remove, narrow, flush or shoot down (pmap_remove and
 * pmap_protect succeed and change nothing).  pmap_enter cannot make a
 * translation, so it returns -ENOTSUP; the map layer never calls it in
 * this mode (vm/map_nommu.c), and vm_fault refuses every fault before it
 * would.  Protection on such parts is the port's business (PMP, say),
 * not the VM's.
 *
 * Built instead of hal/sv39 when meson is configured with -Dmmu=false;
 * vm/ compiles the same sources in both builds.
 */
#include <errno.h>

#include "hal/hal.h"
#include "hal/pmap.h"
#include "lib/kprintf.h"

#if HAL_MMU
#error "hal/nommu/pmap.c is the pmap of the no-MMU build only"
#endif

struct pmap {
	int p_unused;
};

static struct pmap identity_pmap;

void
pmap_bootstrap(void)
{
	/* satp stays Bare: nothing to build or switch on. */
}

pmap_t
pmap_kernel(void)
{
	return &identity_pmap;
}

pmap_t
pmap_create(void)
{
	return &identity_pmap;
}

void
pmap_destroy(pmap_t p)
{
	(void)p;
}

int
pmap_enter(pmap_t p, vaddr_t va, paddr_t pa, unsigned prot, unsigned flags)
{
	(void)p, (void)va, (void)pa, (void)prot, (void)flags;
	return -ENOTSUP;
}

int
pmap_remove(pmap_t p, vaddr_t start, vaddr_t end)
{
	(void)p;
	return start <= end ? 0 : -EINVAL;
}

int
pmap_protect(pmap_t p, vaddr_t start, vaddr_t end, unsigned prot)
{
	(void)p, (void)prot;
	return start <= end ? 0 : -EINVAL;
}

int
pmap_extract(pmap_t p, vaddr_t va, struct pmap_mapping *out)
{
	(void)p;
	out->pa = (paddr_t)va;
	out->size = PMAP_SIZE_4K;
	out->prot = PMAP_PROT_ALL;
	out->attr = 0;
	out->global = true;
	out->user = false;
	out->pte = 0;
	return 0;
}

void
pmap_activate(pmap_t p)
{
	(void)p;
}

pmap_t
pmap_current(void)
{
	return &identity_pmap;
}

int
pmap_fault_fixup(vaddr_t va, unsigned access)
{
	(void)va, (void)access;
	return -EFAULT;
}

size_t
pmap_table_pages(pmap_t p)
{
	(void)p;
	return 0;
}

bool
pmap_is_valid(pmap_t p)
{
	return p == &identity_pmap;
}

/*
 * User space without an MMU: every physical address but page 0 (the same
 * window as vm/map_impl.h's VM_NOMMU_MIN/MAX).  There is nothing to move:
 * pmap_set_user_window accepts that window only.
 */
#define NOMMU_USER_MIN ((vaddr_t)HAL_PAGE_SIZE)
#define NOMMU_USER_MAX ((vaddr_t)1 << 56)

int
pmap_check_user_window(vaddr_t lo, vaddr_t hi)
{
	return lo == NOMMU_USER_MIN && hi == NOMMU_USER_MAX ? 0 : -EINVAL;
}

int
pmap_set_user_window(vaddr_t lo, vaddr_t hi)
{
	return pmap_check_user_window(lo, hi);
}

vaddr_t
pmap_user_min(void)
{
	return NOMMU_USER_MIN;
}

vaddr_t
pmap_user_max(void)
{
	return NOMMU_USER_MAX;
}

void
pmap_kernel_map_range(vaddr_t *lo, vaddr_t *hi)
{
	*lo = *hi = 0;
}

vaddr_t
pmap_mmio_va(paddr_t pa)
{
	return (vaddr_t)pa;
}

void
pmap_set_shootdown(enum pmap_shootdown how)
{
	(void)how;
}

enum pmap_shootdown
pmap_get_shootdown(void)
{
	return PMAP_SHOOTDOWN_RFENCE;
}

const char *
pmap_shootdown_name(enum pmap_shootdown how)
{
	(void)how;
	return "none";
}

void
pmap_cpu_stats(unsigned cpu, struct pmap_cpu_stats *out)
{
	(void)cpu;
	*out = (struct pmap_cpu_stats){ 0 };
}

void
pmap_stats(struct pmap_stats *out)
{
	*out = (struct pmap_stats){ .pmaps = 1 };
}

void
pmap_debug_set_asid_bits(unsigned bits)
{
	(void)bits;
}

void
pmap_debug_skip_remote(bool on)
{
	(void)on;
}
