/*
 * dtb.c: a bounds-checked reader for flattened device trees (FDT v17).
 *
 * 1. Format.
 *
 * A flattened device tree is one contiguous big-endian blob:
 *
 *	header		40 bytes: magic 0xd00dfeed, totalsize, the offsets
 *			of the three blocks below, version (17),
 *			last_comp_version (16), boot cpu, the sizes of the
 *			strings and structure blocks
 *	memreserve	(u64 address, u64 size) pairs, 8-aligned, ended by a
 *			(0, 0) pair
 *	structure	a stream of 32-bit tokens, 4-aligned:
 *			BEGIN_NODE name\0 <pad to 4>
 *			PROP u32 len, u32 nameoff, value[len] <pad to 4>
 *			END_NODE, NOP, and one END after the root closes
 *	strings		property names, NUL-terminated, referenced by the
 *			nameoff of each PROP
 *
 * Properties of a node precede its subnodes.  A node's `reg` is a list of
 * (address, size) pairs whose widths in 32-bit cells are the
 * #address-cells and #size-cells of its PARENT (2 and 1 when the parent
 * does not say).
 *
 * 2. What is extracted (struct dtb_info).
 *
 *	cpus		children of /cpus with device_type "cpu".  Each counts
 *			in ncpus_total; with status absent, "okay" or "ok" its
 *			reg (the hart id) goes to hartids[] in DTB order.  The
 *			first usable cpu also gives riscv,isa and mmu-type.
 *	timebase	/cpus timebase-frequency, else that of the first usable
 *			cpu that has one (4- or 8-byte values).
 *	memory		reg entries of top-level nodes with device_type
 *			"memory" and status okay/absent, inserted into a
 *			sorted list whose overlapping or adjacent ranges are
 *			merged.
 *	reserved	the memreserve block, then the reg entries of the
 *			children of /reserved-memory (status okay/absent),
 *			decoded with /reserved-memory's own cell counts.
 *			Kept in that order, not merged; children with only a
 *			`size` (dynamic allocations) give nothing.
 *	chosen		bootargs, linux,initrd-start and -end (4 or 8 bytes).
 *
 * Top-level nodes are recognised by the name before any '@' ("cpus",
 * "chosen", "reserved-memory"); cpus and memory by device_type.  Ranges of
 * size 0 are skipped.  Entries beyond an array's capacity are dropped and
 * set `truncated`; a memory range that merges into a kept one is not lost.
 *
 * 3. What is trusted.
 *
 * Nothing in the blob.  The caller's maxlen bounds it; totalsize must fit
 * in maxlen and every offset and size in totalsize.  The result is only as
 * true as the firmware that wrote the tree: dtb_parse() checks form, not
 * meaning (it does not check that reserved ranges lie in RAM, that the
 * initrd end follows its start, or that hart ids are unique).  Unit
 * addresses in node names are ignored; `ranges` are not applied (memory and
 * reserved-memory nodes sit in the root's address space on every machine
 * rvmm runs on).
 *
 * 4. Bounds checks.
 *
 * Header: maxlen >= 40, magic, version >= 17 and last_comp_version <= 17,
 * 40 <= totalsize <= maxlen; each block starts at or after the header and
 * lies inside totalsize (overflow-free: `size <= totalsize - off` after
 * `off <= totalsize`); the memreserve block is 8-aligned, the structure
 * block 4-aligned.  Every read goes through a cursor that first checks
 * that the bytes remain in its block.  Memreserve entries are read while
 * they fit in totalsize; a missing terminator is an error.  Node names and
 * property names must be NUL-terminated inside their block (memchr bounded
 * by the block's end); property values are used only as (pointer, length)
 * and every string copy out of them is bounded by both the value's length
 * and the destination.  Cell counts we decode must be 1..2 (addresses) and
 * 1..2 (sizes; 0 allowed only for cpu reg), 32-bit values exactly 4 bytes,
 * reg lengths a multiple of the entry size, and base + size must not wrap.
 * Nesting is bounded by DTB_MAX_DEPTH; each loop step consumes at least one
 * 4-byte token, so the walk ends within size_dt_struct / 4 steps.
 *
 * 5. Failure.
 *
 * Any violation returns -EINVAL and zeroes *out: a kernel that cannot trust
 * its memory map should stop, not guess.  No allocation, no globals, no
 * errno; reentrant.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hal/riscv64/dtb.h"

#define FDT_VERSION 17u
#define FDT_BEGIN_NODE 0x1u
#define FDT_END_NODE 0x2u
#define FDT_PROP 0x3u
#define FDT_NOP 0x4u
#define FDT_END 0x9u

/* Deepest nesting accepted; real trees stay under 8. */
#define DTB_MAX_DEPTH 32

