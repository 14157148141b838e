/*
 * vm.c: bring-up order of the rvmm layers (see vm.h).
 */
#include <ck_pr.h>

#include "hal/pmap.h"
#include "lib/assert.h"
#include "lib/bootargs.h"
#include "lib/smp.h"
#include "vm/kmalloc.h"
#include "vm/map.h"
#include "vm/page.h"
#include "vm/vm.h"
#include "vm/zone.h"

static const char *vm_args = "";	/* (C) set before vm_boot */
static bool vm_is_booted;		/* (A) */

void
vm_set_bootargs(const char *args)
{
	VM_PANIC_IF(ck_pr_load_8((uint8_t *)&vm_is_booted),
	    "vm_set_bootargs(%s): after vm_boot", args ? args : "NULL");
	vm_args = args != NULL ? args : "";
}

const char *
vm_bootargs(void)
{
	return vm_args;
}

bool
vm_booted(void)
{
	bool b = ck_pr_load_8((uint8_t *)&vm_is_booted) != 0;

	ck_pr_fence_load();
	return b;
}

void
vm_boot(void)
{
	VM_PANIC_IF(ck_pr_load_8((uint8_t *)&vm_is_booted),
	    "vm_boot(): called twice (cpu %u)", hal_cpu_id());
	/* The boot hart is the only online one (lib/smp.c section 3). */
	smp_cpu_online();
	page_init();
	/* Object caches and kmalloc; zone_init registers the reclaim hook. */
	zone_init();
	kmalloc_init();
	/* Paging on: the kernel pmap (direct map, W^X image), this hart. */
	pmap_bootstrap();
	/* Option page_poison=0 turns frame poisoning off (big memories). */
	if (bootarg_u64(vm_args, "page_poison", 1) == 0)
		page_set_poison(false);
	/* Maps, objects, the fault hook (needs zones and the pmap). */
	vm_map_init();
	ck_pr_fence_store();
	ck_pr_store_8((uint8_t *)&vm_is_booted, 1);
}

void
vm_boot_cpu(void)
{
	VM_PANIC_IF(!vm_booted(), "vm_boot_cpu(): cpu %u: vm_boot() has not "
	    "returned yet", hal_cpu_id());
	hal_intr_t s = hal_intr_disable();
	/* Online first, then paging on: see lib/smp.c section 3. */
	smp_cpu_online();
	pmap_bootstrap_cpu();
	hal_intr_restore(s);
}

_Noreturn void
vm_secondary_idle(void)
{
	while (!vm_booted())
		hal_cpu_relax();
	vm_boot_cpu();
	smp_idle_loop();
}
