/*
 * bench_malloc.c: rvmm's kmalloc side by side with mimalloc, jemalloc,
 * tcmalloc and glibc malloc, in one host program run, on the same threads
 * (rvmm harts: the host port runs harts as pthreads; every workload runs
 * through smp_run), with the same workloads and the same seeds:
 *
 *	kmalloc.pair	alloc/free pairs of 64 bytes
 *	kmalloc.mixed	a live set of 256 slots per thread; each step frees
 *			the slot's object or allocates 16 B .. 2 KiB into it
 *	kmalloc.cross	producer/consumer: each thread allocates batches of
 *			32 objects (16 B .. 2 KiB) and hands them through a
 *			ring to the next thread, which frees them (at one
 *			thread the thread frees its own batches, later)
 *
 * The other allocators are dlopen()ed with RTLD_LOCAL | RTLD_DEEPBIND so
 * that each keeps its own symbols and none replaces the process's malloc;
 * every implementation is called through a function pointer.  Output:
 * one JSON line per (workload, impl) as in ../shared/BENCH.md, target
 * "host", the best of `runs` rounds (each round runs every implementation
 * once, in turn), with the ratio to mimalloc and the spread of the rounds
 * (ops_per_s_min, ops_per_s_max: the slowest and the fastest round's
 * rate; ops_per_s is the fastest's).
 *
 * Every implementation runs its own copy of each workload's loop
 * (BM_INSTANCE): the loops are always_inline bodies instantiated once per
 * implementation, so no two implementations share an instruction address
 * in the harness.  With one shared loop, whichever implementation ran
 * after another's run of the same workload stayed slower until the
 * thread slept for a few hundred milliseconds (rvmm's kmalloc.mixed by a
 * fifth to a third after mimalloc's or glibc's; mimalloc after rvmm's by
 * a twentieth), and with a copy of the loop for rvmm alone the slowdown
 * was gone: state that the processor keeps per instruction address
 * (branch or memory-dependence prediction), trained by the previous
 * implementation, not anything in the allocators.
 *
 *	rvmm-bench-malloc harts=N [ops=N] [runs=N] [seed=N] [bench=a,b]
 *	    [impl=rvmm,mimalloc]	(substring match, like bench=)
 *
 * Build with -Dbuildtype=release -Ddebug_level=0 for figures that mean
 * anything (at debug level 2 the kmalloc zones' debug checks are turned
 * off here, but VM_ASSERTs stay).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <ck_pr.h>
#include <ck_ring.h>

#include "hal/hal.h"
#include "hal/hal_test.h"
#include "lib/assert.h"
#include "lib/bootargs.h"
#include "lib/kprintf.h"
#include "lib/rand.h"
#include "lib/smp.h"
#include "vm/kmalloc.h"
#include "vm/vm.h"
#include "vm/zone.h"

struct impl {
	const char *name;
	void *(*alloc)(size_t);
	void (*free)(void *);
	void *(*alloc2)(size_t, int);	/* jemalloc mallocx */
	void (*free2)(void *, int);	/* jemalloc dallocx */
	bool ok;
};

static void *
rvmm_alloc(size_t size)
{
	return kmalloc(size, 0);
}

static void *(*je_mallocx)(size_t, int);
static void (*je_dallocx)(void *, int);

static void *
je_alloc(size_t size)
{
	return je_mallocx(size, 0);
}

static void
je_free(void *p)
{
	je_dallocx(p, 0);
}

enum { IMPL_MIMALLOC, IMPL_RVMM, IMPL_JEMALLOC, IMPL_TCMALLOC, IMPL_GLIBC,
       NIMPL };

static struct impl impls[NIMPL] = {
	[IMPL_MIMALLOC] = { "mimalloc", NULL, NULL, NULL, NULL, false },
	[IMPL_RVMM] = { "rvmm", rvmm_alloc, kfree, NULL, NULL, true },
	[IMPL_JEMALLOC] = { "jemalloc", NULL, NULL, NULL, NULL, false },
	[IMPL_TCMALLOC] = { "tcmalloc", NULL, NULL, NULL, NULL, false },
	[IMPL_GLIBC] = { "glibc", malloc, free, NULL, NULL, true },
};

