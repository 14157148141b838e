/*
 * rbtree: intrusive, augmented red-black tree.
 *
 * 1. What it is.
 *    A binary search tree of struct rb_node embedded in the caller's objects,
 *    ordered by the tree's cmp function, kept balanced with the classic
 *    red-black rules (CLRS chapter 13; the same shape as Linux lib/rbtree.c).
 *    Each node holds left/right pointers and its parent pointer with the
 *    colour in bit 0 (RB_RED 0, RB_BLACK 1).  Equal keys are allowed: an
 *    insert descends right on equality, so equal nodes keep insertion order.
 *    The tree never allocates and never recurses, except in rb_is_valid().
 *
 * 2. The augmentation rule.
 *    An optional callback augment(n) recomputes a summary of n's subtree
 *    from n itself and its children's stored summaries (e.g. max of a value,
 *    "largest free gap below here"), stores it and says whether it changed.
 *    Because the value depends only on n and its children, it is correct
 *    for every node once it has been recomputed bottom-up for every node
 *    whose subtree changed.  The tree does exactly that:
 *      - insert: the new leaf, then its ancestors (before rebalancing);
 *      - erase: every node on the path from the lowest node whose set of
 *        descendants changed up to the root (before rebalancing); in the
 *        two-children case that path runs from the successor's old parent
 *        through the successor in its new place;
 *      - rotation: the node that went down first, then the one that went
 *        up.  A rotation does not change the set of nodes in the rotated
 *        subtree, so nothing above it needs recomputing;
 *      - rb_augment_update(): n and its ancestors.
 *    Walking up may stop at the first node whose value did not change,
 *    provided that node's old stored value was correct for its old subtree
 *    (then everything above is unchanged too).  The one node where this does
 *    not hold is the successor moved into an erased node's place: its old
 *    value described a different subtree, so it is always recomputed and
 *    the stop test resumes at its parent.  Recolouring never touches
 *    augmented values.
 *
 * 3. Invariants (rb_is_valid() checks all of them).
 *    a. In-order walk is non-decreasing under cmp.
 *    b. Root is black; no red node has a red child.
 *    c. Every path from a node to a NULL child has the same black count,
 *       so height <= 2 log2(count + 1).
 *    d. rb_parent(n->left) == n == rb_parent(n->right); rb_parent(root) ==
 *       NULL; count is the number of linked nodes.
 *    e. augment != NULL => augment(n) reports no change for every node.
 *    A removed node is "cleared": its parent pointer points to itself, so a
 *    second rb_remove() trips a VM_ASSERT.
 *
 * 4. Complexity.
 *    insert, remove: O(log n), at most 2 (insert) or 3 (remove) rotations,
 *    O(log n) augment calls.  first/last/find/bounds: O(log n).  next/prev:
 *    O(log n) worst, O(1) amortised over a full walk.  rb_augment_update:
 *    O(log n).  rb_is_valid: O(n), recursion depth <= height + 1.
 *
 * 5. Concurrency.
 *    None.  The tree has no lock; callers serialise every access to a tree
 *    (including read-only walks against concurrent modification).
 */
#include "lib/rbtree.h"

#include "lib/assert.h"

VM_STATIC_ASSERT(_Alignof(struct rb_node) >= 2,
    "rb_node must be 2-aligned: bit 0 of parent_color is the colour");

/* Deepest legal tree: 2 * log2(SIZE_MAX + 1), plus slack. */
#define RB_MAX_DEPTH	(2 * 8 * sizeof(size_t) + 2)

/* Low-level field access. */

struct rb_node *
rb_parent(const struct rb_node *n)
{
	return (struct rb_node *)(n->parent_color & ~RB_COLOR_MASK);
}

/* The tree API is logically const where it hands back mutable nodes. */
static inline struct rb_node *
rb_unconst(const struct rb_node *n)
{
	return (struct rb_node *)(uintptr_t)n;
}

static inline bool
rb_is_red(const struct rb_node *n)
{
	return !rb_is_black(n);
}

/* NULL children count as black. */
static inline bool
rb_is_black_or_null(const struct rb_node *n)
{
	return n == NULL || rb_is_black(n);
}

static inline void
rb_set_parent(struct rb_node *n, struct rb_node *p)
{
	n->parent_color = (uintptr_t)p | (n->parent_color & RB_COLOR_MASK);
}

static inline void
rb_set_color(struct rb_node *n, uintptr_t color)
{
	n->parent_color = (n->parent_color & ~RB_COLOR_MASK) | color;
}

static inline void
rb_set_black(struct rb_node *n)
{
	rb_set_color(n, RB_BLACK);
}

