/*
 * smp.c: cross-calls and machine-wide jobs.
 *
 * 1. Cross-call slots.  calls[target][sender] is written by the sender and
 *    acknowledged by the target.  A sender has at most one call in flight
 *    (smp_call waits), so each slot has a single writer for (fn, arg, req)
 *    and a single writer for done: no lock.  The target's IPI handler scans
 *    its row for slots with req != done.
 *
 *	sender:  fn, arg = ...;  fence;  req++;  hal_ipi_send(target)
 *	target:  r = req; fence; fn(arg); fence; done = r
 *	sender:  spin until done == req  (serving its own row meanwhile)
 *
 *    The fence after fn() orders everything fn did (a TLB flush, say)
 *    before the acknowledgement.
 *
 * 2. Jobs.  smp_run() publishes (fn, arg) under a new generation number
 *    and raises an IPI on every other online cpu; a cpu idling in
 *    smp_idle_loop() sees the new generation, runs the job with interrupts
 *    on, and counts itself done.
 *
 * 3. Online cpus.  The embedding kernel starts its harts when it likes;
 *    a hart joins rvmm through vm_boot() (the boot hart) or vm_boot_cpu()
 *    (every other), which call smp_cpu_online().  Every "all cpus" request
 *    of rvmm (a cache drain, a kernel-pmap shootdown, smp_run) targets the
 *    online set only, so a hart that is not running yet, or runs the
 *    kernel's own start-up code, is never waited for; it has no rvmm state
 *    to act on either (no per-cpu caches, and its TLB is flushed when it
 *    comes online).  The online bit is set before the hart turns paging
 *    on, with a full fence, and a shootdown reads the set after its PTE
 *    stores and a full fence: a hart the shootdown missed walks the new
 *    tables.
 *
 * Field legend: (S) written by the sender only, (T) by the target only,
 * (R) protected by run_lock, (A) atomic.
 */
#include <ck_pr.h>
#include <ck_spinlock.h>

#include "lib/assert.h"
#include "lib/stat.h"
#include "lib/smp.h"

struct smp_slot {
	smp_fn_t fn;		/* (S) */
	void *arg;		/* (S) */
	uint64_t req;		/* (S) request sequence */
	uint64_t done;		/* (T) last request served */
} HAL_CACHE_ALIGNED;

static struct smp_slot calls[HAL_MAX_CPUS][HAL_MAX_CPUS];

struct smp_cpu {
	uint64_t calls_sent;	/* (L) */
	uint64_t calls_served;	/* (L) */
	uint64_t ipis_sent;	/* (L) */
	uint64_t job_seen;	/* (L) last job generation run */
} HAL_CACHE_ALIGNED;

static struct smp_cpu smp_cpus[HAL_MAX_CPUS];

static struct {
	smp_fn_t fn;		/* (R) */
	void *arg;		/* (R) */
	uint64_t gen;		/* (A) */
	unsigned remaining;	/* (A) */
} job;
static ck_spinlock_t run_lock = CK_SPINLOCK_INITIALIZER;

void
smp_call_poll(void)
{
	unsigned self = hal_cpu_id(), n = hal_ncpus();

	for (unsigned s = 0; s < n; s++) {
		struct smp_slot *sl = &calls[self][s];
		uint64_t r = ck_pr_load_64(&sl->req);

		if (r == ck_pr_load_64(&sl->done))
			continue;
		ck_pr_fence_load();
		smp_fn_t fn = ck_pr_load_ptr(&sl->fn);
		void *arg = ck_pr_load_ptr(&sl->arg);
		fn(arg);
		stat_inc(&smp_cpus[self].calls_served);
		ck_pr_fence_store();
		ck_pr_store_64(&sl->done, r);
	}
}

void
smp_ipi_entry(void)
{
	VM_ASSERT(!hal_intr_enabled());
	smp_call_poll();
	/* Jobs are picked up by the idle loop; the IPI only woke it. */
}

static uint64_t online[(HAL_MAX_CPUS + 63) / 64];	/* (A) */
static unsigned online_count;				/* (A) */

void
smp_cpu_online(void)
{
	unsigned self = hal_cpu_id();
	uint64_t bit = 1ull << (self % 64);

	VM_PANIC_IF(self >= hal_ncpus(), "smp_cpu_online(): cpu %u >= "
	    "hal_ncpus() %u", self, hal_ncpus());
	VM_PANIC_IF(ck_pr_load_64(&online[self / 64]) & bit,
	    "smp_cpu_online(): cpu %u is online already", self);
	/*
	 * Under run_lock, so that a running smp_run() either counted this
	 * cpu or is over: a job published before this cpu came online is not
	 * its own.
	 */
	ck_spinlock_lock(&run_lock);
	smp_cpus[self].job_seen = ck_pr_load_64(&job.gen);
	ck_pr_or_64(&online[self / 64], bit);
	ck_pr_inc_uint(&online_count);
	ck_pr_fence_memory();
	ck_spinlock_unlock(&run_lock);
}

bool
smp_cpu_is_online(unsigned cpu)
{
	return cpu < HAL_MAX_CPUS &&
	    ((ck_pr_load_64(&online[cpu / 64]) >> (cpu % 64)) & 1) != 0;
}

unsigned
smp_online_count(void)
{
	return ck_pr_load_uint(&online_count);
}