/*
 * jemalloc uses initial-exec TLS, which a dlopen()ed library can only have
 * from glibc's small static TLS surplus: before main() runs, re-execute
 * the program once with a bigger surplus (glibc passes argc/argv/envp to
 * ELF constructors).
 */
__attribute__((constructor)) static void
bm_reexec(int argc, char **argv, char **envp)
{
	(void)argc;
	(void)envp;
	if (getenv("RVMM_BENCH_MALLOC_REEXEC") != NULL)
		return;
	setenv("RVMM_BENCH_MALLOC_REEXEC", "1", 1);
	setenv("GLIBC_TUNABLES", "glibc.rtld.optional_static_tls=65536", 1);
	execv("/proc/self/exe", argv);
	/* Not fatal: jemalloc is then reported unavailable. */
}

static void *
load(const char *lib, const char *a, const char *f, struct impl *im)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);

	if (h == NULL) {
		kprintf("# %s: %s unavailable (%s)\n", im->name, lib, dlerror());
		return NULL;
	}
	im->alloc = (void *(*)(size_t))dlsym(h, a);
	im->free = (void (*)(void *))dlsym(h, f);
	im->ok = im->alloc != NULL && im->free != NULL;
	if (!im->ok)
		kprintf("# %s: %s lacks %s/%s\n", im->name, lib, a, f);
	return h;
}

static void
load_all(void)
{
	void *h;

	(void)load("libmimalloc.so.2", "mi_malloc", "mi_free",
	    &impls[IMPL_MIMALLOC]);
	h = load("libjemalloc.so.2", "malloc", "free", &impls[IMPL_JEMALLOC]);
	if (h != NULL) {
		je_mallocx = (void *(*)(size_t, int))dlsym(h, "mallocx");
		je_dallocx = (void (*)(void *, int))dlsym(h, "dallocx");
		if (je_mallocx != NULL && je_dallocx != NULL) {
			impls[IMPL_JEMALLOC].alloc = je_alloc;
			impls[IMPL_JEMALLOC].free = je_free;
		}
	}
	(void)load("libtcmalloc_minimal.so.4", "tc_malloc", "tc_free",
	    &impls[IMPL_TCMALLOC]);
}

/* ------------------------------------------------------------------ */
/* Phases: every hart between barriers, timed on cpu 0.                */

static struct smp_barrier bm_bar = SMP_BARRIER_INIT;
static uint64_t bm_t0, bm_t1;
static smp_fn_t bm_worker;
static uint64_t bm_ops, bm_seed;

struct bm_cpu {
	void *live[256];
	uint64_t ops;
} HAL_CACHE_ALIGNED;

static struct bm_cpu bm_cpus[HAL_MAX_CPUS];

static void
bm_phase_fn(void *arg)
{
	unsigned n = hal_ncpus();

	smp_barrier_wait(&bm_bar, n);
	if (hal_cpu_id() == 0)
		bm_t0 = hal_time_ns();
	smp_barrier_wait(&bm_bar, n);
	bm_worker(arg);
	smp_barrier_wait(&bm_bar, n);
	if (hal_cpu_id() == 0)
		bm_t1 = hal_time_ns();
}

/* 16 B .. 2 KiB, each power-of-two range equally likely. */
static inline size_t
bm_size(uint64_t x)
{
	size_t size = (size_t)16 << ((x >> 8) % 8);

	size += (x >> 16) % size;
	return size > 2048 ? 2048 : size;
}

#define BM_BODY static inline __attribute__((always_inline)) void

BM_BODY
bm_pair(const struct impl *im)
{
	uint64_t n = bm_ops;

	for (uint64_t i = 0; i < n; i++) {
		void *p = im->alloc(64);
		*(volatile uint64_t *)p = i;
		im->free(p);
	}
	bm_cpus[hal_cpu_id()].ops = n;
}