static inline void
rb_set_red(struct rb_node *n)
{
	rb_set_color(n, RB_RED);
}

static inline uintptr_t
rb_color(const struct rb_node *n)
{
	return n->parent_color & RB_COLOR_MASK;
}

/*
 * rb_replace_child: make nw take old's place under parent p (or at the root).
 * => old is a child of p, or the root when p == NULL.
 * => does not touch nw's own parent pointer.
 */
static inline void
rb_replace_child(struct rb_tree *t, struct rb_node *p, struct rb_node *old,
    struct rb_node *nw)
{
	if (p == NULL)
		t->root = nw;
	else if (p->left == old)
		p->left = nw;
	else
		p->right = nw;
}

/*
 * rb_propagate: recompute augmented values from n up to (not including)
 * stop, stopping early at the first node that does not change.
 * => every node from n to stop held a value correct for its old subtree.
 */
static void
rb_propagate(struct rb_tree *t, struct rb_node *n, struct rb_node *stop)
{
	while (n != stop) {
		if (!t->augment(n))
			break;
		n = rb_parent(n);
	}
}

/*
 * rb_rotate_left: x's right child y takes x's place; x becomes y's left.
 *
 *	    x                y
 *	   / \              / \
 *	  a   y     =>     x   c
 *	     / \          / \
 *	    b   c        a   b
 *
 * => x->right != NULL.  Colours are untouched.
 * => augmented values: x (now lower) then y; nothing above changes.
 */
static void
rb_rotate_left(struct rb_tree *t, struct rb_node *x)
{
	struct rb_node *y = x->right;
	struct rb_node *p = rb_parent(x);

	x->right = y->left;
	if (y->left != NULL)
		rb_set_parent(y->left, x);
	y->left = x;
	rb_set_parent(y, p);
	rb_replace_child(t, p, x, y);
	rb_set_parent(x, y);
	if (t->augment != NULL) {
		t->augment(x);
		t->augment(y);
	}
}

/* rb_rotate_right: mirror of rb_rotate_left.  => x->left != NULL. */
static void
rb_rotate_right(struct rb_tree *t, struct rb_node *x)
{
	struct rb_node *y = x->left;
	struct rb_node *p = rb_parent(x);

	x->left = y->right;
	if (y->right != NULL)
		rb_set_parent(y->right, x);
	y->right = x;
	rb_set_parent(y, p);
	rb_replace_child(t, p, x, y);
	rb_set_parent(x, y);
	if (t->augment != NULL) {
		t->augment(x);
		t->augment(y);
	}
}

void
rb_init(struct rb_tree *t, rb_cmp_fn cmp, rb_augment_fn augment)
{
	VM_ASSERT(cmp != NULL);
	t->root = NULL;
	t->cmp = cmp;
	t->augment = augment;
	t->count = 0;
}

/*
 * rb_insert_fixup: restore the red-black rules after linking red leaf n
 * (CLRS RB-INSERT-FIXUP).  At most two rotations.
 */
static void
rb_insert_fixup(struct rb_tree *t, struct rb_node *n)
{
	struct rb_node *p, *g, *u;

	while ((p = rb_parent(n)) != NULL && rb_is_red(p)) {
		/* p is red, so it is not the root: g exists and is black. */
		g = rb_parent(p);
		if (p == g->left) {
			u = g->right;
			if (u != NULL && rb_is_red(u)) {
				/* Case 1: red uncle; push blackness down. */
				rb_set_black(p);
				rb_set_black(u);
				rb_set_red(g);
				n = g;
				continue;
			}
			if (n == p->right) {
				/* Case 2: inner grandchild; make it outer. */
				rb_rotate_left(t, p);
				n = p;
				p = rb_parent(n);
			}
			/* Case 3: outer grandchild. */
			rb_set_black(p);
			rb_set_red(g);
			rb_rotate_right(t, g);
			break;
		} else {
			u = g->left;
			if (u != NULL && rb_is_red(u)) {
				rb_set_black(p);
				rb_set_black(u);
				rb_set_red(g);
				n = g;
				continue;
			}
			if (n == p->left) {
				rb_rotate_right(t, p);
				n = p;
				p = rb_parent(n);
			}
			rb_set_black(p);
			rb_set_red(g);
			rb_rotate_left(t, g);
			break;
		}
	}
	rb_set_black(t->root);
}

