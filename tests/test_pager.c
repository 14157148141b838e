/*
 * Tests of pagers that sleep (vm/object.c sections 7-8, vm/fault.c
 * section 5): a pager whose get (or put) blocks until the test lets it
 * go, while other harts fault on the same page, unmap the range, or use
 * the map.
 *
 * Blocking: on the host each case runs twice, once without sleep hooks
 * (rvmm spins, the pager spins) and once with hooks built on a pthread
 * mutex and condition variable (rvmm sleeps in them, the pager blocks on
 * the same condition variable).  The riscv64 test kernel has no
 * scheduler: there only the spinning half runs.  Every wait of the test
 * is for an event the code under test must produce (a hart inside get,
 * a hart waiting for the busy page), never for a time.
 */
#include <errno.h>
#include <string.h>

#include <ck_pr.h>
#include <ck_spinlock.h>

#include "hal/hal.h"
#include "hal/pmap.h"
#include "lib/smp.h"
#include "tests/ktest.h"
#include "tests/map_util.h"
#include "vm/fault.h"
#include "vm/map.h"
#include "vm/object.h"

#if !defined(__riscv)
#include <pthread.h>
#define SP_MODES 2		/* spin, then sleep */
#else
#define SP_MODES 1		/* spin */
#endif

#define RW (VM_PROT_READ | VM_PROT_WRITE)
#define FX VM_MAP_FIXED
#define SP_PAGES 4
#define SP_HARTS 4		/* at most, in every case */
#define SP_PRIV (UBASE + 16 * PG)	/* a private mapping of the object */
#define SP_ANON (UBASE + 32 * PG)	/* anonymous memory */

static bool sp_sleeping;		/* this round registered the hooks */

/* ------------------------------------------------------------------ */
/* Host sleep hooks: one mutex, one condition variable for everything. */

#if !defined(__riscv)
static pthread_mutex_t hs_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hs_cv = PTHREAD_COND_INITIALIZER;
static bool hs_slept[HAL_MAX_CPUS];	/* (under hs_mu) */
static unsigned hs_sleepers;		/* (under hs_mu) harts that slept */

static void
hs_sleep(const void *chan, ck_spinlock_t *lk)
{
	(void)chan;
	pthread_mutex_lock(&hs_mu);
	ck_spinlock_unlock(lk);
	if (!hs_slept[hal_cpu_id()])
		hs_sleepers++;
	hs_slept[hal_cpu_id()] = true;
	/* A pager blocked in the test may wait for this sleeper. */
	pthread_cond_broadcast(&hs_cv);
	pthread_cond_wait(&hs_cv, &hs_mu);
	pthread_mutex_unlock(&hs_mu);
	ck_spinlock_lock(lk);
}

static void
hs_wakeup(const void *chan)
{
	(void)chan;
	pthread_mutex_lock(&hs_mu);
	pthread_cond_broadcast(&hs_cv);
	pthread_mutex_unlock(&hs_mu);
}

static const struct vm_sleep_ops hs_ops = { hs_sleep, hs_wakeup };
#endif

/* Round `mode` of a case: 0 spins, 1 (host only) sleeps. */
static void
sp_set_mode(unsigned mode)
{
	sp_sleeping = mode == 1;
#if !defined(__riscv)
	pthread_mutex_lock(&hs_mu);
	memset(hs_slept, 0, sizeof(hs_slept));
	hs_sleepers = 0;
	pthread_mutex_unlock(&hs_mu);
	vm_set_sleep_ops(sp_sleeping ? &hs_ops : NULL);
#else
	vm_set_sleep_ops(NULL);
#endif
}

/* Blocks the calling hart until until() holds. */
static void
sp_block(bool (*until)(void))
{
#if !defined(__riscv)
	if (sp_sleeping) {
		pthread_mutex_lock(&hs_mu);
		while (!until())
			pthread_cond_wait(&hs_cv, &hs_mu);
		pthread_mutex_unlock(&hs_mu);
		return;
	}
#endif
	while (!until())
		hal_cpu_relax();
}

