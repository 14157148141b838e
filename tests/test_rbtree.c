/*
 * Tests for lib/rbtree: ordering with duplicates, lookups, randomised
 * insert/erase against a reference model, augmented maxima after every
 * step, rb_augment_update, a gap-search style descent, and a self-check
 * that rb_is_valid() can fail.
 *
 * Every node carries a key, a random value and the augmented field max
 * (max of value over the node's subtree).  The maxima are always checked
 * against a recursive recomputation that does not use the augment
 * callback, before rb_is_valid() runs (which would repair them in passing).
 *
 * No allocation: nodes come from a static pool.  Per-step checks are O(n)
 * with n <= 256 (128 in the per-step random case), sized for QEMU TCG at
 * scale 1 (about 20 ms natively, so well under a second under TCG).
 */
#include "tests/ktest.h"

#include "lib/rand.h"
#include "lib/rbtree.h"

#define RBT_NODES	2048	/* static pool */
#define RBT_LIVE_MAX	256	/* live nodes in gap_descent */
#define RBT_RANDOM_MAX	128	/* live nodes in random_vs_model */

struct tnode {
	struct rb_node rb;
	uint64_t key;
	uint64_t value;
	uint64_t max;		/* augmented: max value in this subtree */
	unsigned id;		/* index in tn_pool */
};

static struct tnode tn_pool[RBT_NODES];
static unsigned long tn_augment_calls;

static struct tnode *
tn(const struct rb_node *n)
{
	return rb_entry((struct rb_node *)(uintptr_t)n, struct tnode, rb);
}

static int
tn_cmp(const struct rb_node *a, const struct rb_node *b)
{
	uint64_t ka = tn(a)->key, kb = tn(b)->key;

	return ka < kb ? -1 : ka > kb;
}

static int
tn_keycmp(const void *key, const struct rb_node *n)
{
	uint64_t k = *(const uint64_t *)key, nk = tn(n)->key;

	return k < nk ? -1 : k > nk;
}

static bool
tn_augment(struct rb_node *n)
{
	struct tnode *x = tn(n);
	uint64_t m = x->value;

	tn_augment_calls++;
	if (n->left != NULL && tn(n->left)->max > m)
		m = tn(n->left)->max;
	if (n->right != NULL && tn(n->right)->max > m)
		m = tn(n->right)->max;
	if (m == x->max)
		return false;
	x->max = m;
	return true;
}

static struct tnode *
tn_get(unsigned id, uint64_t key, uint64_t value)
{
	struct tnode *x = &tn_pool[id];

	x->key = key;
	x->value = value;
	x->max = 0xdeadbeefdeadbeefull;	/* rb_insert must recompute it */
	x->id = id;
	return x;
}

/*
 * ref_maxima: recompute max over n's subtree from the values alone and
 * compare with every stored max; *out gets the subtree's max.
 */
static bool
ref_maxima(const struct rb_node *n, uint64_t *out)
{
	uint64_t m, c;
	bool ok = true;

	if (n == NULL) {
		*out = 0;
		return true;
	}
	m = tn(n)->value;
	if (n->left != NULL) {
		ok &= ref_maxima(n->left, &c);
		if (c > m)
			m = c;
	}
	if (n->right != NULL) {
		ok &= ref_maxima(n->right, &c);
		if (c > m)
			m = c;
	}
	*out = m;
	return ok && tn(n)->max == m;
}

static unsigned
tree_height(const struct rb_node *n)
{
	unsigned l, r;

	if (n == NULL)
		return 0;
	l = tree_height(n->left);
	r = tree_height(n->right);
	return 1 + (l > r ? l : r);
}

static unsigned
log2_ceil(unsigned long x)
{
	unsigned l = 0;

	while ((1ul << l) < x)
		l++;
	return l;
}

/*
 * check_all: the tree holds exactly tn_pool[ref[0..n-1]] in this order;
 * maxima (independently recomputed), rb_is_valid(), count, both walks.
 */
