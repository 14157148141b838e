/*
 * kmain for the test images (host program and riscv64 test kernel):
 * run the selected ktest cases and power off with the number of failures.
 */
#include "hal/hal.h"
#include "lib/smp.h"
#include "vm/vm.h"
#include "tests/ktest.h"

void
kmain(void)
{
	int failed;

	smp_init();
	vm_boot();
	failed = ktest_main(hal_bootargs());
	hal_poweroff(failed == 0 ? 0 : 1);
}
