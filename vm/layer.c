/*
 * layer.c: what the files of the map layer share (the contract is
 * vm/layer_impl.h): failure injection and the allocation helpers that
 * honour it, and the zones of anons and objects.  It sits below amap.c,
 * object.c, map.c and fault.c and calls none of them.
 */
#include "vm/amap.h"
#include "vm/layer_impl.h"
#include "vm/map.h"
#include "vm/object_impl.h"

zone_t vm_anon_zone, vm_object_zone;
static unsigned fail_every;		/* (A) */
static unsigned fail_count;		/* (A) */

void
vm_layer_init(void)
{
	vm_anon_zone = zone_create("vm-anon", sizeof(struct vm_anon), 0,
	    NULL, NULL, 0);
	vm_object_zone = zone_create("vm-object", sizeof(struct vm_object), 0,
	    NULL, NULL, 0);
	VM_PANIC_IF(vm_anon_zone == NULL || vm_object_zone == NULL,
	    "vm_layer_init: cannot create zones");
}

void
vm_debug_set_fail_every(unsigned n)
{
	ck_pr_store_uint(&fail_count, 0);
	ck_pr_store_uint(&fail_every, n);
}

bool
vm_fail_now(void)
{
	unsigned n = ck_pr_load_uint(&fail_every);

	if (n == 0)
		return false;
	return ck_pr_faa_uint(&fail_count, 1) % n == n - 1;
}

void *
vm_zalloc(zone_t z)
{
	if (vm_fail_now())
		return NULL;
	return zone_alloc(z, 0);
}

struct vm_page *
vm_frame_alloc(unsigned flags)
{
	if (vm_fail_now())
		return NULL;
	return page_alloc(0, flags);
}