static bool
check_all(const struct rb_tree *t, const unsigned *ref, size_t n)
{
	struct rb_node *it;
	uint64_t m;
	size_t i;

	if (t->augment != NULL && !ref_maxima(t->root, &m)) {
		KT_FAIL("augmented maxima inconsistent (n=%zu)", n);
		return false;
	}
	if (!rb_is_valid(t)) {
		KT_FAIL("rb_is_valid failed (n=%zu)", n);
		return false;
	}
	if (t->count != n) {
		KT_FAIL("count %zu, expected %zu", t->count, n);
		return false;
	}
	it = rb_first(t);
	for (i = 0; i < n; i++, it = rb_next(it)) {
		if (it != &tn_pool[ref[i]].rb) {
			KT_FAIL("forward walk differs at %zu", i);
			return false;
		}
	}
	if (it != NULL) {
		KT_FAIL("forward walk too long");
		return false;
	}
	it = rb_last(t);
	for (i = n; i-- > 0; it = rb_prev(it)) {
		if (it != &tn_pool[ref[i]].rb) {
			KT_FAIL("backward walk differs at %zu", i);
			return false;
		}
	}
	if (it != NULL) {
		KT_FAIL("backward walk too long");
		return false;
	}
	return true;
}

/* ref_bound: first index in sorted ref with key > q (upper) or >= q. */
static size_t
ref_bound(const unsigned *ref, size_t n, uint64_t q, bool upper)
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (upper ? tn_pool[ref[mid]].key <= q : tn_pool[ref[mid]].key < q)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* check_lookups: find/lower_bound/upper_bound for key q against ref. */
static bool
check_lookups(const struct rb_tree *t, const unsigned *ref, size_t n,
    uint64_t q)
{
	size_t lo = ref_bound(ref, n, q, false), hi = ref_bound(ref, n, q, true);
	struct rb_node *lb = lo < n ? &tn_pool[ref[lo]].rb : NULL;
	struct rb_node *ub = hi < n ? &tn_pool[ref[hi]].rb : NULL;
	struct rb_node *f;

	if (rb_lower_bound(t, &q, tn_keycmp) != lb) {
		KT_FAIL("lower_bound(%llu) wrong", (unsigned long long)q);
		return false;
	}
	if (rb_upper_bound(t, &q, tn_keycmp) != ub) {
		KT_FAIL("upper_bound(%llu) wrong", (unsigned long long)q);
		return false;
	}
	f = rb_find(t, &q, tn_keycmp);
	if (lo < hi ? (f == NULL || tn(f)->key != q) : f != NULL) {
		KT_FAIL("find(%llu) wrong", (unsigned long long)q);
		return false;
	}
	return true;
}

/* ref_insert: insert id into the sorted ref after all equal keys. */
static void
ref_insert(unsigned *ref, size_t *n, unsigned id)
{
	size_t lo = ref_bound(ref, *n, tn_pool[id].key, true);

	for (size_t i = *n; i > lo; i--)
		ref[i] = ref[i - 1];
	ref[lo] = id;
	(*n)++;
}

static void
ref_remove_at(unsigned *ref, size_t *n, size_t pos)
{
	for (size_t i = pos; i + 1 < *n; i++)
		ref[i] = ref[i + 1];
	(*n)--;
}

/*
 * leftmost_ge: gap-search descent; the first node in order whose value is
 * >= x, found with the maxima in O(height).  *steps counts nodes visited.
 */
static struct rb_node *
leftmost_ge(const struct rb_tree *t, uint64_t x, unsigned *steps)
{
	struct rb_node *n = t->root;

	*steps = 0;
	if (n == NULL || tn(n)->max < x)
		return NULL;
	for (;;) {
		(*steps)++;
		if (n->left != NULL && tn(n->left)->max >= x)
			n = n->left;
		else if (tn(n)->value >= x)
			return n;
		else
			n = n->right;	/* max >= x, so it is here */
	}
}

