/*
 * test_walk.c: lockless page-table walks against page-table frees
 * (hal/sv39/shootdown.c section 7, issue 15).
 *
 * cpu 0 maps one page in an otherwise empty root slot of a user pmap and
 * removes it again, in a loop: every remove unlinks and frees the two
 * page-table pages under that slot.  cpu 1 has the pmap active and walks
 * to the same address with pmap_fault_fixup (the lockless walker), with a
 * delay between levels that keeps it inside a table for a while.  A walk
 * that reaches a freed table panics (the walk's own check at debug level
 * 1).  With the protection the loop ends cleanly; with it switched off
 * (pmap_debug_lockless_walks(.., true)) the explicit case must panic.
 */
#include <errno.h>

#include <ck_pr.h>

#include "hal/pmap.h"
#include "lib/smp.h"
#include "tests/ktest.h"
#include "vm/page.h"

#define WALK_DELAY 200
#define WALK_PAUSE 400

struct walk_race {
	pmap_t p;
	vaddr_t va;
	paddr_t frame;
	unsigned rounds;
	unsigned pause;		/* relax loops after each remove */
	unsigned done;		/* (A) cpu 0 finished */
	unsigned walks;		/* (A) walks made by cpu 1 */
	unsigned hits;		/* (A) walks that found the page mapped */
	unsigned removes;	/* (A) removes made by cpu 0 */
};

static void
walk_race_worker(void *arg)
{
	struct walk_race *w = arg;
	unsigned self = hal_cpu_id();

	if (self == 1) {
		pmap_activate(w->p);
		while (!ck_pr_load_uint(&w->done)) {
			hal_intr_t s = hal_intr_disable();
			if (pmap_fault_fixup(w->va, HAL_FAULT_READ) == 0)
				ck_pr_inc_uint(&w->hits);
			hal_intr_restore(s);
			ck_pr_inc_uint(&w->walks);
		}
		pmap_activate(pmap_kernel());
	} else if (self == 0) {
		/* Wait until the walker has the pmap active. */
		while (ck_pr_load_uint(&w->walks) == 0)
			hal_cpu_relax();
		for (unsigned i = 0; i < w->rounds; i++) {
			if (pmap_enter(w->p, w->va, w->frame, PMAP_PROT_READ,
			    0) != 0 || pmap_remove(w->p, w->va, w->va +
			    PMAP_SIZE_4K) != 0)
				break;
			ck_pr_inc_uint(&w->removes);
			/* Keep the freed tables free a while before the
			   next enter takes them back (a walk that reached
			   one then sees it freed). */
			for (unsigned k = 0; k < w->pause; k++)
				hal_cpu_relax();
		}
		ck_pr_store_uint(&w->done, 1);
	}
}

/* Runs the race; returns false if it could not be set up. */
static bool
walk_race_run(struct walk_race *w, unsigned rounds, unsigned pause)
{
	struct vm_page *pg = page_alloc(0, PAGE_ZERO);

	if (pg == NULL)
		return false;
	w->p = pmap_create();
	if (w->p == NULL) {
		page_free(pg, 0);
		return false;
	}
	/* The top 1 GiB slot of user space: nothing else maps there. */
	w->va = pmap_user_max() - PMAP_SIZE_1G;
	w->frame = page_to_pa(pg);
	w->rounds = rounds;
	w->pause = pause;
	smp_run(walk_race_worker, w);
	pmap_destroy(w->p);
	page_free(pg, 0);
	return true;
}

KTEST(pmap, lockless_walk_vs_table_free)
{
	struct walk_race w = { 0 };
	size_t tables0;

	if (hal_ncpus() < 2) {
		ktest_note("needs 2 harts: a walker and a freer");
		return;
	}
	tables0 = pmap_table_pages(pmap_kernel());
	pmap_debug_lockless_walks(WALK_DELAY, false);
	KT_ASSERT(walk_race_run(&w, (unsigned)ktest_iters(2000), 0));
	pmap_debug_lockless_walks(0, false);
	ktest_note("%u removes (each freeing 2 tables), %u lockless walks, "
	    "%u found the page", w.removes, w.walks, w.hits);
	KT_EXPECT_EQ(w.removes, (unsigned)ktest_iters(2000));
	KT_EXPECT(w.walks > 0);
	KT_EXPECT_EQ(pmap_table_pages(pmap_kernel()), tables0);
}

KTEST_EXPLICIT(wrong_pmap_walk_unprotected, walk_unprotected)
{
	struct walk_race w = { 0 };

	KT_ASSERT(hal_ncpus() >= 2);
	pmap_debug_lockless_walks(WALK_DELAY, true);
	KT_ASSERT(walk_race_run(&w, 1000000, WALK_PAUSE));
	pmap_debug_lockless_walks(0, false);
	KT_FAIL("%u walks met no freed table in %u removes", w.walks,
	    w.removes);
}
