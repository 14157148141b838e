/*
 * smp: cross-calls and whole-machine jobs on top of the HAL's IPIs.
 *
 * smp_call()	runs a short function on a set of cpus in interrupt
 *		context and waits until every target has returned from it
 *		(the acknowledgement TLB shootdown needs).
 * smp_run()	runs a function on every cpu in thread context, interrupts
 *		enabled, the caller's cpu included, and waits for all: the
 *		way tests and benchmarks put every hart to work.
 *
 * Secondary cpus sit in kmain_secondary() (defined here), idle until
 * smp_run() hands them a job.
 */
#ifndef RVMM_LIB_SMP_H
#define RVMM_LIB_SMP_H

#include <stdint.h>

#include "hal/hal.h"

typedef void (*smp_fn_t)(void *arg);

/* Installs the IPI handler.  pre: boot cpu, before any other smp call. */
void smp_init(void);

/*
 * smp_call: runs fn(arg) once on every cpu in `set` (interrupt context,
 * interrupts off; on the calling cpu directly) and returns when all have
 * finished.  fn must be short and must not block or call smp_call().
 * pre: any thread context, interrupts on or off.  While it waits the
 *      caller serves calls addressed to itself, so two cpus calling each
 *      other with interrupts off do not deadlock.
 */
void smp_call(const hal_cpuset_t *set, smp_fn_t fn, void *arg);
void smp_call_one(unsigned cpu, smp_fn_t fn, void *arg);

/* Serves pending calls addressed to this cpu.  pre: interrupts off. */
void smp_call_poll(void);

/*
 * smp_run: runs fn(arg) on every cpu in thread context and returns when
 * all have returned.  smp_run calls are serialised machine-wide.
 * pre: thread context, interrupts enabled; not from inside smp_run.
 */
void smp_run(smp_fn_t fn, void *arg);

/* Statistics. */
struct smp_stats {
	uint64_t calls_sent;	/* cross-call requests sent */
	uint64_t calls_served;	/* cross-call requests run on this cpu */
	uint64_t ipis_sent;	/* IPIs raised by this cpu */
};
void smp_stats_cpu(unsigned cpu, struct smp_stats *out);

/* A reusable barrier for n participants (sense-reversing). */
struct smp_barrier {
	unsigned count;
	unsigned sense;
};
#define SMP_BARRIER_INIT {0, 0}
void smp_barrier_wait(struct smp_barrier *b, unsigned n);

#endif /* RVMM_LIB_SMP_H */