KTEST(rbtree, basic)
{
	static const uint64_t keys[] = { 5, 3, 8, 3, 1, 8, 8, 10 };
	/* Expected in-order ids: equal keys in insertion order. */
	static const unsigned order[] = { 4, 1, 3, 0, 2, 5, 6, 7 };
	struct rb_tree t;
	struct rb_node *n;
	uint64_t q;
	unsigned i;

	rb_init(&t, tn_cmp, NULL);
	q = 3;
	KT_EXPECT(rb_first(&t) == NULL);
	KT_EXPECT(rb_last(&t) == NULL);
	KT_EXPECT(rb_find(&t, &q, tn_keycmp) == NULL);
	KT_EXPECT(rb_lower_bound(&t, &q, tn_keycmp) == NULL);
	KT_EXPECT(rb_upper_bound(&t, &q, tn_keycmp) == NULL);
	KT_EXPECT(rb_is_valid(&t));
	KT_EXPECT(rb_empty(&t));

	for (i = 0; i < 8; i++) {
		rb_insert(&t, &tn_get(i, keys[i], i)->rb);
		KT_ASSERT(rb_is_valid(&t));
	}
	KT_ASSERT(check_all(&t, order, 8));
	KT_EXPECT(rb_first(&t) == &tn_pool[4].rb);
	KT_EXPECT(rb_last(&t) == &tn_pool[7].rb);
	KT_EXPECT(rb_prev(rb_first(&t)) == NULL);
	KT_EXPECT(rb_next(rb_last(&t)) == NULL);
	KT_EXPECT(rb_next(&tn_pool[1].rb) == &tn_pool[3].rb);
	KT_EXPECT(rb_prev(&tn_pool[2].rb) == &tn_pool[0].rb);

	q = 3;
	n = rb_find(&t, &q, tn_keycmp);
	KT_EXPECT(n != NULL && tn(n)->key == 3);
	KT_EXPECT(rb_lower_bound(&t, &q, tn_keycmp) == &tn_pool[1].rb);
	KT_EXPECT(rb_upper_bound(&t, &q, tn_keycmp) == &tn_pool[0].rb);
	q = 8;
	KT_EXPECT(rb_lower_bound(&t, &q, tn_keycmp) == &tn_pool[2].rb);
	KT_EXPECT(rb_upper_bound(&t, &q, tn_keycmp) == &tn_pool[7].rb);
	q = 4;
	KT_EXPECT(rb_find(&t, &q, tn_keycmp) == NULL);
	KT_EXPECT(rb_lower_bound(&t, &q, tn_keycmp) == &tn_pool[0].rb);
	KT_EXPECT(rb_upper_bound(&t, &q, tn_keycmp) == &tn_pool[0].rb);
	q = 0;
	KT_EXPECT(rb_lower_bound(&t, &q, tn_keycmp) == &tn_pool[4].rb);
	q = 10;
	KT_EXPECT(rb_lower_bound(&t, &q, tn_keycmp) == &tn_pool[7].rb);
	KT_EXPECT(rb_upper_bound(&t, &q, tn_keycmp) == NULL);
	q = 11;
	KT_EXPECT(rb_lower_bound(&t, &q, tn_keycmp) == NULL);
	KT_EXPECT(rb_find(&t, &q, tn_keycmp) == NULL);
	for (q = 0; q <= 11; q++)
		KT_ASSERT(check_lookups(&t, order, 8, q));

	/* Remove a duplicate, the root and the rest; nodes come out cleared. */
	rb_remove(&t, &tn_pool[3].rb);
	KT_EXPECT(rb_node_is_cleared(&tn_pool[3].rb));
	KT_EXPECT(rb_next(&tn_pool[1].rb) == &tn_pool[0].rb);
	rb_remove(&t, t.root);
	KT_EXPECT_EQ(t.count, 6);
	KT_ASSERT(rb_is_valid(&t));
	while ((n = rb_first(&t)) != NULL) {
		rb_remove(&t, n);
		KT_ASSERT(rb_is_valid(&t));
	}
	KT_EXPECT_EQ(t.count, 0);
	KT_EXPECT(t.root == NULL);
}

