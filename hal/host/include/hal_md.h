/*
 * hal_md.h (host): the inline fast-path primitives of hal.h.  The cpu is
 * a thread-local pointer; "interrupts enabled" is a thread-local flag that
 * the IPI signal handler reads (see hal_host.c).  Included by hal/hal.h
 * only.
 */
#ifndef RVMM_HAL_HOST_HAL_MD_H
#define RVMM_HAL_HOST_HAL_MD_H

#include <signal.h>

extern __thread struct hal_cpu *hal_host_self;
extern __thread volatile sig_atomic_t hal_host_intr_on;
/* Takes IPIs that arrived while interrupts were off.  Out of line. */
void hal_host_intr_pending(void);
/* Nonzero when an IPI is pending for this thread's cpu. */
extern __thread volatile sig_atomic_t hal_host_ipi_waiting;

static inline struct hal_cpu *
hal_cpu(void)
{
	return hal_host_self;
}

static inline hal_intr_t
hal_intr_disable(void)
{
	hal_intr_t was = (hal_intr_t)hal_host_intr_on;

	hal_host_intr_on = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return was;
}

static inline void
hal_intr_restore(hal_intr_t state)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (state) {
		hal_host_intr_on = 1;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (hal_host_ipi_waiting)
			hal_host_intr_pending();
	}
}

static inline bool
hal_intr_enabled(void)
{
	return hal_host_intr_on != 0;
}

#endif /* RVMM_HAL_HOST_HAL_MD_H */