/* Header fields, byte offsets. */
#define FDT_H_MAGIC 0
#define FDT_H_TOTALSIZE 4
#define FDT_H_OFF_STRUCT 8
#define FDT_H_OFF_STRINGS 12
#define FDT_H_OFF_RSVMAP 16
#define FDT_H_VERSION 20
#define FDT_H_LAST_COMP 24
#define FDT_H_SIZE_STRINGS 32
#define FDT_H_SIZE_STRUCT 36

/* What a node is to us, from its place and name. */
enum dtb_kind {
	DTB_K_OTHER,
	DTB_K_ROOT,
	DTB_K_TOP,		/* child of the root: maybe a memory node */
	DTB_K_CPUS,		/* /cpus */
	DTB_K_CPU,		/* child of /cpus */
	DTB_K_CHOSEN,		/* /chosen */
	DTB_K_RESMEM,		/* /reserved-memory */
	DTB_K_RESCHILD,		/* child of /reserved-memory */
};

/* One open node. */
struct dtb_frame {
	uint32_t acells;	/* its #address-cells, for its children */
	uint32_t scells;	/* its #size-cells, for its children */
	uint8_t kind;		/* enum dtb_kind */
	bool done;		/* its properties have been acted on */
	bool had_child;		/* a subnode began: no more properties */
};

/* A property value inside the structure block; p == NULL: absent. */
struct dtb_val {
	const uint8_t *p;
	uint32_t len;
};

/*
 * Properties of the innermost open node, kept until they are all known
 * (at its first subnode or its END_NODE).
 */
struct dtb_props {
	struct dtb_val device_type;
	struct dtb_val status;
	struct dtb_val reg;
	struct dtb_val isa;
	struct dtb_val mmu;
	struct dtb_val tbf;
	struct dtb_val compat;
};

struct dtb_walk {
	const uint8_t *strs;	/* strings block */
	uint32_t strs_size;
	const uint8_t *st;	/* structure block */
	uint32_t st_size;
	uint32_t pos;		/* cursor in st, 4-aligned, <= st_size */
	unsigned depth;		/* open nodes */
	bool root_closed;
	bool have_cpu;		/* the first usable cpu was seen */
	struct dtb_frame stack[DTB_MAX_DEPTH];
	struct dtb_props cur;
	struct dtb_info *out;
};

static inline uint32_t
be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint64_t
be64(const uint8_t *p)
{
	return ((uint64_t)be32(p) << 32) | be32(p + 4);
}

/*
 * cells_read: a big-endian number of ncells 32-bit cells.
 * => ncells <= 2, p has 4 * ncells readable bytes.
 */
static uint64_t
cells_read(const uint8_t *p, uint32_t ncells)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < ncells; i++)
		v = (v << 32) | be32(p + 4 * i);
	return v;
}

/* val_streq: the value is exactly the string s (NUL included). */
static bool
val_streq(struct dtb_val v, const char *s)
{
	size_t n = strlen(s);

	return v.p != NULL && v.len > n && memcmp(v.p, s, n) == 0 &&
	    v.p[n] == '\0';
}

/* compat_has: the string list v (NUL-separated) contains s. */
static bool
compat_has(struct dtb_val v, const char *s)
{
	size_t n = strlen(s);

	for (uint32_t off = 0; v.p != NULL && off < v.len;) {
		const char *e = (const char *)v.p + off;
		size_t left = v.len - off, len = 0;
		while (len < left && e[len] != '\0')
			len++;
		if (len == n && memcmp(e, s, n) == 0)
			return true;
		off += (uint32_t)len + 1;
	}
	return false;
}

/* status_ok: status absent, "okay" or the older "ok". */
static bool
status_ok(struct dtb_val v)
{
	return v.p == NULL || val_streq(v, "okay") || val_streq(v, "ok");
}

/*
 * val_strcpy: copies the string in v into dst, stopping at its NUL, at the
 * end of the value or when dst is full; dst always ends with a NUL.
 * => dstsz > 0.
 */