BM_BODY
bm_mixed(const struct impl *im)
{
	struct bm_cpu *c = &bm_cpus[hal_cpu_id()];
	struct rng r;

	rng_seed(&r, bm_seed, hal_cpu_id());
	for (uint64_t i = 0; i < bm_ops; i++) {
		uint64_t x = rng_next(&r);
		unsigned k = (unsigned)(x % 256);
		if (c->live[k] != NULL) {
			im->free(c->live[k]);
			c->live[k] = NULL;
		} else {
			c->live[k] = im->alloc(bm_size(x));
			*(volatile uint64_t *)c->live[k] = i;
		}
	}
	for (unsigned k = 0; k < 256; k++)
		if (c->live[k] != NULL) {
			im->free(c->live[k]);
			c->live[k] = NULL;
		}
	c->ops = bm_ops;
}

#define CR_BATCH 32
#define CR_SLOTS 16
#define CR_RING 8	/* < CR_SLOTS: a slot is reused only once freed */

struct cr_cpu {
	ck_ring_t ring;			/* batches for the next cpu */
	ck_ring_buffer_t buf[CR_RING];
	void *slot[CR_SLOTS][CR_BATCH];
	unsigned done;
	uint64_t ops;
} HAL_CACHE_ALIGNED;

static struct cr_cpu cr_cpus[HAL_MAX_CPUS];

static inline __attribute__((always_inline)) uint64_t
cr_drain(const struct impl *im, struct cr_cpu *from)
{
	uint64_t ops = 0;
	void *v;

	while (ck_ring_dequeue_spsc(&from->ring, from->buf, &v)) {
		void **batch = from->slot[(uintptr_t)v];
		for (unsigned i = 0; i < CR_BATCH; i++)
			im->free(batch[i]);
		ops += CR_BATCH;
	}
	return ops;
}

BM_BODY
bm_cross(const struct impl *im)
{
	unsigned self = hal_cpu_id(), n = hal_ncpus();
	struct cr_cpu *me = &cr_cpus[self], *prev = &cr_cpus[(self + n - 1) % n];
	uint64_t rounds = bm_ops / (2 * CR_BATCH), made = 0, ops = 0;
	struct rng r;

	rng_seed(&r, bm_seed, 1000 + self);
	while (made < rounds) {
		uint64_t before = ops;
		if (ck_ring_size(&me->ring) < CR_RING - 1) {
			uintptr_t s = made % CR_SLOTS;
			for (unsigned i = 0; i < CR_BATCH; i++) {
				void *p = im->alloc(bm_size(rng_next(&r)));
				*(volatile uint64_t *)p = i;
				me->slot[s][i] = p;
			}
			if (!ck_ring_enqueue_spsc(&me->ring, me->buf, (void *)s))
				panic("bench_malloc: ring full");
			made++;
			ops += CR_BATCH;
		}
		ops += cr_drain(im, prev);
		/* Ring full, nothing to free: the consumer is not running
		   (more threads than cores); let it. */
		if (ops == before)
			hal_cpu_relax();
	}
	ck_pr_store_uint(&me->done, 1);
	for (;;) {
		bool done = ck_pr_load_uint(&prev->done) != 0;
		ck_pr_fence_load();
		ops += cr_drain(im, prev);
		if (done)
			break;
		hal_cpu_relax();
	}
	me->ops = ops;
}

static void
cr_reset(void)
{
	for (unsigned c = 0; c < HAL_MAX_CPUS; c++) {
		ck_ring_init(&cr_cpus[c].ring, CR_RING);
		cr_cpus[c].done = 0;
	}
}


enum { BM_PAIR, BM_MIXED, BM_CROSS, BM_NWORK };

/* Each implementation's own copy of each workload (see the top). */
#define BM_INSTANCE(k)							\
	static void bm_pair_##k(void *a) { (void)a; bm_pair(&impls[k]); } \
	static void bm_mixed_##k(void *a) { (void)a; bm_mixed(&impls[k]); } \
	static void bm_cross_##k(void *a) { (void)a; bm_cross(&impls[k]); }