void
rb_insert(struct rb_tree *t, struct rb_node *n)
{
	struct rb_node *p = NULL, **link = &t->root;

	VM_ASSERT(n != NULL);
	while (*link != NULL) {
		p = *link;
		VM_ASSERT(p != n);
		link = t->cmp(n, p) < 0 ? &p->left : &p->right;
	}
	n->left = n->right = NULL;
	n->parent_color = (uintptr_t)p | RB_RED;
	*link = n;
	t->count++;

	if (t->augment != NULL) {
		t->augment(n);
		rb_propagate(t, p, NULL);
	}
	rb_insert_fixup(t, n);
}

/*
 * rb_erase_fixup: a black node was unlinked from under parent; x (possibly
 * NULL) took its place and carries an extra black (CLRS RB-DELETE-FIXUP).
 * At most three rotations.
 */
static void
rb_erase_fixup(struct rb_tree *t, struct rb_node *x, struct rb_node *parent)
{
	struct rb_node *w;

	while (x != t->root && rb_is_black_or_null(x)) {
		/* x is doubly black, so its sibling w exists. */
		if (x == parent->left) {
			w = parent->right;
			if (rb_is_red(w)) {
				/* Case 1: red sibling; make it black. */
				rb_set_black(w);
				rb_set_red(parent);
				rb_rotate_left(t, parent);
				w = parent->right;
			}
			if (rb_is_black_or_null(w->left) &&
			    rb_is_black_or_null(w->right)) {
				/* Case 2: move the extra black up. */
				rb_set_red(w);
				x = parent;
				parent = rb_parent(x);
				continue;
			}
			if (rb_is_black_or_null(w->right)) {
				/* Case 3: inner nephew red; make it outer. */
				rb_set_black(w->left);
				rb_set_red(w);
				rb_rotate_right(t, w);
				w = parent->right;
			}
			/* Case 4: outer nephew red; absorb the extra black. */
			rb_set_color(w, rb_color(parent));
			rb_set_black(parent);
			rb_set_black(w->right);
			rb_rotate_left(t, parent);
			x = t->root;
			break;
		} else {
			w = parent->left;
			if (rb_is_red(w)) {
				rb_set_black(w);
				rb_set_red(parent);
				rb_rotate_right(t, parent);
				w = parent->left;
			}
			if (rb_is_black_or_null(w->left) &&
			    rb_is_black_or_null(w->right)) {
				rb_set_red(w);
				x = parent;
				parent = rb_parent(x);
				continue;
			}
			if (rb_is_black_or_null(w->left)) {
				rb_set_black(w->right);
				rb_set_red(w);
				rb_rotate_left(t, w);
				w = parent->left;
			}
			rb_set_color(w, rb_color(parent));
			rb_set_black(parent);
			rb_set_black(w->left);
			rb_rotate_right(t, parent);
			x = t->root;
			break;
		}
	}
	if (x != NULL)
		rb_set_black(x);
}

void
rb_remove(struct rb_tree *t, struct rb_node *n)
{
	struct rb_node *p, *child, *x, *xparent, *s, *sp;
	bool removed_black;

	VM_ASSERT(n != NULL);
	VM_ASSERT(!rb_node_is_cleared(n));
	VM_ASSERT(t->count > 0);
	p = rb_parent(n);
	VM_ASSERT(p == NULL ? t->root == n : (p->left == n || p->right == n));

	if (n->left == NULL || n->right == NULL) {
		/* At most one child: it takes n's place. */
		child = n->left != NULL ? n->left : n->right;
		removed_black = rb_is_black(n);
		rb_replace_child(t, p, n, child);
		if (child != NULL)
			rb_set_parent(child, p);
		x = child;
		xparent = p;
		if (t->augment != NULL)
			rb_propagate(t, p, NULL);
	} else {
		/*
		 * Two children: the successor s (leftmost of n->right, which
		 * has no left child) takes n's place and colour; the node
		 * actually unlinked from the shape is s's old position, whose
		 * right child x moves up into it.
		 */
		s = n->right;
		while (s->left != NULL)
			s = s->left;
		removed_black = rb_is_black(s);
		x = s->right;
		if (s == n->right) {
			sp = NULL;	/* s's subtree below it is unchanged */
			xparent = s;
		} else {
			sp = rb_parent(s);
			xparent = sp;
			sp->left = x;
			if (x != NULL)
				rb_set_parent(x, sp);
			s->right = n->right;
			rb_set_parent(n->right, s);
		}
		s->left = n->left;
		rb_set_parent(n->left, s);
		rb_replace_child(t, p, n, s);
		s->parent_color = n->parent_color;
		if (t->augment != NULL) {
			/* See theory section 2: s is always recomputed. */
			if (sp != NULL)
				rb_propagate(t, sp, s);
			t->augment(s);
			rb_propagate(t, p, NULL);
		}
	}
	t->count--;
	if (removed_black)
		rb_erase_fixup(t, x, xparent);
	rb_node_clear(n);
}

