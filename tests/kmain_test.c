/*
 * kmain for the test images (host program and riscv64 test kernel):
 * run the selected ktest cases and power off with the number of failures.
 *
 * Boot order (vm/vm.h): cpu 0 boots rvmm while the others wait in
 * kmain_secondary(); then each of them comes online (vm_boot_cpu) and
 * idles in smp_idle_loop(), where smp_run() finds it; cpu 0 waits for all
 * of them before the first test.
 */
#include "hal/hal.h"
#include "hal/hal_test.h"
#include "lib/smp.h"
#include "vm/vm.h"
#include "tests/ktest.h"

void
kmain(void)
{
	int failed;

	vm_set_bootargs(hal_bootargs());
	vm_boot();
	while (smp_online_count() != hal_ncpus())
		hal_cpu_relax();
	failed = ktest_main(hal_bootargs());
	hal_poweroff(failed == 0 ? 0 : 1);
}

_Noreturn void
kmain_secondary(void)
{
	vm_secondary_idle();
}