/* Sequential keys, removed front-first, back-first and middle-out. */
KTEST(rbtree, sequential)
{
	enum { N = 160 };
	static unsigned ref[N];
	struct rb_tree t;
	size_t n, pos;
	unsigned i, pattern;

	for (pattern = 0; pattern < 3; pattern++) {
		rb_init(&t, tn_cmp, tn_augment);
		n = 0;
		for (i = 0; i < N; i++) {
			/* Ascending, descending, ascending. */
			uint64_t k = pattern == 1 ? N - i : i;

			rb_insert(&t, &tn_get(i, k, (i * 37u) % 101u)->rb);
			ref_insert(ref, &n, i);
			KT_ASSERT(check_all(&t, ref, n));
		}
		KT_EXPECT_LE(tree_height(t.root), 2 * log2_ceil(N + 1));
		while (n > 0) {
			pos = pattern == 0 ? 0 : pattern == 1 ? n - 1 : n / 2;
			rb_remove(&t, &tn_pool[ref[pos]].rb);
			ref_remove_at(ref, &n, pos);
			KT_ASSERT(check_all(&t, ref, n));
		}
	}
}

/*
 * Randomised insert / erase / value update against the sorted reference,
 * with full validation after every step.  The insert bias flips between
 * growing and shrinking phases, and the key range changes per phase, so
 * the tree repeatedly fills to RBT_RANDOM_MAX, drains to empty, and sees
 * both heavy duplication and mostly-distinct keys.
 */
KTEST(rbtree, random_vs_model)
{
	static unsigned ref[RBT_RANDOM_MAX];
	static unsigned freeq[RBT_NODES];	/* ring of free slots */
	static const uint64_t key_ranges[] = { 8, 64, 1024, 1ull << 40 };
	struct rb_tree t;
	struct rng r;
	size_t n = 0, fhead = 0, ftail = RBT_NODES, pos;
	uint64_t iters, i, krange = 64, q;
	unsigned bias = 70, id, phase = 0;
	unsigned long inserts = 0, removes = 0, updates = 0;

	rng_seed(&r, ktest_seed(), 0x7b01);
	rb_init(&t, tn_cmp, tn_augment);
	for (id = 0; id < RBT_NODES; id++)
		freeq[id] = id;

	iters = ktest_iters(20000);
	for (i = 0; i < iters; i++) {
		unsigned op = (unsigned)rng_below(&r, 100);

		if (n == RBT_RANDOM_MAX || (n == 0 && phase % 2 == 1) ||
		    rng_below(&r, 1000) == 0) {
			phase++;
			bias = phase % 2 == 0 ? 70 : 30;
			krange = key_ranges[phase % 4];
		}
		if (n > 0 && op < 10) {
			/* Update a value: sometimes 0, sometimes a new max. */
			struct tnode *x = &tn_pool[ref[rng_below(&r, n)]];
			uint64_t v = rng_next(&r) % 4;

			x->value = v == 0 ? 0 : v == 1 ? x->value + 1000000 :
			    rng_below(&r, 1000000);
			rb_augment_update(&t, &x->rb);
			updates++;
		} else if (n == 0 || (n < RBT_RANDOM_MAX && op < 10 + bias * 9 / 10)) {
			/* FIFO reuse: all slots cycle through the tree. */
			id = freeq[fhead++ % RBT_NODES];
			rb_insert(&t, &tn_get(id, rng_below(&r, krange),
			    rng_below(&r, 1000000))->rb);
			ref_insert(ref, &n, id);
			inserts++;
		} else {
			pos = (size_t)rng_below(&r, n);
			id = ref[pos];
			rb_remove(&t, &tn_pool[id].rb);
			KT_ASSERT(rb_node_is_cleared(&tn_pool[id].rb));
			ref_remove_at(ref, &n, pos);
			freeq[ftail++ % RBT_NODES] = id;
			removes++;
		}
		if (!check_all(&t, ref, n)) {
			KT_FAIL("step %llu (inserts %lu removes %lu updates %lu)",
			    (unsigned long long)i, inserts, removes, updates);
			return;
		}
		q = rng_below(&r, krange + 1);
		KT_ASSERT(check_lookups(&t, ref, n, q));
	}
	ktest_note("%llu steps: %lu inserts, %lu removes, %lu updates, "
	    "%u phases", (unsigned long long)iters, inserts, removes, updates,
	    phase);
	while (n > 0) {
		rb_remove(&t, &tn_pool[ref[n - 1]].rb);
		n--;
	}
	KT_EXPECT(rb_is_valid(&t) && t.count == 0);
}

