/*
 * vm.c: bring-up order of the rvmm layers (see vm.h).
 */
#include "hal/pmap.h"
#include "lib/bootargs.h"
#include "vm/kmalloc.h"
#include "vm/map.h"
#include "vm/page.h"
#include "vm/vm.h"
#include "vm/zone.h"

void
vm_boot(void)
{
	page_init();
	/* Object caches and kmalloc; zone_init registers the reclaim hook. */
	zone_init();
	kmalloc_init();
	/* Paging on: the kernel pmap (direct map, W^X image) on every hart. */
	pmap_bootstrap();
	/* Bootarg page_poison=0 turns frame poisoning off (big memories). */
	if (bootarg_u64(hal_bootargs(), "page_poison", 1) == 0)
		page_set_poison(false);
	/* Maps, objects, the fault hook (needs zones and the pmap). */
	vm_map_init();
}
