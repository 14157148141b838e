/*
 * hal_md.h (host): the inline fast-path primitives of hal.h.  The cpu is
 * a thread-local pointer, its id a thread-local copy (hal_cpu_id() is one
 * %fs-relative load, as cheap as the kernel's tp-relative one, instead of
 * two dependent loads); "interrupts enabled" is a thread-local flag that
 * the IPI signal handler reads (see hal_host.c).  Included by hal/hal.h
 * only.
 */
#ifndef RVMM_HAL_HOST_HAL_MD_H
#define RVMM_HAL_HOST_HAL_MD_H

#include <signal.h>

/*
 * The host port builds executables only (the rvmm library is static), so
 * its thread-locals can use the local-exec model: one %fs-relative access
 * each, with no offset to load first.
 */
#define HAL_HOST_TLS __thread __attribute__((tls_model("local-exec")))

extern HAL_HOST_TLS struct hal_cpu *hal_host_self;
extern HAL_HOST_TLS unsigned hal_host_cpu_id;	/* hal_host_self->id */
extern HAL_HOST_TLS volatile sig_atomic_t hal_host_intr_on;
/* Takes IPIs that arrived while interrupts were off.  Out of line. */
void hal_host_intr_pending(void);
/* Nonzero when an IPI is pending for this thread's cpu. */
extern HAL_HOST_TLS volatile sig_atomic_t hal_host_ipi_waiting;

#define HAL_MD_CPU 1
static inline struct hal_cpu *
hal_cpu(void)
{
	return hal_host_self;
}

#define HAL_MD_CPU_ID 1
static inline unsigned
hal_cpu_id(void)
{
	return hal_host_cpu_id;
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
	if (__builtin_expect(state != 0, 1)) {
		hal_host_intr_on = 1;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (__builtin_expect(hal_host_ipi_waiting != 0, 0))
			hal_host_intr_pending();
	}
}

static inline bool
hal_intr_enabled(void)
{
	return hal_host_intr_on != 0;
}

#endif /* RVMM_HAL_HOST_HAL_MD_H */
