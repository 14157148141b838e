/*
 * probe_util.h: what tests that probe user pages through the MMU share.
 */
#ifndef RVMM_TESTS_PROBE_UTIL_H
#define RVMM_TESTS_PROBE_UTIL_H

#include <stdbool.h>

/*
 * ut_sum_hold: QEMU flushes a hart's whole TLB whenever sstatus.SUM
 * changes, and the probes set it around each access to a user page
 * (probe.S), putting it back as they found it; a stale translation could
 * then never survive from one probe to the next.  Tests that must see
 * stale translations (a missing shootdown) hold SUM set on riscv64 across
 * their probes.  A no-op on the host (its software MMU flushes nothing on
 * SUM).  pre: this hart, not migrating.
 */
static inline void
ut_sum_hold(bool on)
{
#if defined(__riscv)
	if (on)
		__asm__ __volatile__("csrs sstatus, %0" ::"r"(1ul << 18)
		    : "memory");
	else
		__asm__ __volatile__("csrc sstatus, %0" ::"r"(1ul << 18)
		    : "memory");
#else
	(void)on;
#endif
}

#endif /* RVMM_TESTS_PROBE_UTIL_H */
