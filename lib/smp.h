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
 * Both reach the other cpus through the kernel's IPI: hal_ipi_send() raises
 * it, and the kernel's own interrupt dispatch calls smp_ipi_entry() on the
 * target (rvmm takes no handler slot).  Only online cpus (those that have
 * called vm_boot() or vm_boot_cpu(), see smp.c section 3) take part.
 * A kernel whose idle harts should serve smp_run() jobs (rvmm's test and
 * benchmark kernels) parks them in smp_idle_loop().
 */
#ifndef RVMM_LIB_SMP_H
#define RVMM_LIB_SMP_H

#include <stdbool.h>
#include <stdint.h>

#include "hal/hal.h"

typedef void (*smp_fn_t)(void *arg);

/*
 * smp_ipi_entry: rvmm's share of an IPI.  The kernel's trap or interrupt
 * dispatch calls it on every IPI it receives (rvmm's and its own: IPIs
 * may merge, and a call with nothing to do is cheap and harmless).  It
 * serves the cross-calls addressed to this cpu.
 * pre: on the target hart, interrupts off (interrupt context); the hart is
 *      online, or has nothing addressed to it (then it returns at once).
 */
void smp_ipi_entry(void);

/*
 * smp_idle_loop: idles (hal_cpu_idle) and runs each smp_run() job once, in
 * thread context with interrupts on.  Never returns.  Optional: for
 * kernels that park secondary harts in rvmm (its test and benchmark
 * kernels call it from their kmain_secondary()).
 * pre: the calling hart is online (vm_boot_cpu), interrupts on.
 */
_Noreturn void smp_idle_loop(void);

/*
 * Online cpus (smp.c section 3).  smp_cpu_online() is called by vm_boot()
 * and vm_boot_cpu() only; the others may be called by anyone, any context.
 */
void smp_cpu_online(void);
bool smp_cpu_is_online(unsigned cpu);
unsigned smp_online_count(void);
void smp_online_set(hal_cpuset_t *out);

/*
 * smp_call: runs fn(arg) once on every cpu in `set` (interrupt context,
 * interrupts off; on the calling cpu directly) and returns when all have
 * finished.  fn must be short and must not block or call smp_call().
 * pre: any thread context, interrupts on or off; every cpu in `set` other
 *      than the caller's is online (panics otherwise: it would never
 *      answer).  While it waits the
 *      caller serves calls addressed to itself, so two cpus calling each
 *      other with interrupts off do not deadlock.
 */
void smp_call(const hal_cpuset_t *set, smp_fn_t fn, void *arg);
void smp_call_one(unsigned cpu, smp_fn_t fn, void *arg);

/* Serves pending calls addressed to this cpu.  pre: interrupts off. */
void smp_call_poll(void);

/*
 * smp_run: runs fn(arg) on every online cpu in thread context and returns
 * when all have returned.  smp_run calls are serialised machine-wide.
 * pre: thread context, interrupts enabled; not from inside smp_run; the
 *      caller is online and every other online cpu idles in
 *      smp_idle_loop() (or will get there).
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