BM_INSTANCE(0)
BM_INSTANCE(1)
BM_INSTANCE(2)
BM_INSTANCE(3)
BM_INSTANCE(4)
_Static_assert(NIMPL == 5, "one BM_INSTANCE per implementation");

#define BM_FNS(k)	{ bm_pair_##k, bm_mixed_##k, bm_cross_##k }
static const smp_fn_t bm_fns[NIMPL][BM_NWORK] = {
	BM_FNS(0), BM_FNS(1), BM_FNS(2), BM_FNS(3), BM_FNS(4),
};

/* ------------------------------------------------------------------ */

struct workload {
	const char *name;
	unsigned work;	/* BM_PAIR, ... */
	uint64_t ops;	/* per hart */
};

static uint64_t
bench_rate(uint64_t ops, uint64_t ns)
{
	return ns ? (uint64_t)((unsigned __int128)ops * 1000000000ull / ns) : 0;
}

static uint64_t
rvmm_depot_trips(void)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < kmalloc_nclasses(); i++) {
		struct zone_stats st;
		zone_stats(kmalloc_class_zone(i), &st);
		t += st.depot_gets + st.depot_puts;
	}
	return t;
}

static char impl_sel[128];

/*
 * One workload: `runs` rounds, each running every selected implementation
 * once in turn, so that a slow spell of the host (other guests, a
 * neighbour on the same core) falls on all of them alike rather than on
 * whichever ran then; each implementation's best round is reported.
 */
static void
run(const struct workload *w, unsigned runs)
{
	unsigned n = hal_ncpus();
	struct {
		uint64_t ns, ops, trips;
		uint64_t min_rate;	/* the slowest round's ops/s */
	} best[NIMPL] = { { 0, 0, 0, 0 } };
	uint64_t mi_rate = 0;

	for (unsigned r = 0; r < runs; r++) {
		for (unsigned k = 0; k < NIMPL; k++) {
			uint64_t ops = 0, ns, trips0;

			if (!impls[k].ok ||
			    !bootarg_list_matches(impl_sel, impls[k].name))
				continue;
			bm_worker = bm_fns[k][w->work];
			bm_ops = w->ops;
			cr_reset();
			trips0 = rvmm_depot_trips();
			smp_run(bm_phase_fn, NULL);
			ns = bm_t1 - bm_t0;
			for (unsigned c = 0; c < n; c++)
				ops += w->work == BM_CROSS ? cr_cpus[c].ops :
				    bm_cpus[c].ops;
			if (best[k].ns == 0 || bench_rate(ops, ns) <
			    best[k].min_rate)
				best[k].min_rate = bench_rate(ops, ns);
			/* Best rate: ops/ns compared by cross-multiplying. */
			if (best[k].ns == 0 || (unsigned __int128)ops *
			    best[k].ns > (unsigned __int128)best[k].ops * ns) {
				best[k].ns = ns;
				best[k].ops = ops;
				best[k].trips = rvmm_depot_trips() - trips0;
			}
		}
	}
	if (best[IMPL_MIMALLOC].ns != 0)
		mi_rate = bench_rate(best[IMPL_MIMALLOC].ops,
		    best[IMPL_MIMALLOC].ns);
	for (unsigned k = 0; k < NIMPL; k++) {
		uint64_t rate = bench_rate(best[k].ops, best[k].ns);
		char ctr[240];
		int len = 0;

		if (best[k].ns == 0)
			continue;
		if (mi_rate != 0) {
			uint64_t x = (uint64_t)((unsigned __int128)rate * 1000 /
			    mi_rate);
			len = ksnprintf(ctr, sizeof(ctr),
			    "\"ratio_mimalloc\":%llu.%03llu,\"runs\":%u",
			    (unsigned long long)(x / 1000),
			    (unsigned long long)(x % 1000), runs);
		} else {
			len = ksnprintf(ctr, sizeof(ctr), "\"runs\":%u", runs);
		}
		len += ksnprintf(ctr + len, sizeof(ctr) - (size_t)len,
		    ",\"ops_per_s_min\":%llu,\"ops_per_s_max\":%llu",
		    (unsigned long long)best[k].min_rate,
		    (unsigned long long)rate);
		if (k == IMPL_RVMM)
			ksnprintf(ctr + len, sizeof(ctr) - (size_t)len,
			    ",\"depot_trips_per_1000\":%llu",
			    (unsigned long long)(best[k].ops ?
			    (unsigned __int128)best[k].trips * 1000 /
			    best[k].ops : 0));
		kprintf("{\"bench\":\"%s\",\"impl\":\"%s\",\"target\":\"%s\","
		    "\"harts\":%u,\"ops\":%llu,\"ns\":%llu,\"ops_per_s\":%llu,"
		    "%s}\n", w->name, impls[k].name, RVMM_TARGET, n,
		    (unsigned long long)best[k].ops,
		    (unsigned long long)best[k].ns,
		    (unsigned long long)rate, ctr);
	}
}