void
smp_online_set(hal_cpuset_t *out)
{
	for (unsigned w = 0; w < sizeof(out->bits) / sizeof(out->bits[0]); w++)
		out->bits[w] = ck_pr_load_64(&online[w]);
}

void
smp_call(const hal_cpuset_t *set, smp_fn_t fn, void *arg)
{
	unsigned self = hal_cpu_id(), n = hal_ncpus();
	hal_cpuset_t remote;
	bool any = false, local = false;

	hal_cpuset_clear(&remote);
	for (unsigned t = 0; t < n; t++) {
		if (!hal_cpuset_has(set, t))
			continue;
		if (t == self) {
			local = true;
			continue;
		}
		VM_PANIC_IF(!smp_cpu_is_online(t), "smp_call(cpu %u): target cpu "
		    "%u is not online (vm_boot_cpu)", self, t);
		struct smp_slot *sl = &calls[t][self];
		VM_ASSERT(ck_pr_load_64(&sl->req) == ck_pr_load_64(&sl->done));
		ck_pr_store_ptr(&sl->fn, (void *)fn);
		ck_pr_store_ptr(&sl->arg, arg);
		ck_pr_fence_store();
		ck_pr_store_64(&sl->req, sl->req + 1);
		hal_cpuset_add(&remote, t);
		stat_inc(&smp_cpus[self].calls_sent);
		stat_inc(&smp_cpus[self].ipis_sent);
		any = true;
	}
	if (any)
		hal_ipi_send(&remote);
	if (local) {
		hal_intr_t s = hal_intr_disable();
		fn(arg);
		hal_intr_restore(s);
	}
	if (!any)
		return;
	for (unsigned t = 0; t < n; t++) {
		if (!hal_cpuset_has(&remote, t))
			continue;
		struct smp_slot *sl = &calls[t][self];
		while (ck_pr_load_64(&sl->done) != sl->req) {
			if (!hal_intr_enabled())
				smp_call_poll();
			hal_cpu_relax();
		}
	}
	ck_pr_fence_load();
}

void
smp_call_one(unsigned cpu, smp_fn_t fn, void *arg)
{
	hal_cpuset_t s;

	VM_ASSERT(cpu < hal_ncpus());
	hal_cpuset_clear(&s);
	hal_cpuset_add(&s, cpu);
	smp_call(&s, fn, arg);
}

void
smp_stats_cpu(unsigned cpu, struct smp_stats *out)
{
	VM_ASSERT(cpu < hal_ncpus());
	out->calls_sent = stat_read(&smp_cpus[cpu].calls_sent);
	out->calls_served = stat_read(&smp_cpus[cpu].calls_served);
	out->ipis_sent = stat_read(&smp_cpus[cpu].ipis_sent);
}

void
smp_run(smp_fn_t fn, void *arg)
{
	unsigned self = hal_cpu_id(), n = hal_ncpus(), nt = 0;
	hal_cpuset_t others;

	VM_ASSERT(hal_intr_enabled());
	ck_spinlock_lock(&run_lock);
	smp_online_set(&others);
	VM_PANIC_IF(!hal_cpuset_has(&others, self), "smp_run(): cpu %u is not "
	    "online", self);
	for (unsigned t = 0; t < n; t++)
		if (t != self && hal_cpuset_has(&others, t))
			nt++;
	others.bits[self / 64] &= ~(1ull << (self % 64));
	job.fn = fn;
	job.arg = arg;
	ck_pr_store_uint(&job.remaining, nt + 1);
	ck_pr_fence_store();
	uint64_t gen = ck_pr_load_64(&job.gen) + 1;
	ck_pr_store_64(&job.gen, gen);
	smp_cpus[self].job_seen = gen;

	if (nt > 0) {
		stat_add(&smp_cpus[self].ipis_sent, nt);
		hal_ipi_send(&others);
	}
	fn(arg);
	ck_pr_dec_uint(&job.remaining);
	while (ck_pr_load_uint(&job.remaining) != 0)
		hal_cpu_relax();
	ck_pr_fence_load();
	ck_spinlock_unlock(&run_lock);
}

_Noreturn void
smp_idle_loop(void)
{
	struct smp_cpu *me = &smp_cpus[hal_cpu_id()];

	VM_PANIC_IF(!smp_cpu_is_online(hal_cpu_id()), "smp_idle_loop(): cpu %u "
	    "is not online (vm_boot_cpu)", hal_cpu_id());
	VM_ASSERT(hal_intr_enabled());

	for (;;) {
		hal_intr_t s = hal_intr_disable();
		uint64_t gen = ck_pr_load_64(&job.gen);

		if (gen == me->job_seen) {
			hal_cpu_idle();
			hal_intr_restore(s);
			continue;
		}
		ck_pr_fence_load();
		me->job_seen = gen;
		hal_intr_restore(s);
		job.fn(job.arg);
		ck_pr_fence_store();
		ck_pr_dec_uint(&job.remaining);
	}
}

void
smp_barrier_wait(struct smp_barrier *b, unsigned n)
{
	unsigned sense = ck_pr_load_uint(&b->sense);

	if (ck_pr_faa_uint(&b->count, 1) == n - 1) {
		ck_pr_store_uint(&b->count, 0);
		ck_pr_fence_store();
		ck_pr_store_uint(&b->sense, sense ^ 1);
		return;
	}
	while (ck_pr_load_uint(&b->sense) == sense)
		hal_cpu_relax();
	ck_pr_fence_load();
}