/* Harts that slept in the hooks this round (0 without hooks). */
static unsigned
sp_sleepers(void)
{
#if !defined(__riscv)
	unsigned n;

	pthread_mutex_lock(&hs_mu);
	n = hs_sleepers;
	pthread_mutex_unlock(&hs_mu);
	return n;
#else
	return 0;
#endif
}

/* After a change some sp_block() may wait for. */
static void
sp_kick(void)
{
#if !defined(__riscv)
	if (sp_sleeping) {
		pthread_mutex_lock(&hs_mu);
		pthread_cond_broadcast(&hs_cv);
		pthread_mutex_unlock(&hs_mu);
	}
#endif
}

/* ------------------------------------------------------------------ */
/* The pager.                                                          */

static struct {
	vm_object_t o;
	vm_map_t m;
	unsigned harts;		/* faulting harts this round */
	/* The pager's behaviour. */
	bool (*get_gate)(void);	/* the first get blocks until it holds */
	bool (*put_gate)(void);	/* every put blocks until it holds */
	int first_err;		/* what the first get returns */
	int later_err;		/* what later gets return */
	/* What happened. */
	unsigned gets;		/* (A) calls of get */
	unsigned in_get;	/* (A) calls of get entered */
	unsigned puts;		/* (A) */
	unsigned in_put;	/* (A) */
	unsigned releases;	/* (A) */
	unsigned open;		/* (A) the test's gate */
	int res[HAL_MAX_CPUS];
	paddr_t pa[HAL_MAX_CPUS];
	uint64_t bad;		/* (A) */
} sp;

static struct smp_barrier sp_bar = SMP_BARRIER_INIT;

static int
sp_get(void *priv, uint64_t offset, struct vm_page *pg)
{
	uint64_t *p = page_to_kva(pg);
	unsigned call = ck_pr_faa_uint(&sp.in_get, 1);

	(void)priv;
	sp_kick();
	if (call == 0 && sp.get_gate != NULL)
		sp_block(sp.get_gate);
	ck_pr_inc_uint(&sp.gets);
	if ((call == 0 ? sp.first_err : sp.later_err) != 0)
		return call == 0 ? sp.first_err : sp.later_err;
	p[0] = cookie(offset, 1000);
	p[511] = cookie(offset, 2000);
	return 0;
}

static void
sp_put(void *priv, uint64_t offset, struct vm_page *pg)
{
	(void)priv;
	if (*(uint64_t *)page_to_kva(pg) != cookie(offset, 1000))
		ck_pr_inc_64(&sp.bad);
	ck_pr_inc_uint(&sp.in_put);
	sp_kick();
	if (sp.put_gate != NULL)
		sp_block(sp.put_gate);
	ck_pr_inc_uint(&sp.puts);
}

static void
sp_release(void *priv)
{
	(void)priv;
	ck_pr_inc_uint(&sp.releases);
}

static const struct vm_pager_ops sp_ops = {
	"sleepy", sp_get, sp_put, sp_release,
};

/* Gates. */
static bool
sp_all_waiting(void)		/* every other faulting hart waits */
{
#if !defined(__riscv)
	/* Evaluated under hs_mu: asleep in the hooks, not just counted. */
	if (sp_sleeping)
		return hs_sleepers >= sp.harts - 1;
#endif
	return vm_object_waits(sp.o) >= sp.harts - 1;
}

static bool
sp_in_get(void)
{
	return ck_pr_load_uint(&sp.in_get) >= 1;
}

static bool
sp_in_put(void)
{
	return ck_pr_load_uint(&sp.in_put) >= 1;
}

static bool
sp_opened(void)
{
	return ck_pr_load_uint(&sp.open) != 0;
}

static void
sp_open(void)
{
	ck_pr_store_uint(&sp.open, 1);
	sp_kick();
}