/* Boot order: tests/kmain_test.c's. */
_Noreturn void
kmain_secondary(void)
{
	vm_secondary_idle();
}

/*
 * bm_words_match: each comma-separated word of list matches (as a
 * substring) a workload name of wl[0..n), or an implementation name when
 * wl is NULL.  Prints the words that match nothing.
 */
static bool
bm_words_match(const char *list, const struct workload *wl, size_t n,
    const char *what)
{
	const char *p = list;
	char word[64];
	bool all = true;

	while (bootarg_list_next(&p, word, sizeof(word), NULL)) {
		bool found = word[0] == '\0';
		for (size_t i = 0; i < (wl != NULL ? n : NIMPL) && !found; i++)
			found = bootarg_list_matches(word,
			    wl != NULL ? wl[i].name : impls[i].name);
		if (!found) {
			kprintf("Bail out! rvmm-bench-malloc: no %s matches "
			    "\"%s\"\n", what, word);
			all = false;
		}
	}
	return all;
}

void
kmain(void)
{
	const char *args = hal_bootargs();
	uint64_t ops = bootarg_u64(args, "ops", 2000000);
	unsigned runs = (unsigned)bootarg_u64(args, "runs", 5);
	char sel[128] = "";
	struct workload wl[] = {
		{ "kmalloc.pair", BM_PAIR, ops },
		{ "kmalloc.mixed", BM_MIXED, ops },
		{ "kmalloc.cross", BM_CROSS, ops },
	};

	vm_set_bootargs(args);
	vm_boot();
	while (smp_online_count() != hal_ncpus())
		hal_cpu_relax();
	zone_init();
	kmalloc_init();
	if (zone_is_debug(kmalloc_class_zone(0)) && kmalloc_set_debug(false))
		kprintf("# kmalloc debug checks could not be turned off\n");
	(void)bootarg_get(args, "bench", sel, sizeof(sel));
	(void)bootarg_get(args, "impl", impl_sel, sizeof(impl_sel));
	bm_seed = bootarg_u64(args, "seed", 1);
	load_all();
	kprintf("# rvmm-bench-malloc: %u harts, %llu ops per hart, best of "
	    "%u, VM_DEBUG_LEVEL %d\n", hal_ncpus(), (unsigned long long)ops,
	    runs ? runs : 1, VM_DEBUG_LEVEL);
	/* A word of bench= or impl= that selects nothing is a typo. */
	if (!bm_words_match(sel, wl, sizeof(wl) / sizeof(wl[0]), "benchmark") ||
	    !bm_words_match(impl_sel, NULL, 0, "implementation"))
		hal_poweroff(2);
	for (size_t i = 0; i < sizeof(wl) / sizeof(wl[0]); i++)
		if (bootarg_list_matches(sel, wl[i].name))
			run(&wl[i], runs ? runs : 1);
	/* Bootarg stats=1: one summary per layer (vm_dump.c). */
	if (vm_stats_requested(args))
		vm_stats_dump();
	hal_poweroff(0);
}