/* rb_augment_update: maxima stay exact and the walk up is O(height). */
KTEST(rbtree, augment_update)
{
	enum { N = 200 };
	static unsigned ref[N];
	struct rb_tree t;
	struct rng r;
	size_t n = 0;
	uint64_t iters, i, m;
	unsigned h, id;
	unsigned long calls;

	rng_seed(&r, ktest_seed(), 0x7b02);
	rb_init(&t, tn_cmp, tn_augment);
	for (id = 0; id < N; id++) {
		rb_insert(&t, &tn_get(id, rng_below(&r, 1000),
		    rng_below(&r, 1000))->rb);
		ref_insert(ref, &n, id);
	}
	KT_ASSERT(check_all(&t, ref, n));
	h = tree_height(t.root);

	iters = ktest_iters(2000);
	for (i = 0; i < iters; i++) {
		struct tnode *x = &tn_pool[rng_below(&r, N)];

		switch (rng_below(&r, 4)) {
		case 0:
			x->value = 0;
			break;
		case 1:
			x->value = tn(t.root)->max + 1;	/* new global max */
			break;
		case 2:
			x->value = x->max;	/* same as subtree max */
			break;
		default:
			x->value = rng_below(&r, 2000);
			break;
		}
		calls = tn_augment_calls;
		rb_augment_update(&t, &x->rb);
		KT_ASSERT(tn_augment_calls - calls <= h);
		KT_ASSERT(ref_maxima(t.root, &m));
		KT_ASSERT_EQ(tn(t.root)->max, m);
	}
	KT_ASSERT(check_all(&t, ref, n));

	/* No augment callback: update is a no-op and harmless. */
	rb_init(&t, tn_cmp, NULL);
	rb_insert(&t, &tn_get(0, 1, 1)->rb);
	rb_augment_update(&t, &tn_pool[0].rb);
	KT_EXPECT(rb_is_valid(&t));
}

/*
 * The map layer's use: descend by the maxima to the leftmost node whose
 * value >= x in O(height); compare with a linear in-order scan.
 */
KTEST(rbtree, gap_descent)
{
	static unsigned ref[RBT_LIVE_MAX];
	struct rb_tree t;
	struct rng r;
	struct rb_node *got, *want, *it;
	uint64_t rounds, i, x;
	size_t n, size;
	unsigned q, steps, h, id;

	rng_seed(&r, ktest_seed(), 0x7b03);
	rb_init(&t, tn_cmp, tn_augment);
	rounds = ktest_iters(100);
	for (i = 0; i < rounds; i++) {
		size = 1 + (size_t)rng_below(&r, RBT_LIVE_MAX);
		n = 0;
		for (id = 0; id < size; id++) {
			rb_insert(&t, &tn_get(id, rng_below(&r, 4096),
			    rng_below(&r, 1000))->rb);
			ref_insert(ref, &n, id);
		}
		KT_ASSERT(check_all(&t, ref, n));
		h = tree_height(t.root);
		KT_EXPECT_LE(h, 2 * log2_ceil(n + 1));
		for (q = 0; q < 32; q++) {
			x = rng_below(&r, 1100);
			want = NULL;
			for (it = rb_first(&t); it != NULL; it = rb_next(it)) {
				if (tn(it)->value >= x) {
					want = it;
					break;
				}
			}
			got = leftmost_ge(&t, x, &steps);
			KT_ASSERT(got == want);
			KT_ASSERT(steps <= h);
		}
		/* Tear down in random order (exercises erase once more). */
		while (n > 0) {
			size_t pos = (size_t)rng_below(&r, n);

			rb_remove(&t, &tn_pool[ref[pos]].rb);
			ref_remove_at(ref, &n, pos);
		}
		KT_ASSERT(rb_is_valid(&t));
	}
}