/*
 * A new round: the object (SP_PAGES pages) mapped shared at UBASE and
 * private at SP_PRIV, anonymous memory at SP_ANON, in a new map.
 */
static bool
sp_setup(unsigned mode, unsigned harts)
{
	sp_set_mode(mode);
	memset(&sp, 0, sizeof(sp));
	sp.harts = harts;
	for (unsigned c = 0; c < HAL_MAX_CPUS; c++)
		sp.res[c] = 1;
	sp.o = vm_object_pager_create(SP_PAGES * PG, RW, &sp_ops, NULL);
	sp.m = vm_map_create(0);
	if (sp.o == NULL || sp.m == NULL)
		return false;
	return vm_mmap(sp.m, UBASE, SP_PAGES * PG, RW, VM_MAP_SHARED | FX,
	    sp.o, 0) == (long)UBASE &&
	    vm_mmap(sp.m, SP_PRIV, SP_PAGES * PG, RW, VM_MAP_PRIVATE | FX,
	    sp.o, 0) == (long)SP_PRIV &&
	    vm_mmap(sp.m, SP_ANON, SP_PAGES * PG, RW,
	    VM_MAP_PRIVATE | VM_MAP_ANON | FX, NULL, 0) == (long)SP_ANON;
}

/* What the map translates va to, 0 if nothing. */
static paddr_t
sp_extract(vaddr_t va)
{
	struct pmap_mapping mp;

	if (pmap_extract(vm_map_pmap(sp.m), va, &mp) != 0)
		return 0;
	return mp.pa;
}

static unsigned
sp_harts(void)
{
	return hal_ncpus() < SP_HARTS ? hal_ncpus() : SP_HARTS;
}

/* ------------------------------------------------------------------ */
/* (a) Faults on one page while get sleeps.                            */

/* Hart c reads page 1: even harts through the shared mapping, odd ones
   through the private one (the object's page, read-only). */
static vaddr_t
sp_va(unsigned c)
{
	return (c % 2 == 0 ? UBASE : SP_PRIV) + PG;
}

static void
sp_fault_worker(void *arg)
{
	unsigned c = hal_cpu_id();

	(void)arg;
	if (c >= sp.harts)
		return;
	smp_barrier_wait(&sp_bar, sp.harts);
	sp.res[c] = vm_fault(sp.m, sp_va(c), HAL_FAULT_READ);
	sp.pa[c] = sp_extract(sp_va(c));
}

KTEST(pager, faults_share_one_get)
{
	struct vm_fault_stats s0, d;
	struct leak_snap l;
	unsigned n = sp_harts();

	for (unsigned mode = 0; mode < SP_MODES; mode++) {
		paddr_t pa = 0;

		leak_start(&l);
		KT_ASSERT(sp_setup(mode, n));
		sp.get_gate = n > 1 ? sp_all_waiting : NULL;
		vm_fault_stats(&s0);
		smp_run(sp_fault_worker, NULL);
		fault_delta(&s0, &d);
		KT_EXPECT_EQ(sp.gets, 1);
		KT_EXPECT_EQ(vm_object_waits(sp.o), n - 1);
		/* With the hooks, every waiter slept in them. */
		KT_EXPECT_EQ(sp_sleepers(), sp_sleeping ? n - 1 : 0);
		KT_EXPECT(vm_object_lookup(sp.o, PG, &pa));
		for (unsigned c = 0; c < n; c++) {
			KT_EXPECT_EQ(sp.res[c], 0);
			KT_EXPECT_EQ(sp.pa[c], pa);
		}
		KT_EXPECT_EQ(*(uint64_t *)hal_phys_to_virt(pa),
		    cookie(PG, 1000));
		KT_EXPECT_EQ(vm_object_resident(sp.o), 1);
		KT_EXPECT_EQ(d.pagein, 1);
		KT_EXPECT_EQ(d.resolved, n);
		/* The page-in restarts once, every waiter once. */
		KT_EXPECT_EQ(d.restarts, n);
		/* Only the waiters saw the page, the pager's own fault not. */
		KT_EXPECT_EQ(d.obj_hit, n - 1);
		KT_EXPECT(vm_map_is_valid(sp.m));
		vm_map_destroy(sp.m);
		KT_EXPECT_EQ(sp.puts, 0);	/* our reference holds it */
		vm_object_release(sp.o);
		KT_EXPECT_EQ(sp.puts, 1);
		KT_EXPECT_EQ(sp.releases, 1);
		KT_EXPECT_EQ(ck_pr_load_64(&sp.bad), 0);
		sp_set_mode(0);
		LEAK_CHECK(&l);
		ktest_note("%s: %u harts, %llu restarts", mode ? "sleep" :
		    "spin", n, (unsigned long long)d.restarts);
	}
}