static void
val_strcpy(char *dst, size_t dstsz, struct dtb_val v)
{
	size_t n = 0;

	if (v.p != NULL) {
		while (n < v.len && n + 1 < dstsz && v.p[n] != '\0')
			n++;
		memcpy(dst, v.p, n);
	}
	dst[n] = '\0';
}

/*
 * val_u64: a 32- or 64-bit integer property.
 * => returns 0 and sets *out, or -EINVAL for any other length.
 */
static int
val_u64(struct dtb_val v, uint64_t *out)
{
	if (v.len == 4)
		*out = be32(v.p);
	else if (v.len == 8)
		*out = be64(v.p);
	else
		return -EINVAL;
	return 0;
}

/*
 * name_is: the node name, up to any '@' unit address, equals s.
 */
static bool
name_is(const char *name, size_t len, const char *s)
{
	const char *at = memchr(name, '@', len);
	size_t base = at != NULL ? (size_t)(at - name) : len;

	return base == strlen(s) && memcmp(name, s, base) == 0;
}

/* ------------------------------------------------------------------ */
/* Ranges.                                                             */

/*
 * mem_insert: adds [base, base + size) to the sorted, disjoint list r[0..*n),
 * merging every range it overlaps or touches.
 * => base + size does not wrap; neither does any range in r.
 * => sets *trunc and drops the range when it needs a new slot and none is
 *    left.
 */
static void
mem_insert(struct hal_mem_range *r, unsigned *n, unsigned max,
    uint64_t base, uint64_t size, bool *trunc)
{
	uint64_t end = base + size;
	unsigned i = 0, j;

	/* First range that ends at or after base: the new one goes there. */
	while (i < *n && r[i].base + r[i].size < base)
		i++;
	/* Absorb every range that starts at or before the new end. */
	for (j = i; j < *n && r[j].base <= end; j++) {
		if (r[j].base < base)
			base = r[j].base;
		if (r[j].base + r[j].size > end)
			end = r[j].base + r[j].size;
	}
	if (j == i) {
		if (*n == max) {
			*trunc = true;
			return;
		}
		memmove(&r[i + 1], &r[i], (*n - i) * sizeof(r[0]));
		(*n)++;
	} else {
		memmove(&r[i + 1], &r[j], (*n - j) * sizeof(r[0]));
		*n -= j - i - 1;
	}
	r[i].base = base;
	r[i].size = end - base;
}

enum dtb_reg_dest { DTB_REG_MEM, DTB_REG_RSV };

/*
 * range_add: records one decoded (base, size) pair.
 * => returns -EINVAL if it wraps the 64-bit space, else 0.
 */
static int
range_add(struct dtb_info *out, enum dtb_reg_dest dest, uint64_t base,
    uint64_t size)
{
	if (size == 0)
		return 0;
	if (size > UINT64_MAX - base)
		return -EINVAL;
	if (dest == DTB_REG_MEM) {
		mem_insert(out->mem, &out->nmem, DTB_MAX_MEM, base, size,
		    &out->truncated);
	} else if (out->nrsv == DTB_MAX_RSV) {
		out->truncated = true;
	} else {
		out->rsv[out->nrsv].base = base;
		out->rsv[out->nrsv].size = size;
		out->nrsv++;
	}
	return 0;
}

/*
 * reg_decode: records every (address, size) entry of a reg property, with
 * the cell counts of the node's parent.
 * => returns 0, or -EINVAL for cell counts outside 1..2, a length that is
 *    not a whole number of entries, or a wrapping range.
 */
static int
reg_decode(struct dtb_info *out, const struct dtb_frame *parent,
    struct dtb_val reg, enum dtb_reg_dest dest)
{
	uint32_t ac = parent->acells, sc = parent->scells, esz;
	int err;

