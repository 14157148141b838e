/*
 * kmain for the benchmark images (riscv64 kernel and host program).
 */
#include "bench/bench.h"
#include "hal/hal.h"
#include "lib/smp.h"
#include "vm/vm.h"

void
kmain(void)
{
	smp_init();
	vm_boot();
	hal_poweroff(bench_main(hal_bootargs()));
}
