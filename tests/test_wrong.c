/*
 * Wrong use and self-tests of the framework.  These suites are explicit:
 * they run only when named, and meson test expects them to fail in a
 * particular way (see ci/expect and wrong_use_cases in meson.build).
 */
#include "hal/hal.h"
#include "lib/assert.h"
#include "tests/ktest.h"

static volatile int two = 2;

KTEST_EXPLICIT(wrong_assert, assert_trips)
{
	VM_ASSERT(1 + 1 == 3 + (two - 2));
	KT_FAIL("VM_ASSERT did not stop the test");
}

KTEST_EXPLICIT(wrong_panic, deliberate)
{
	panic("deliberate panic from ktest (cpu %u)", hal_cpu_id());
}

/* Proves that a failed assertion in a case fails the whole run. */
KTEST_EXPLICIT(selftest_fail, must_fail)
{
	KT_EXPECT_EQ(two, 3);
}

#if defined(__riscv)
#include "lib/smp.h"

static void
illegal_on_last_cpu(void *arg)
{
	(void)arg;
	if (hal_cpu_id() == hal_ncpus() - 1)
		__asm__ __volatile__(".word 0");	/* illegal instruction */
}

/* An unexpected trap, on a secondary hart when there is one, must panic. */
KTEST_EXPLICIT(wrong_trap, illegal_instruction)
{
	smp_run(illegal_on_last_cpu, NULL);
	KT_FAIL("the illegal instruction did not trap");
}
#endif
