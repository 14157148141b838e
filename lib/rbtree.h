/*
 * rbtree: intrusive, augmented red-black tree (freestanding C11).
 *
 * Embed a struct rb_node in your object and give the tree a comparison
 * function over nodes; rb_entry() gets the object back.  The tree never
 * allocates.  An optional augment callback keeps a per-node summary of the
 * node's subtree (e.g. "largest free gap below here") consistent across
 * every insert, erase and rotation; see the theory comment in rbtree.c.
 *
 * Invariants (checked by rb_is_valid()):
 *	in-order walk is sorted by cmp (equal keys in insertion order)
 *	root is black; a red node has no red child
 *	every root-to-NULL path has the same number of black nodes
 *	rb_parent(child) == node for every child; rb_parent(root) == NULL
 *	count == number of nodes reachable from root
 *	augment != NULL  =>  augment(n) reports no change for every node n
 *
 * Concurrency: none.  The caller serialises all access to a tree.
 */
#ifndef RVMM_LIB_RBTREE_H
#define RVMM_LIB_RBTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Colour lives in bit 0 of parent_color (nodes are at least 2-aligned). */
#define RB_RED		0u
#define RB_BLACK	1u
#define RB_COLOR_MASK	((uintptr_t)1)

struct rb_node {
	struct rb_node *left, *right;
	uintptr_t parent_color;		/* parent pointer | colour bit */
};

/* <0, 0, >0 as a sorts before, equal to, after b. */
typedef int (*rb_cmp_fn)(const struct rb_node *a, const struct rb_node *b);

/*
 * Recompute n's augmented value from n itself and its (possibly NULL)
 * children, store it, and return true if it changed.  NULL for a plain tree.
 */
typedef bool (*rb_augment_fn)(struct rb_node *n);

/* Key lookups: cmpkey(key, node) < 0 means key sorts before node. */
typedef int (*rb_keycmp_fn)(const void *key, const struct rb_node *n);

struct rb_tree {
	struct rb_node *root;
	rb_cmp_fn cmp;
	rb_augment_fn augment;
	size_t count;
};

#define rb_entry(ptr, type, member)                                            \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Like rb_entry() but NULL stays NULL (evaluates ptr once). */
#define rb_entry_safe(ptr, type, member)                                       \
	__extension__({                                                        \
		__typeof__(ptr) rbE_ = (ptr);                                  \
		rbE_ ? rb_entry(rbE_, type, member) : (type *)NULL;            \
	})

/* rb_init: empty tree.  => cmp != NULL; augment may be NULL. */
void rb_init(struct rb_tree *t, rb_cmp_fn cmp, rb_augment_fn augment);

/*
 * rb_insert: link n into t; O(log n).
 * => n is not in any tree; its fields need no initialisation.
 * => equal keys go to the right of (after) the existing equal nodes.
 */
void rb_insert(struct rb_tree *t, struct rb_node *n);

/*
 * rb_remove: unlink n from t; O(log n).
 * => n is in t (panics via VM_ASSERT on a detectably unlinked node).
 * => on return n is cleared (rb_node_is_cleared(n)); removing it again panics.
 */
void rb_remove(struct rb_tree *t, struct rb_node *n);

/*
 * rb_augment_update: after the caller changed data that n's augmented value
 * depends on (never its key), recompute n and its ancestors bottom-up,
 * stopping at the first node whose value does not change; O(log n).
 * => n is in t.  No-op when t->augment == NULL.
 */
void rb_augment_update(struct rb_tree *t, struct rb_node *n);

/* Navigation; all return NULL at the ends.  O(log n) worst, O(1) amortised. */
struct rb_node *rb_parent(const struct rb_node *n);
struct rb_node *rb_first(const struct rb_tree *t);
struct rb_node *rb_last(const struct rb_tree *t);
struct rb_node *rb_next(const struct rb_node *n);
struct rb_node *rb_prev(const struct rb_node *n);

/* Any node equal to key, or NULL. */
struct rb_node *rb_find(const struct rb_tree *t, const void *key,
    rb_keycmp_fn cmpkey);
/* First node (in order) with node >= key, or NULL. */
struct rb_node *rb_lower_bound(const struct rb_tree *t, const void *key,
    rb_keycmp_fn cmpkey);
/* First node (in order) with node > key, or NULL. */
struct rb_node *rb_upper_bound(const struct rb_tree *t, const void *key,
    rb_keycmp_fn cmpkey);

/*
 * rb_is_valid: expensive O(n) check of every invariant listed above.
 * Returns true when valid.  With an augment callback it calls augment() on
 * every node (bottom-up), so an inconsistent value is also repaired in
 * passing; the result is still false.  Meant for VM_ASSERT_EXPENSIVE.
 */
bool rb_is_valid(const struct rb_tree *t);

/* Mark n as "in no tree" (parent points to itself), as rb_remove() does. */
static inline void
rb_node_clear(struct rb_node *n)
{
	n->left = n->right = NULL;
	n->parent_color = (uintptr_t)n;
}

static inline bool
rb_node_is_cleared(const struct rb_node *n)
{
	return n->parent_color == (uintptr_t)n;
}

static inline bool
rb_is_black(const struct rb_node *n)
{
	return (n->parent_color & RB_COLOR_MASK) == RB_BLACK;
}

static inline bool
rb_empty(const struct rb_tree *t)
{
	return t->root == NULL;
}

#endif /* RVMM_LIB_RBTREE_H */