/* rb_is_valid must be able to fail: corrupt one thing at a time. */
KTEST(rbtree, validator_self_check)
{
	static const unsigned order[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	struct rb_tree t;
	struct rb_node *leaf, *n;
	uint64_t saved;
	uintptr_t pc;
	unsigned i;

	rb_init(&t, tn_cmp, tn_augment);
	for (i = 0; i < 10; i++)
		rb_insert(&t, &tn_get(i, i, (i * 7u) % 10u)->rb);
	KT_ASSERT(check_all(&t, order, 10));

	/* A stale augmented value anywhere: leaf, inner node, root. */
	leaf = rb_first(&t);
	KT_ASSERT(leaf->left == NULL && leaf->right == NULL);
	for (i = 0; i < 3; i++) {
		n = i == 0 ? leaf : i == 1 ? rb_parent(leaf) : t.root;
		saved = tn(n)->max;
		tn(n)->max = saved + 1;
		KT_EXPECT(!rb_is_valid(&t));
		tn(n)->max = saved;
		KT_ASSERT(rb_is_valid(&t));
	}

	/* Colour: a red root, and a flipped non-root node. */
	t.root->parent_color ^= RB_COLOR_MASK;
	KT_EXPECT(!rb_is_valid(&t));
	t.root->parent_color ^= RB_COLOR_MASK;
	KT_ASSERT(rb_is_valid(&t));
	leaf->parent_color ^= RB_COLOR_MASK;
	KT_EXPECT(!rb_is_valid(&t));
	leaf->parent_color ^= RB_COLOR_MASK;
	KT_ASSERT(rb_is_valid(&t));

	/* Order, parent link, count. */
	saved = tn(leaf)->key;
	tn(leaf)->key = 100;
	KT_EXPECT(!rb_is_valid(&t));
	tn(leaf)->key = saved;
	KT_ASSERT(rb_is_valid(&t));
	pc = leaf->parent_color;
	n = rb_last(&t);	/* the leftmost leaf's parent it is not */
	KT_ASSERT(n != rb_parent(leaf));
	leaf->parent_color = (uintptr_t)n | (pc & RB_COLOR_MASK);
	KT_EXPECT(!rb_is_valid(&t));
	leaf->parent_color = pc;
	KT_ASSERT(rb_is_valid(&t));
	t.count++;
	KT_EXPECT(!rb_is_valid(&t));
	t.count--;
	KT_ASSERT(check_all(&t, order, 10));
}

/* Wrong use: removing a node twice must trip VM_ASSERT (panics). */
KTEST_EXPLICIT(wrong_rbtree, remove_twice)
{
	struct rb_tree t;

	rb_init(&t, tn_cmp, NULL);
	rb_insert(&t, &tn_get(0, 1, 0)->rb);
	rb_insert(&t, &tn_get(1, 2, 0)->rb);
	rb_remove(&t, &tn_pool[0].rb);
	ktest_note("removing a node twice; expect a VM_ASSERT panic");
	rb_remove(&t, &tn_pool[0].rb);
	KT_FAIL("rb_remove of a removed node did not panic");
}
