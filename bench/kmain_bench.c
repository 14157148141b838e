/*
 * kmain for the benchmark images (riscv64 kernel and host program); the
 * boot order is tests/kmain_test.c's.
 */
#include "bench/bench.h"
#include "hal/hal.h"
#include "hal/hal_test.h"
#include "lib/smp.h"
#include "vm/vm.h"

void
kmain(void)
{
	vm_set_bootargs(hal_bootargs());
	vm_boot();
	while (smp_online_count() != hal_ncpus())
		hal_cpu_relax();
	hal_poweroff(bench_main(hal_bootargs()));
}

_Noreturn void
kmain_secondary(void)
{
	vm_secondary_idle();
}