	if (reg.p == NULL)
		return 0;
	if (ac < 1 || ac > 2 || sc < 1 || sc > 2)
		return -EINVAL;
	esz = 4 * (ac + sc);
	if (reg.len % esz != 0)
		return -EINVAL;
	for (uint32_t off = 0; off < reg.len; off += esz) {
		err = range_add(out, dest, cells_read(reg.p + off, ac),
		    cells_read(reg.p + off + 4 * ac, sc));
		if (err != 0)
			return err;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Nodes.                                                              */

/*
 * cpu_finish: acts on a child of /cpus once its properties are known.
 * => parent is /cpus.  Returns 0 or -EINVAL (bad reg, bad timebase).
 */
static int
cpu_finish(struct dtb_walk *w, const struct dtb_frame *parent)
{
	struct dtb_info *out = w->out;
	const struct dtb_props *c = &w->cur;
	uint32_t ac = parent->acells;
	uint64_t hartid, tbf;

	if (!val_streq(c->device_type, "cpu"))
		return 0;	/* cpu-map and friends */
	out->ncpus_total++;
	if (!status_ok(c->status))
		return 0;
	if (ac < 1 || ac > 2 || c->reg.p == NULL || c->reg.len < 4 * ac)
		return -EINVAL;
	hartid = cells_read(c->reg.p, ac);
	if (hartid != (unsigned long)hartid)
		return -EINVAL;
	if (c->tbf.p != NULL) {
		if (val_u64(c->tbf, &tbf) != 0)
			return -EINVAL;
		if (out->timebase_freq == 0)
			out->timebase_freq = tbf;
	}
	if (out->ncpus == DTB_MAX_CPUS) {
		out->truncated = true;
		return 0;
	}
	out->hartids[out->ncpus++] = (unsigned long)hartid;
	if (!w->have_cpu) {
		w->have_cpu = true;
		val_strcpy(out->isa, sizeof(out->isa), c->isa);
		val_strcpy(out->mmu_type, sizeof(out->mmu_type), c->mmu);
	}
	return 0;
}

/*
 * node_finish: acts on the innermost open node, whose properties are now
 * all known (a subnode begins or the node ends).
 * => w->depth >= 1, the node is not done yet.
 */
static int
node_finish(struct dtb_walk *w)
{
	struct dtb_frame *f = &w->stack[w->depth - 1];
	const struct dtb_frame *parent = w->depth >= 2 ?
	    &w->stack[w->depth - 2] : NULL;
	const struct dtb_props *c = &w->cur;

	f->done = true;
	switch (f->kind) {
	case DTB_K_TOP:
		if (!val_streq(c->device_type, "memory") ||
		    !status_ok(c->status))
			return 0;
		return reg_decode(w->out, parent, c->reg, DTB_REG_MEM);
	case DTB_K_RESCHILD:
		if (!status_ok(c->status))
			return 0;
		return reg_decode(w->out, parent, c->reg, DTB_REG_RSV);
	case DTB_K_CPU:
		return cpu_finish(w, parent);
	default:
		if (parent != NULL && c->reg.p != NULL &&
		    w->out->finisher == 0 && compat_has(c->compat, "sifive,test0") &&
		    parent->acells >= 1 && parent->acells <= 2 &&
		    c->reg.len >= 4 * parent->acells)
			w->out->finisher = cells_read(c->reg.p, parent->acells);
		return 0;
	}
}

/*
 * node_begin: opens a node called name[0..len).
 * => returns 0, or -EINVAL if nesting is too deep or a second root begins.
 */
static int
node_begin(struct dtb_walk *w, const char *name, size_t len)
{
	struct dtb_frame *f;
	enum dtb_kind kind = DTB_K_OTHER;
	int err;

	if (w->root_closed || w->depth == DTB_MAX_DEPTH)
		return -EINVAL;
	if (w->depth == 0) {
		kind = DTB_K_ROOT;
	} else {
		f = &w->stack[w->depth - 1];
		if (!f->done && (err = node_finish(w)) != 0)
			return err;
		f->had_child = true;
		switch (f->kind) {
		case DTB_K_ROOT:
			if (name_is(name, len, "cpus"))
				kind = DTB_K_CPUS;
			else if (name_is(name, len, "chosen"))
				kind = DTB_K_CHOSEN;
			else if (name_is(name, len, "reserved-memory"))
				kind = DTB_K_RESMEM;
			else
				kind = DTB_K_TOP;
			break;
		case DTB_K_CPUS:
			kind = DTB_K_CPU;
			break;
		case DTB_K_RESMEM:
			kind = DTB_K_RESCHILD;
			break;
		default:
			break;
		}
	}
	f = &w->stack[w->depth++];
	f->acells = 2;
	f->scells = 1;
	f->kind = (uint8_t)kind;
	f->done = false;
	f->had_child = false;
	memset(&w->cur, 0, sizeof(w->cur));
	return 0;
}

/* node_end: closes the innermost node.  => returns 0 or -EINVAL. */
static int
node_end(struct dtb_walk *w)
{
	int err;

	if (w->depth == 0)
		return -EINVAL;
	if (!w->stack[w->depth - 1].done && (err = node_finish(w)) != 0)
		return err;
	if (--w->depth == 0)
		w->root_closed = true;
	return 0;
}

/*
 * node_prop: one property of the innermost open node.
 * => name is NUL-terminated; v.p has v.len readable bytes.
 * => returns 0, or -EINVAL (outside any node, after a subnode, a cell
 *    count or number of the wrong size).
 */
static int
node_prop(struct dtb_walk *w, const char *name, struct dtb_val v)
{
	struct dtb_frame *f;
	struct dtb_props *c = &w->cur;
	struct dtb_info *out = w->out;

	if (w->depth == 0)
		return -EINVAL;
	f = &w->stack[w->depth - 1];
	if (f->had_child)
		return -EINVAL;

	if (strcmp(name, "#address-cells") == 0) {
		if (v.len != 4)
			return -EINVAL;
		f->acells = be32(v.p);
		return 0;
	}
	if (strcmp(name, "#size-cells") == 0) {
		if (v.len != 4)
			return -EINVAL;
		f->scells = be32(v.p);
		return 0;
	}

	switch (f->kind) {
	case DTB_K_CPUS:
		if (strcmp(name, "timebase-frequency") == 0)
			return val_u64(v, &out->timebase_freq);
		return 0;
	case DTB_K_CHOSEN:
		if (strcmp(name, "bootargs") == 0)
			val_strcpy(out->bootargs, sizeof(out->bootargs), v);
		else if (strcmp(name, "linux,initrd-start") == 0)
			return val_u64(v, &out->initrd_start);
		else if (strcmp(name, "linux,initrd-end") == 0)
			return val_u64(v, &out->initrd_end);
		return 0;
	case DTB_K_TOP:
	case DTB_K_CPU:
	case DTB_K_RESCHILD:
		if (strcmp(name, "device_type") == 0)
			c->device_type = v;
		else if (strcmp(name, "status") == 0)
			c->status = v;
		else if (strcmp(name, "reg") == 0)
			c->reg = v;
		else if (strcmp(name, "riscv,isa") == 0)
			c->isa = v;
		else if (strcmp(name, "mmu-type") == 0)
			c->mmu = v;
		else if (strcmp(name, "timebase-frequency") == 0)
			c->tbf = v;
		return 0;
	default:
		if (strcmp(name, "compatible") == 0)
			c->compat = v;
		else if (strcmp(name, "reg") == 0)
			c->reg = v;
		return 0;
	}
}

/* ------------------------------------------------------------------ */
/* The walk.                                                           */

/* st_take: n bytes at the cursor, or NULL if fewer remain. */
static const uint8_t *
st_take(struct dtb_walk *w, uint32_t n)
{
	const uint8_t *p;

	if (n > w->st_size - w->pos)
		return NULL;
	p = w->st + w->pos;
	w->pos += n;
	return p;
}

/*
 * st_name: the NUL-terminated name at the cursor, cursor moved past it and
 * its padding.  => returns NULL if the NUL or the padding is missing.
 */
static const char *
st_name(struct dtb_walk *w, size_t *lenp)
{
	const char *name = (const char *)w->st + w->pos;
	const char *nul = memchr(name, '\0', w->st_size - w->pos);
	size_t len;

	if (nul == NULL)
		return NULL;
	len = (size_t)(nul - name);
	/* len + 1 <= st_size - pos, so the rounded length fits in 32 bits. */
	if (st_take(w, ((uint32_t)len + 4) & ~3u) == NULL)
		return NULL;
	*lenp = len;
	return name;
}

/*
 * prop_name: the property name at nameoff in the strings block.
 * => returns NULL if the offset or its NUL lies outside the block.
 */
static const char *
prop_name(const struct dtb_walk *w, uint32_t off)
{
	if (off >= w->strs_size)
		return NULL;
	if (memchr(w->strs + off, '\0', w->strs_size - off) == NULL)
		return NULL;
	return (const char *)w->strs + off;
}

/*
 * walk_struct: the token loop.
 * => returns 0 once END follows the closed root, else -EINVAL.
 */
static int
walk_struct(struct dtb_walk *w)
{
	const uint8_t *p;
	const char *name;
	struct dtb_val v;
	size_t len;
	int err;

	for (;;) {
		if ((p = st_take(w, 4)) == NULL)
			return -EINVAL;	/* ran off the block: no END */
		switch (be32(p)) {
		case FDT_BEGIN_NODE:
			if ((name = st_name(w, &len)) == NULL)
				return -EINVAL;
			err = node_begin(w, name, len);
			break;
		case FDT_END_NODE:
			err = node_end(w);
			break;
		case FDT_PROP:
			if ((p = st_take(w, 8)) == NULL)
				return -EINVAL;
			v.len = be32(p);
			if ((name = prop_name(w, be32(p + 4))) == NULL ||
			    (v.p = st_take(w, v.len)) == NULL ||
			    st_take(w, -v.len & 3u) == NULL)
				return -EINVAL;
			err = node_prop(w, name, v);
			break;
		case FDT_NOP:
			err = 0;
			break;
		case FDT_END:
			return w->root_closed ? 0 : -EINVAL;
		default:
			return -EINVAL;
		}
		if (err != 0)
			return err;
	}
}

/*
 * parse_rsvmap: the memreserve block, entries until the (0, 0) one.
 * => b has totalsize readable bytes; off <= totalsize.
 */
static int
parse_rsvmap(struct dtb_info *out, const uint8_t *b, uint32_t totalsize,
    uint32_t off)
{
	uint64_t base, size;
	int err;

	for (;; off += 16) {
		if (totalsize - off < 16)
			return -EINVAL;
		base = be64(b + off);
		size = be64(b + off + 8);
		if (base == 0 && size == 0)
			return 0;
		if ((err = range_add(out, DTB_REG_RSV, base, size)) != 0)
			return err;
	}
}

/*
 * block_ok: [off, off + size) lies after the header and inside totalsize,
 * and off is a multiple of align.
 */
static bool
block_ok(uint32_t off, uint32_t size, uint32_t totalsize, uint32_t align)
{
	return off >= DTB_HEADER_SIZE && off <= totalsize &&
	    size <= totalsize - off && off % align == 0;
}

/*
 * dtb_parse: see dtb.h.
 */
int
dtb_parse(const void *blob, size_t maxlen, struct dtb_info *out)
{
	const uint8_t *b = blob;
	struct dtb_walk w;
	uint32_t totalsize, off_st, off_str, off_rsv;
	int err;

	if (out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (b == NULL || maxlen < DTB_HEADER_SIZE)
		return -EINVAL;
	totalsize = be32(b + FDT_H_TOTALSIZE);
	off_st = be32(b + FDT_H_OFF_STRUCT);
	off_str = be32(b + FDT_H_OFF_STRINGS);
	off_rsv = be32(b + FDT_H_OFF_RSVMAP);
	if (be32(b + FDT_H_MAGIC) != DTB_MAGIC ||
	    be32(b + FDT_H_VERSION) < FDT_VERSION ||
	    be32(b + FDT_H_LAST_COMP) > FDT_VERSION ||
	    totalsize < DTB_HEADER_SIZE || totalsize > maxlen)
		return -EINVAL;

	memset(&w, 0, sizeof(w));
	w.st_size = be32(b + FDT_H_SIZE_STRUCT);
	w.strs_size = be32(b + FDT_H_SIZE_STRINGS);
	if (!block_ok(off_st, w.st_size, totalsize, 4) ||
	    !block_ok(off_str, w.strs_size, totalsize, 1) ||
	    !block_ok(off_rsv, 0, totalsize, 8))
		return -EINVAL;
	w.st = b + off_st;
	w.strs = b + off_str;
	w.out = out;
	out->totalsize = totalsize;

	if ((err = parse_rsvmap(out, b, totalsize, off_rsv)) != 0 ||
	    (err = walk_struct(&w)) != 0) {
		memset(out, 0, sizeof(*out));
		return err;
	}
	return 0;
}

/*
 * dtb_totalsize: see dtb.h.
 */
uint32_t
dtb_totalsize(const void *blob)
{
	const uint8_t *b = blob;

	if (be32(b + FDT_H_MAGIC) != DTB_MAGIC)
		return 0;
	return be32(b + FDT_H_TOTALSIZE);
}