/* The same without a map: vm_object_page() from every hart. */
static enum vm_object_found sp_how[HAL_MAX_CPUS];

static void
sp_object_worker(void *arg)
{
	unsigned c = hal_cpu_id();

	(void)arg;
	if (c >= sp.harts)
		return;
	smp_barrier_wait(&sp_bar, sp.harts);
	sp.res[c] = vm_object_page(sp.o, 2 * PG, &sp.pa[c], &sp_how[c]);
}

KTEST(pager, object_page_waits)
{
	struct leak_snap l;
	unsigned n = sp_harts();

	for (unsigned mode = 0; mode < SP_MODES; mode++) {
		unsigned pagedin = 0;
		paddr_t pa = 0;

		leak_start(&l);
		KT_ASSERT(sp_setup(mode, n));
		sp.get_gate = n > 1 ? sp_all_waiting : NULL;
		smp_run(sp_object_worker, NULL);
		KT_EXPECT_EQ(sp.gets, 1);
		KT_EXPECT_EQ(vm_object_waits(sp.o), n - 1);
		KT_EXPECT_EQ(sp_sleepers(), sp_sleeping ? n - 1 : 0);
		KT_EXPECT(vm_object_lookup(sp.o, 2 * PG, &pa));
		for (unsigned c = 0; c < n; c++) {
			KT_EXPECT_EQ(sp.res[c], 0);
			KT_EXPECT_EQ(sp.pa[c], pa);
			if (sp_how[c] == VM_OBJPG_PAGEDIN)
				pagedin++;
			else
				KT_EXPECT_EQ(sp_how[c], VM_OBJPG_RESIDENT);
		}
		KT_EXPECT_EQ(pagedin, 1);
		KT_EXPECT_EQ(*(uint64_t *)hal_phys_to_virt(pa),
		    cookie(2 * PG, 1000));
		vm_map_destroy(sp.m);
		vm_object_release(sp.o);
		KT_EXPECT_EQ(sp.puts, 1);
		sp_set_mode(0);
		LEAK_CHECK(&l);
	}
}

/* ------------------------------------------------------------------ */
/* (b) munmap while get sleeps.                                        */

static bool sp_drop_ref;	/* the unmapper drops the last other ref */

static void
sp_unmap_worker(void *arg)
{
	unsigned c = hal_cpu_id();

	(void)arg;
	if (c == 0) {
		sp.res[0] = vm_fault(sp.m, UBASE + PG, HAL_FAULT_READ);
		return;
	}
	if (c != 1)
		return;
	/* Hart 0 sleeps in get, holding nothing of the map. */
	sp_block(sp_in_get);
	sp.res[1] = vm_munmap(sp.m, UBASE, SP_PAGES * PG);
	if (sp_extract(UBASE + PG) != 0)
		ck_pr_inc_64(&sp.bad);
	/* The map is free: faults elsewhere in it go on. */
	if (vm_fault(sp.m, SP_ANON, HAL_FAULT_WRITE) != 0)
		ck_pr_inc_64(&sp.bad);
	if (sp_drop_ref) {
		/* Left: the private entry's, and the sleeping fault's. */
		if (vm_munmap(sp.m, SP_PRIV, SP_PAGES * PG) != 0)
			ck_pr_inc_64(&sp.bad);
		vm_object_release(sp.o);
		if (vm_object_refs(sp.o) != 1 ||
		    ck_pr_load_uint(&sp.puts) != 0)
			ck_pr_inc_64(&sp.bad);
	}
	sp_open();
}

