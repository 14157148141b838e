/*
 * fuzz_map.c: libFuzzer target for maps, objects, copy-on-write and
 * faults.  Each input drives one session of the reference model
 * (tests/map_model.c): mmap/munmap/mprotect with any arguments, loads and
 * stores through the software MMU, vm_fault with any access, fork,
 * destroy, a failing pager, failure injection; the model is checked
 * after every step and nothing may leak at the end.  A mismatch or a
 * panic aborts, so libFuzzer saves the input.
 *
 * The host port's main() is built renamed (rvmm_host_main, see
 * meson.build): LLVMFuzzerInitialize() runs it with one hart; its kmain()
 * (below) boots the VM and jumps back, leaving libFuzzer's thread as
 * cpu 0.  With one hart no IPI is ever sent, so libFuzzer may own the
 * signals.  rvmm's panic ends in _exit(), renamed to rvmm_fuzz_exit(),
 * which aborts.
 */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hal/hal_test.h"
#include "lib/smp.h"
#include "tests/map_model.h"
#include "vm/vm.h"

int rvmm_host_main(int argc, char **argv);
_Noreturn void rvmm_fuzz_exit(int code);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static jmp_buf booted;

void
kmain(void)
{
	vm_set_bootargs(hal_bootargs());
	vm_boot();
	longjmp(booted, 1);
}

/* One hart: never called, but the host port refers to it. */
_Noreturn void
kmain_secondary(void)
{
	vm_secondary_idle();
}

_Noreturn void
rvmm_fuzz_exit(int code)
{
	if (code != 0) {
		fprintf(stderr, "rvmm: poweroff %d (panic): aborting\n", code);
		abort();
	}
	_Exit(0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char *args[] = { "rvmm-fuzz-map", "harts=1", "mem=48M", NULL };

	(void)argc;
	(void)argv;
	if (setjmp(booted) == 0)
		rvmm_host_main(3, args);
	return 0;
}

static void
report(const char *msg)
{
	fprintf(stderr, "map model: %s\n", msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mm_result res;

	mm_session(data, size, NULL, 4000, report, &res);
	if (res.failures != 0) {
		fprintf(stderr, "map model: %u mismatches in %u steps\n",
		    res.failures, res.steps);
		abort();
	}
	return 0;
}