void
rb_augment_update(struct rb_tree *t, struct rb_node *n)
{
	VM_ASSERT(n != NULL && !rb_node_is_cleared(n));
	if (t->augment != NULL)
		rb_propagate(t, n, NULL);
}

/* Navigation. */

struct rb_node *
rb_first(const struct rb_tree *t)
{
	struct rb_node *n = t->root;

	if (n == NULL)
		return NULL;
	while (n->left != NULL)
		n = n->left;
	return n;
}

struct rb_node *
rb_last(const struct rb_tree *t)
{
	struct rb_node *n = t->root;

	if (n == NULL)
		return NULL;
	while (n->right != NULL)
		n = n->right;
	return n;
}

struct rb_node *
rb_next(const struct rb_node *n)
{
	struct rb_node *p;

	if (n->right != NULL) {
		n = n->right;
		while (n->left != NULL)
			n = n->left;
		return rb_unconst(n);
	}
	/* Climb until we come up from a left child. */
	while ((p = rb_parent(n)) != NULL && n == p->right)
		n = p;
	return p;
}

struct rb_node *
rb_prev(const struct rb_node *n)
{
	struct rb_node *p;

	if (n->left != NULL) {
		n = n->left;
		while (n->right != NULL)
			n = n->right;
		return rb_unconst(n);
	}
	while ((p = rb_parent(n)) != NULL && n == p->left)
		n = p;
	return p;
}

/* Lookups. */

struct rb_node *
rb_find(const struct rb_tree *t, const void *key, rb_keycmp_fn cmpkey)
{
	struct rb_node *n = t->root;
	int c;

	while (n != NULL) {
		c = cmpkey(key, n);
		if (c == 0)
			return n;
		n = c < 0 ? n->left : n->right;
	}
	return NULL;
}

struct rb_node *
rb_lower_bound(const struct rb_tree *t, const void *key, rb_keycmp_fn cmpkey)
{
	struct rb_node *n = t->root, *best = NULL;

	while (n != NULL) {
		if (cmpkey(key, n) <= 0) {
			best = n;
			n = n->left;
		} else {
			n = n->right;
		}
	}
	return best;
}

struct rb_node *
rb_upper_bound(const struct rb_tree *t, const void *key, rb_keycmp_fn cmpkey)
{
	struct rb_node *n = t->root, *best = NULL;

	while (n != NULL) {
		if (cmpkey(key, n) < 0) {
			best = n;
			n = n->left;
		} else {
			n = n->right;
		}
	}
	return best;
}

/* Validation. */

struct rb_check {
	const struct rb_tree *t;
	const struct rb_node *prev;	/* in-order predecessor so far */
	size_t seen;
	bool ok;
};

/*
 * rb_check_node: validate the subtree at n (child of parent) and return its
 * black height, or -1 after recording a failure.  In-order, so c->prev
 * walks the nodes in sorted order; augment() runs post-order (bottom-up).
 */
static int
rb_check_node(struct rb_check *c, const struct rb_node *n,
    const struct rb_node *parent, size_t depth)
{
	int lh, rh;

	if (n == NULL)
		return 1;
	if (depth > RB_MAX_DEPTH || ++c->seen > c->t->count ||
	    rb_parent(n) != parent)
		goto bad;
	if (rb_is_red(n) && parent != NULL && rb_is_red(parent))
		goto bad;
	lh = rb_check_node(c, n->left, n, depth + 1);
	if (lh < 0)
		return -1;
	if (c->prev != NULL && c->t->cmp(c->prev, n) > 0)
		goto bad;
	c->prev = n;
	rh = rb_check_node(c, n->right, n, depth + 1);
	if (rh < 0)
		return -1;
	if (lh != rh)
		goto bad;
	/* augment() stores what it computes; the tree is logically const. */
	if (c->t->augment != NULL && c->t->augment(rb_unconst(n)))
		goto bad;
	return lh + (rb_is_black(n) ? 1 : 0);
bad:
	c->ok = false;
	return -1;
}

bool
rb_is_valid(const struct rb_tree *t)
{
	struct rb_check c = { .t = t, .prev = NULL, .seen = 0, .ok = true };

	if (t->cmp == NULL)
		return false;
	if (t->root == NULL)
		return t->count == 0;
	if (!rb_is_black(t->root) || rb_parent(t->root) != NULL)
		return false;
	if (rb_check_node(&c, t->root, NULL, 0) < 0 || !c.ok)
		return false;
	return c.seen == t->count;
}