KTEST(pager, munmap_while_get_sleeps)
{
	struct vm_fault_stats s0, d;
	struct leak_snap l;

	if (hal_ncpus() < 2) {
		ktest_note("needs 2 harts");
		return;
	}
	for (unsigned round = 0; round < 2 * SP_MODES; round++) {
		unsigned mode = round / 2;

		sp_drop_ref = round % 2 == 1;
		leak_start(&l);
		KT_ASSERT(sp_setup(mode, 2));
		sp.get_gate = sp_opened;
		vm_fault_stats(&s0);
		smp_run(sp_unmap_worker, NULL);
		fault_delta(&s0, &d);
		KT_EXPECT_EQ(ck_pr_load_64(&sp.bad), 0);
		KT_EXPECT_EQ(sp.res[1], 0);
		/* The range went away under the fault: -EFAULT, not mapped. */
		KT_EXPECT_EQ(sp.res[0], -EFAULT);
		KT_EXPECT_EQ(sp_extract(UBASE + PG), 0);
		KT_EXPECT_EQ(sp.gets, 1);
		KT_EXPECT_EQ(d.pagein, 1);
		KT_EXPECT_EQ(d.restarts, 1);
		if (sp_drop_ref) {
			/* The fault's release was the last: put ran there. */
			KT_EXPECT_EQ(sp.puts, 1);
			KT_EXPECT_EQ(sp.releases, 1);
		} else {
			/* The page the get made is the object's. */
			KT_EXPECT_EQ(vm_object_refs(sp.o), 2);
			KT_EXPECT_EQ(vm_object_resident(sp.o), 1);
			KT_EXPECT_EQ(sp.puts, 0);
			KT_EXPECT(vm_map_is_valid(sp.m));
		}
		vm_map_destroy(sp.m);
		if (!sp_drop_ref) {
			vm_object_release(sp.o);
			KT_EXPECT_EQ(sp.puts, 1);
			KT_EXPECT_EQ(sp.releases, 1);
		}
		sp_set_mode(0);
		LEAK_CHECK(&l);
	}
}

/* ------------------------------------------------------------------ */
/* (c) get fails while other harts wait.                               */

KTEST(pager, get_fails_while_waiting)
{
	struct leak_snap l;
	unsigned n = sp_harts();

	for (unsigned round = 0; round < 2 * SP_MODES; round++) {
		bool persistent = round % 2 == 1;
		unsigned efault = 0, ok = 0;
		paddr_t pa = 0;

		leak_start(&l);
		KT_ASSERT(sp_setup(round / 2, n));
		sp.get_gate = n > 1 ? sp_all_waiting : NULL;
		sp.first_err = -EIO;
		sp.later_err = persistent ? -EIO : 0;
		smp_run(sp_fault_worker, NULL);
		KT_EXPECT_EQ(sp_sleepers(), sp_sleeping ? n - 1 : 0);
		for (unsigned c = 0; c < n; c++) {
			if (sp.res[c] == -EFAULT) {
				/* (Another hart may have mapped its va.) */
				efault++;
				if (persistent)
					KT_EXPECT_EQ(sp.pa[c], 0);
			} else if (sp.res[c] == 0) {
				ok++;
				KT_EXPECT(vm_object_lookup(sp.o, PG, &pa));
				KT_EXPECT_EQ(sp.pa[c], pa);
			} else {
				KT_FAIL("cpu %u: fault returned %d", c,
				    sp.res[c]);
			}
		}
		if (persistent) {
			/* Each fault asked the pager once, and failed. */
			KT_EXPECT_EQ(efault, n);
			KT_EXPECT_EQ(sp.gets, n);
			KT_EXPECT_EQ(vm_object_resident(sp.o), 0);
		} else {
			/* The first failed; one waiter asked again. */
			KT_EXPECT_EQ(efault, 1);
			KT_EXPECT_EQ(ok, n - 1);
			KT_EXPECT_EQ(sp.gets, n > 1 ? 2 : 1);
			KT_EXPECT_EQ(vm_object_resident(sp.o), n > 1);
		}
		KT_EXPECT(vm_map_is_valid(sp.m));
		vm_map_destroy(sp.m);
		vm_object_release(sp.o);
		KT_EXPECT_EQ(sp.puts, persistent || n == 1 ? 0 : 1);
		KT_EXPECT_EQ(sp.releases, 1);
		sp_set_mode(0);
		LEAK_CHECK(&l);
	}
}

/* ------------------------------------------------------------------ */
/* (d) put blocks at the last release.                                 */

static void
sp_put_worker(void *arg)
{
	unsigned c = hal_cpu_id();

	(void)arg;
	if (c == 0) {
		/* The map holds the last reference: put runs in here. */
		sp.res[0] = vm_munmap(sp.m, UBASE, 32 * PG);
		return;
	}
	if (c != 1)
		return;
	sp_block(sp_in_put);
	/* Put sleeps with the map's writer side released: use the map. */
	sp.res[1] = vm_fault(sp.m, SP_ANON, HAL_FAULT_WRITE);
	if (vm_mmap(sp.m, SP_ANON + 8 * PG, PG, RW,
	    VM_MAP_PRIVATE | VM_MAP_ANON | FX, NULL, 0) !=
	    (long)(SP_ANON + 8 * PG) ||
	    vm_munmap(sp.m, SP_ANON + 8 * PG, PG) != 0)
		ck_pr_inc_64(&sp.bad);
	if (ck_pr_load_uint(&sp.puts) != 0 ||
	    ck_pr_load_uint(&sp.releases) != 0)
		ck_pr_inc_64(&sp.bad);
	sp_open();
}

KTEST(pager, put_blocks_at_last_release)
{
	struct leak_snap l;

	if (hal_ncpus() < 2) {
		ktest_note("needs 2 harts");
		return;
	}
	for (unsigned mode = 0; mode < SP_MODES; mode++) {
		leak_start(&l);
		KT_ASSERT(sp_setup(mode, 2));
		/* Two pages in, then the map's references are the last. */
		KT_ASSERT_EQ(vm_fault(sp.m, UBASE, HAL_FAULT_READ), 0);
		KT_ASSERT_EQ(vm_fault(sp.m, SP_PRIV + 2 * PG, HAL_FAULT_READ),
		    0);
		vm_object_release(sp.o);
		sp.put_gate = sp_opened;
		smp_run(sp_put_worker, NULL);
		KT_EXPECT_EQ(ck_pr_load_64(&sp.bad), 0);
		KT_EXPECT_EQ(sp.res[0], 0);
		KT_EXPECT_EQ(sp.res[1], 0);
		KT_EXPECT_EQ(sp.gets, 2);
		KT_EXPECT_EQ(sp.puts, 2);
		KT_EXPECT_EQ(sp.releases, 1);
		KT_EXPECT(vm_map_is_valid(sp.m));
		vm_map_destroy(sp.m);
		sp_set_mode(0);
		LEAK_CHECK(&l);
	}
}

/* ------------------------------------------------------------------ */
/* Wrong use.                                                          */

static void
sp_noop_wakeup(const void *chan)
{
	(void)chan;
}

KTEST_EXPLICIT(wrong_sleep_ops, missing_sleep)
{
	static const struct vm_sleep_ops bad = { NULL, sp_noop_wakeup };

	vm_set_sleep_ops(&bad);
	KT_FAIL("sleep ops without sleep did not panic");
}
