/*
 * test_dtb.c: the flattened-device-tree parser (hal/riscv64/dtb.c).
 *
 * Blobs come from tests/dtb/ (built at build time, linked in .rodata):
 *
 *	qemu_<mem>_<smp>	dumped by qemu-system-riscv64 -M virt: the
 *				real thing, checked against -m and -smp
 *	sparse, wide		hand-written (see the .dts files for what
 *				each exercises); exact values checked here
 *	bad			sparse with a property running off the end
 *
 * Then hand-made mutations of valid blobs (header fields, structure and
 * strings blocks), tiny trees built here token by token (nesting, cell
 * counts, ordering rules), and a deterministic fuzz loop over flipped
 * bytes.  Every parse of a copy places the blob at the very end of a static
 * buffer, so on the host AddressSanitizer catches a read past maxlen.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "hal/riscv64/dtb.h"
#include "lib/rand.h"
#include "tests/ktest.h"

#define DTB_BLOB(n) \
	extern const uint8_t dtb_blob_##n##_start[], dtb_blob_##n##_end[]
DTB_BLOB(qemu_128m_1);
DTB_BLOB(qemu_1g_4);
DTB_BLOB(qemu_4g_8);
DTB_BLOB(qemu_256m_2);
DTB_BLOB(sparse);
DTB_BLOB(wide);
DTB_BLOB(bad);

struct blob {
	const uint8_t *p;
	size_t len;
};

#define BLOB(n) \
	((struct blob){ dtb_blob_##n##_start, \
	    (size_t)(dtb_blob_##n##_end - dtb_blob_##n##_start) })

#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* Header offsets (the FDT format, written down once more on purpose). */
#define H_TOTALSIZE 4
#define H_OFF_STRUCT 8
#define H_OFF_STRINGS 12
#define H_OFF_RSVMAP 16
#define H_VERSION 20
#define H_LAST_COMP 24
#define H_SIZE_STRINGS 32
#define H_SIZE_STRUCT 36

/* Copies of blobs end exactly at the end of this buffer. */
static uint8_t scratch[16384] __attribute__((aligned(8)));
static struct dtb_info info;

static uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | p[3];
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * to_scratch: copies the first len bytes of src to the end of scratch.
 * => returns the copy, or NULL (and fails the case) if it does not fit.
 */
static uint8_t *
to_scratch(const void *src, size_t len)
{
	uint8_t *p;

	if (len > sizeof(scratch)) {
		KT_FAIL("blob of %zu bytes does not fit in scratch", len);
		return NULL;
	}
	p = scratch + sizeof(scratch) - len;
	memcpy(p, src, len);
	return p;
}

/* parse_copy: parses a copy of b's first len bytes with maxlen = len. */
static int
parse_copy(struct blob b, size_t len)
{
	const uint8_t *p = to_scratch(b.p, len);

	return p != NULL ? dtb_parse(p, len, &info) : -ENOMEM;
}

static void
expect_range(const struct hal_mem_range *r, uint64_t base, uint64_t size)
{
	KT_EXPECT_EQ(r->base, base);
	KT_EXPECT_EQ(r->size, size);
}

/* A NUL inside each string field: the parser always terminates them. */
static bool
strings_terminated(const struct dtb_info *in)
{
	return memchr(in->isa, '\0', sizeof(in->isa)) != NULL &&
	    memchr(in->mmu_type, '\0', sizeof(in->mmu_type)) != NULL &&
	    memchr(in->bootargs, '\0', sizeof(in->bootargs)) != NULL;
}

/* ------------------------------------------------------------------ */
/* QEMU virt dumps.                                                     */

static void
check_qemu(struct blob b, uint64_t memsize, unsigned ncpu)
{
	unsigned want = ncpu < DTB_MAX_CPUS ? ncpu : DTB_MAX_CPUS;
	uint32_t total = dtb_totalsize(b.p);

	KT_ASSERT(total >= DTB_HEADER_SIZE && total <= b.len);
	/* dtbgen.py cuts QEMU's 1 MiB dump to totalsize rounded up to 8. */
	KT_EXPECT_LT(b.len - total, 8);
	KT_ASSERT_EQ(dtb_parse(b.p, b.len, &info), 0);
	/* And again with the exact bound, at the end of a buffer. */
	KT_ASSERT_EQ(parse_copy(b, total), 0);
	KT_EXPECT_EQ(info.totalsize, total);

	KT_EXPECT_EQ(info.nmem, 1);
	expect_range(&info.mem[0], 0x80000000u, memsize);
	KT_EXPECT_EQ(info.nrsv, 0);		/* -bios none: no firmware */

	KT_EXPECT_EQ(info.ncpus_total, ncpu);
	KT_ASSERT_EQ(info.ncpus, want);
	for (unsigned i = 0; i < want; i++)
		KT_EXPECT_EQ(info.hartids[i], i);
	KT_EXPECT_EQ(info.truncated, ncpu > DTB_MAX_CPUS);
	KT_EXPECT_EQ(info.timebase_freq, 10000000);
	KT_EXPECT(strncmp(info.isa, "rv64", 4) == 0);
	KT_EXPECT(strncmp(info.mmu_type, "riscv,sv", 8) == 0);
	KT_EXPECT_STREQ(info.bootargs, "");
	KT_EXPECT_EQ(info.initrd_start, 0);
	KT_EXPECT_EQ(info.initrd_end, 0);
	/* QEMU virt's test finisher: /soc/test@100000, "sifive,test0". */
	KT_EXPECT_EQ(info.finisher, 0x100000);
	KT_EXPECT(strings_terminated(&info));
	ktest_note("%u bytes, isa %s, mmu %s", total, info.isa, info.mmu_type);
}

KTEST(dtb, qemu_128m_1)
{
	check_qemu(BLOB(qemu_128m_1), 128 * MiB, 1);
}

KTEST(dtb, qemu_1g_4)
{
	check_qemu(BLOB(qemu_1g_4), 1 * GiB, 4);
}

KTEST(dtb, qemu_4g_8)
{
	check_qemu(BLOB(qemu_4g_8), 4 * GiB, 8);
}

KTEST(dtb, qemu_256m_2)
{
	check_qemu(BLOB(qemu_256m_2), 256 * MiB, 2);
}

/* ------------------------------------------------------------------ */
/* Hand-written trees (tests/dtb/sparse.dts, wide.dts).                */

KTEST(dtb, sparse_harts)
{
	static const unsigned long ids[] = { 0, 2, 5, 7 };
	unsigned want = DTB_MAX_CPUS < 4 ? DTB_MAX_CPUS : 4;

	KT_ASSERT_EQ(parse_copy(BLOB(sparse), BLOB(sparse).len), 0);
	KT_EXPECT_EQ(info.ncpus_total, 5);	/* cpu@3 is disabled */
	KT_ASSERT_EQ(info.ncpus, want);
	for (unsigned i = 0; i < want; i++)
		KT_EXPECT_EQ(info.hartids[i], ids[i]);
	KT_EXPECT_EQ(info.timebase_freq, 10000000);
	KT_EXPECT_STREQ(info.isa, "rv64imafdc_zicsr_zifencei");
	KT_EXPECT_STREQ(info.mmu_type, "riscv,sv39");
	KT_EXPECT_EQ(info.truncated, DTB_MAX_CPUS < 4);
}

KTEST(dtb, sparse_memory)
{
	KT_ASSERT_EQ(parse_copy(BLOB(sparse), BLOB(sparse).len), 0);
	/* Out of order, adjacent and overlapping entries; one disabled. */
	KT_ASSERT_EQ(info.nmem, 2);
	expect_range(&info.mem[0], 0x80000000u, 128 * MiB);
	expect_range(&info.mem[1], 0xc0000000u, 256 * MiB);
}

KTEST(dtb, sparse_reserved)
{
	KT_ASSERT_EQ(parse_copy(BLOB(sparse), BLOB(sparse).len), 0);
	/* memreserve first, then /reserved-memory (2/2 cells) in order. */
	KT_ASSERT_EQ(info.nrsv, 3);
	expect_range(&info.rsv[0], 0x80000000u, 2 * MiB);
	expect_range(&info.rsv[1], 0x80000000u, 256 * 1024);
	expect_range(&info.rsv[2], 0xc8000000u, 8 * MiB);
}

KTEST(dtb, sparse_chosen)
{
	KT_ASSERT_EQ(parse_copy(BLOB(sparse), BLOB(sparse).len), 0);
	KT_EXPECT_STREQ(info.bootargs, "suite=dtb seed=7 console=ttyS0");
	KT_EXPECT_EQ(info.initrd_start, 0x88000000u);
	KT_EXPECT_EQ(info.initrd_end, 0x88100000u);
	KT_EXPECT_EQ(info.totalsize, dtb_totalsize(BLOB(sparse).p));
}

KTEST(dtb, wide_cells)
{
	char want[sizeof(info.bootargs)];

	KT_ASSERT_EQ(parse_copy(BLOB(wide), BLOB(wide).len), 0);
	KT_EXPECT_EQ(info.ncpus_total, 3);
	if (DTB_MAX_CPUS >= 2) {
		KT_ASSERT_EQ(info.ncpus, 2);
		KT_EXPECT_EQ(info.hartids[0], 0x100000001ul);
		KT_EXPECT_EQ(info.hartids[1], 3);
	}
	/* From the first usable cpu, 64-bit; the disabled one's ignored. */
	KT_EXPECT_EQ(info.timebase_freq, 10000000);
	KT_EXPECT_STREQ(info.isa, "rv64gc");
	KT_EXPECT_STREQ(info.mmu_type, "");
	KT_EXPECT_EQ(info.initrd_start, 0x180000000ull);
	KT_EXPECT_EQ(info.initrd_end, 0x180400000ull);
	for (size_t i = 0; i < sizeof(want) - 1; i++)
		want[i] = (char)('0' + i % 10);
	want[sizeof(want) - 1] = '\0';
	KT_EXPECT_STREQ(info.bootargs, want);
	KT_ASSERT_EQ(info.nrsv, 2);
	expect_range(&info.rsv[0], 0x300000000ull, 4096);
	expect_range(&info.rsv[1], 0x300002000ull, 4096);
}

KTEST(dtb, wide_memory_truncated)
{
	KT_ASSERT_EQ(parse_copy(BLOB(wide), BLOB(wide).len), 0);
	KT_EXPECT(info.truncated);
	KT_ASSERT_EQ(info.nmem, DTB_MAX_MEM);
	/* 1 GiB at 2 GiB, then a late 1 GiB below it merged in. */
	expect_range(&info.mem[0], 0x40000000u, 2 * GiB);
	/* 4 GiB at 4 GiB and the adjacent node at 8 GiB. */
	expect_range(&info.mem[1], 0x100000000ull, 4 * GiB + 256 * MiB);
	/* The first of the eight 1 MiB ranges that fit. */
	for (unsigned i = 2; i < DTB_MAX_MEM; i++)
		expect_range(&info.mem[i], 0x300000000ull + (i - 2) * 2 * MiB,
		    1 * MiB);
}

/* ------------------------------------------------------------------ */
/* Malformed blobs and mutations.                                      */

/* expect_einval: parse fails and leaves *out zeroed. */
#define EXPECT_EINVAL(p, len)                                                 \
	do {                                                                  \
		memset(&info, 0xa5, sizeof(info));                            \
		KT_EXPECT_EQ(dtb_parse((p), (len), &info), -EINVAL);          \
		KT_EXPECT_EQ(info.totalsize, 0);                              \
		KT_EXPECT_EQ(info.nmem + info.nrsv + info.ncpus, 0);          \
	} while (0)

/* fresh: a new copy of sparse at the end of scratch. */
static uint8_t *
fresh(void)
{
	return to_scratch(BLOB(sparse).p, BLOB(sparse).len);
}

KTEST(dtb, malformed_blob)
{
	struct blob b = BLOB(bad);

	KT_EXPECT_EQ(dtb_totalsize(b.p), get32(b.p + H_TOTALSIZE));
	EXPECT_EINVAL(b.p, b.len);
	KT_ASSERT(to_scratch(b.p, b.len) != NULL);
	EXPECT_EINVAL(scratch + sizeof(scratch) - b.len, b.len);
}

KTEST(dtb, bad_args)
{
	struct blob b = BLOB(sparse);

	KT_EXPECT_EQ(dtb_parse(NULL, 4096, &info), -EINVAL);
	KT_EXPECT_EQ(dtb_parse(b.p, b.len, NULL), -EINVAL);
	EXPECT_EINVAL(b.p, 0);
	EXPECT_EINVAL(b.p, DTB_HEADER_SIZE - 1);
}

KTEST(dtb, bad_magic)
{
	uint8_t *p;

	KT_ASSERT((p = fresh()) != NULL);
	p[3] ^= 0x01;
	KT_EXPECT_EQ(dtb_totalsize(p), 0);
	EXPECT_EINVAL(p, BLOB(sparse).len);
}

KTEST(dtb, maxlen_short)
{
	struct blob b = BLOB(sparse);
	uint32_t total = dtb_totalsize(b.p);

	KT_ASSERT(total == b.len);	/* dtc does not pad */
	KT_EXPECT_EQ(parse_copy(b, total), 0);
	KT_EXPECT_EQ(parse_copy(b, total - 1), -EINVAL);
	KT_EXPECT_EQ(parse_copy(b, DTB_HEADER_SIZE), -EINVAL);
	/* A larger bound is fine: totalsize is what is used. */
	KT_EXPECT_EQ(dtb_parse(b.p, SIZE_MAX, &info), 0);
}

KTEST(dtb, bad_header)
{
	size_t len = BLOB(sparse).len;
	uint32_t off_st, off_str, off_rsv;
	uint8_t *p;

	KT_ASSERT((p = fresh()) != NULL);
	off_st = get32(p + H_OFF_STRUCT);
	off_str = get32(p + H_OFF_STRINGS);
	off_rsv = get32(p + H_OFF_RSVMAP);

	put32(p + H_VERSION, 16);
	EXPECT_EINVAL(p, len);
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + H_LAST_COMP, 18);
	EXPECT_EINVAL(p, len);
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + H_TOTALSIZE, DTB_HEADER_SIZE - 1);
	EXPECT_EINVAL(p, len);
	/* totalsize cut before the strings block ends. */
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + H_TOTALSIZE, off_str + 1);
	EXPECT_EINVAL(p, len);
	/* Misaligned blocks. */
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + H_OFF_RSVMAP, off_rsv + 4);
	EXPECT_EINVAL(p, len);
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + H_OFF_STRUCT, off_st + 2);
	EXPECT_EINVAL(p, len);
	/* Blocks over the header or past the end. */
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + H_OFF_STRUCT, 0);
	EXPECT_EINVAL(p, len);
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + H_OFF_STRUCT, 0xfffffff0u);
	EXPECT_EINVAL(p, len);
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + H_SIZE_STRUCT, 0xffffffffu - off_st + 8);	/* wraps */
	EXPECT_EINVAL(p, len);
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + H_SIZE_STRINGS, (uint32_t)len - off_str + 1);
	EXPECT_EINVAL(p, len);
	/* The memreserve block with no room for its terminator. */
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + H_OFF_RSVMAP, (uint32_t)(len & ~(size_t)7));
	EXPECT_EINVAL(p, len);
	/* A fresh copy still parses: each case above changed one thing. */
	KT_ASSERT((p = fresh()) != NULL);
	KT_EXPECT_EQ(dtb_parse(p, len, &info), 0);
}

KTEST(dtb, truncated_struct)
{
	size_t len = BLOB(sparse).len;
	uint32_t off_st, size_st;
	uint8_t *p;

	KT_ASSERT((p = fresh()) != NULL);
	off_st = get32(p + H_OFF_STRUCT);
	size_st = get32(p + H_SIZE_STRUCT);
	KT_ASSERT_EQ(get32(p + off_st + size_st - 4), 9);	/* FDT_END */

	/* Without its END token. */
	put32(p + H_SIZE_STRUCT, size_st - 4);
	EXPECT_EINVAL(p, len);
	/* Cut in the middle of the tree, and inside a token. */
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + H_SIZE_STRUCT, size_st / 2);
	EXPECT_EINVAL(p, len);
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + H_SIZE_STRUCT, (size_st / 2) | 2);
	EXPECT_EINVAL(p, len);
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + H_SIZE_STRUCT, 0);
	EXPECT_EINVAL(p, len);
	/* END replaced by a NOP; by an unknown token. */
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + off_st + size_st - 4, 4);
	EXPECT_EINVAL(p, len);
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + off_st + size_st - 4, 0x77);
	EXPECT_EINVAL(p, len);
	/* The root's END_NODE gone: END arrives inside the root. */
	KT_ASSERT((p = fresh()) != NULL);
	KT_ASSERT_EQ(get32(p + off_st + size_st - 8), 2);
	put32(p + off_st + size_st - 8, 4);
	EXPECT_EINVAL(p, len);
	/* The root's name without its NUL up to the end of the block. */
	KT_ASSERT((p = fresh()) != NULL);
	KT_ASSERT_EQ(get32(p + off_st), 1);
	memset(p + off_st + 4, 'x', size_st - 4);
	EXPECT_EINVAL(p, len);
}

KTEST(dtb, string_offset)
{
	size_t len = BLOB(sparse).len;
	uint32_t off_st, size_str, prop;
	uint8_t *p;

	KT_ASSERT((p = fresh()) != NULL);
	off_st = get32(p + H_OFF_STRUCT);
	size_str = get32(p + H_SIZE_STRINGS);
	/* The root's name is "": its first property follows at +8. */
	prop = off_st + 8;
	KT_ASSERT_EQ(get32(p + off_st), 1);
	KT_ASSERT_EQ(get32(p + prop), 3);

	put32(p + prop + 8, size_str);
	EXPECT_EINVAL(p, len);
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + prop + 8, 0xffffffffu);
	EXPECT_EINVAL(p, len);
	/* The last name loses its NUL: the strings block is cut by one. */
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + H_SIZE_STRINGS, size_str - 1);
	EXPECT_EINVAL(p, len);
	/* A value length past the block, and one that wraps with padding. */
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + prop + 4, 0x7ffffff0u);
	EXPECT_EINVAL(p, len);
	KT_ASSERT((p = fresh()) != NULL);
	put32(p + prop + 4, 0xffffffffu);
	EXPECT_EINVAL(p, len);
}

/* ------------------------------------------------------------------ */
/* Tiny trees built token by token.                                    */

struct fdtw {
	uint8_t st[2048];
	uint32_t nst;
	char str[256];
	uint32_t nstr;
	bool overflow;
};

static void
w_bytes(struct fdtw *w, const void *p, uint32_t n)
{
	if (n > sizeof(w->st) - w->nst) {
		w->overflow = true;
		return;
	}
	memcpy(w->st + w->nst, p, n);
	w->nst += n;
	while (w->nst % 4 != 0 && w->nst < sizeof(w->st))
		w->st[w->nst++] = 0;
}

static void
w_u32(struct fdtw *w, uint32_t v)
{
	uint8_t b[4];

	put32(b, v);
	w_bytes(w, b, 4);
}

static void
w_begin(struct fdtw *w, const char *name)
{
	w_u32(w, 1);
	w_bytes(w, name, (uint32_t)strlen(name) + 1);
}

static void
w_end(struct fdtw *w)
{
	w_u32(w, 2);
}

static void
w_prop(struct fdtw *w, const char *name, const void *val, uint32_t len)
{
	uint32_t off = 0;
	size_t n = strlen(name) + 1;

	/* Reuse a name already in the strings block. */
	while (off < w->nstr && strcmp(w->str + off, name) != 0)
		off += (uint32_t)strlen(w->str + off) + 1;
	if (off == w->nstr) {
		if (n > sizeof(w->str) - w->nstr) {
			w->overflow = true;
			return;
		}
		memcpy(w->str + w->nstr, name, n);
		w->nstr += (uint32_t)n;
	}
	w_u32(w, 3);
	w_u32(w, len);
	w_u32(w, off);
	if (len > 0)
		w_bytes(w, val, len);
}

/* w_rawprop: a property whose len says `len` but n bytes follow. */
static void
w_rawprop(struct fdtw *w, const char *name, uint32_t len, const void *val,
    uint32_t n)
{
	w_prop(w, name, NULL, 0);
	put32(w->st + w->nst - 8, len);
	w_bytes(w, val, n);
}

static void
w_str(struct fdtw *w, const char *name, const char *s)
{
	w_prop(w, name, s, (uint32_t)strlen(s) + 1);
}

/* w_cells: a property of n 32-bit cells (n <= 8). */
static void
w_cells(struct fdtw *w, const char *name, unsigned n, const uint32_t *c)
{
	uint8_t b[32];

	for (unsigned i = 0; i < n && i < 8; i++)
		put32(b + 4 * i, c[i]);
	w_prop(w, name, b, 4 * (n < 8 ? n : 8));
}

static void
w_u32prop(struct fdtw *w, const char *name, uint32_t v)
{
	w_cells(w, name, 1, &v);
}

/*
 * w_finish_at: header, rsv_pad zero bytes, an empty memreserve block,
 * st_pad zero bytes, structure (plus END), strings, at the end of scratch.
 * => returns the blob and its length.
 */
static uint8_t *
w_finish_at(struct fdtw *w, uint32_t rsv_pad, uint32_t st_pad, size_t *lenp)
{
	uint32_t off_rsv = DTB_HEADER_SIZE + rsv_pad;
	uint32_t off_st = off_rsv + 16 + st_pad, total;
	uint8_t *p;

	w_u32(w, 9);
	total = off_st + w->nst + w->nstr;
	if (w->overflow || total > sizeof(scratch)) {
		KT_FAIL("synthetic tree too large");
		return NULL;
	}
	p = scratch + sizeof(scratch) - total;
	memset(p, 0, off_st);
	put32(p, DTB_MAGIC);
	put32(p + H_TOTALSIZE, total);
	put32(p + H_OFF_STRUCT, off_st);
	put32(p + H_OFF_STRINGS, off_st + w->nst);
	put32(p + H_OFF_RSVMAP, off_rsv);
	put32(p + H_VERSION, 17);
	put32(p + H_LAST_COMP, 16);
	put32(p + H_SIZE_STRINGS, w->nstr);
	put32(p + H_SIZE_STRUCT, w->nst);
	memcpy(p + off_st, w->st, w->nst);
	memcpy(p + off_st + w->nst, w->str, w->nstr);
	*lenp = total;
	return p;
}

/* w_finish: the blocks at their natural places (rsvmap at 40, struct 56). */
static uint8_t *
w_finish(struct fdtw *w, size_t *lenp)
{
	return w_finish_at(w, 0, 0, lenp);
}

static struct fdtw wr;

static void
w_reset(void)
{
	memset(&wr, 0, sizeof(wr));
}

/* A root with one memory node whose parent has the given cells. */
static uint8_t *
w_memtree(uint32_t ac, uint32_t sc, const uint32_t *reg, unsigned nreg,
    size_t *lenp)
{
	w_reset();
	w_begin(&wr, "");
	w_u32prop(&wr, "#address-cells", ac);
	w_u32prop(&wr, "#size-cells", sc);
	w_begin(&wr, "memory@0");
	w_str(&wr, "device_type", "memory");
	w_cells(&wr, "reg", nreg, reg);
	w_end(&wr);
	w_end(&wr);
	return w_finish(&wr, lenp);
}

KTEST(dtb, synthetic_minimal)
{
	static const uint32_t reg[] = { 0x1, 0x0, 0x2000 };
	uint8_t *p;
	size_t len;

	/* A lone root: everything empty. */
	w_reset();
	w_begin(&wr, "");
	w_end(&wr);
	KT_ASSERT((p = w_finish(&wr, &len)) != NULL);
	KT_ASSERT_EQ(dtb_parse(p, len, &info), 0);
	KT_EXPECT_EQ(info.ncpus + info.nmem + info.nrsv, 0);
	KT_EXPECT_EQ(info.timebase_freq, 0);
	KT_EXPECT_STREQ(info.isa, "");

	/* Default cells (2/1) when the root does not say. */
	w_reset();
	w_begin(&wr, "");
	w_begin(&wr, "memory");
	w_str(&wr, "device_type", "memory");
	w_cells(&wr, "reg", 3, reg);
	w_end(&wr);
	/* bootargs without a NUL: copied up to the value's end, not on
	 * into the padding. */
	w_begin(&wr, "chosen");
	w_rawprop(&wr, "bootargs", 3, "abcd", 4);
	w_end(&wr);
	w_end(&wr);
	KT_ASSERT((p = w_finish(&wr, &len)) != NULL);
	KT_ASSERT_EQ(dtb_parse(p, len, &info), 0);
	KT_ASSERT_EQ(info.nmem, 1);
	expect_range(&info.mem[0], 0x100000000ull, 0x2000);
	KT_EXPECT_STREQ(info.bootargs, "abc");
}

KTEST(dtb, synthetic_alignment)
{
	static const struct {
		uint32_t rsv_pad, st_pad;
		int rc;
	} c[] = {
		{ 0, 0, 0 }, { 8, 0, 0 }, { 0, 4, 0 }, { 8, 12, 0 },
		{ 4, 0, -EINVAL },	/* memreserve block at 44 */
		{ 0, 2, -EINVAL },	/* structure block at 58 */
		{ 0, 1, -EINVAL },
	};
	uint8_t *p;
	size_t len;

	/* Well-formed blocks; only their alignment differs. */
	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		w_reset();
		w_begin(&wr, "");
		w_begin(&wr, "chosen");
		w_str(&wr, "bootargs", "x");
		w_end(&wr);
		w_end(&wr);
		p = w_finish_at(&wr, c[i].rsv_pad, c[i].st_pad, &len);
		KT_ASSERT(p != NULL);
		KT_EXPECT_EQ(dtb_parse(p, len, &info), c[i].rc);
		if (c[i].rc == 0)
			KT_EXPECT_STREQ(info.bootargs, "x");
	}
}

KTEST(dtb, synthetic_depth)
{
	uint8_t *p;
	size_t len;

	for (unsigned depth = 30; depth <= 34; depth++) {
		w_reset();
		for (unsigned i = 0; i < depth; i++)
			w_begin(&wr, i == 0 ? "" : "n");
		for (unsigned i = 0; i < depth; i++)
			w_end(&wr);
		KT_ASSERT((p = w_finish(&wr, &len)) != NULL);
		/* DTB_MAX_DEPTH (32) open nodes, root included. */
		KT_EXPECT_EQ(dtb_parse(p, len, &info),
		    depth <= 32 ? 0 : -EINVAL);
	}
	/* A second root after the first closed. */
	w_reset();
	w_begin(&wr, "");
	w_end(&wr);
	w_begin(&wr, "");
	w_end(&wr);
	KT_ASSERT((p = w_finish(&wr, &len)) != NULL);
	EXPECT_EINVAL(p, len);
	/* An END_NODE too many. */
	w_reset();
	w_begin(&wr, "");
	w_end(&wr);
	w_end(&wr);
	KT_ASSERT((p = w_finish(&wr, &len)) != NULL);
	EXPECT_EINVAL(p, len);
	/* A property after a subnode. */
	w_reset();
	w_begin(&wr, "");
	w_begin(&wr, "a");
	w_end(&wr);
	w_u32prop(&wr, "late", 1);
	w_end(&wr);
	KT_ASSERT((p = w_finish(&wr, &len)) != NULL);
	EXPECT_EINVAL(p, len);
}

KTEST(dtb, synthetic_cells)
{
	static const uint32_t reg2[] = { 0x0, 0x80000000, 0x0, 0x1000 };
	static const uint32_t wrap[] = { 0xffffffff, 0xfffff000, 0x0, 0x1000 };
	static const uint32_t reg3[] = { 0x0, 0x0, 0x80000000, 0x0, 0x1000 };
	static const uint32_t pair[] = { 0x0, 0x0 };
	uint8_t *p;
	size_t len;

	KT_ASSERT((p = w_memtree(2, 2, reg2, 4, &len)) != NULL);
	KT_EXPECT_EQ(dtb_parse(p, len, &info), 0);
	KT_EXPECT_EQ(info.nmem, 1);
	/* base + size reaches 2^64. */
	KT_ASSERT((p = w_memtree(2, 2, wrap, 4, &len)) != NULL);
	EXPECT_EINVAL(p, len);
	/* Not a whole number of entries. */
	KT_ASSERT((p = w_memtree(2, 2, reg2, 3, &len)) != NULL);
	EXPECT_EINVAL(p, len);
	/* Three address cells cannot be represented... */
	KT_ASSERT((p = w_memtree(3, 2, reg3, 5, &len)) != NULL);
	EXPECT_EINVAL(p, len);
	/* ...nor zero size cells for memory. */
	KT_ASSERT((p = w_memtree(2, 0, reg2, 2, &len)) != NULL);
	EXPECT_EINVAL(p, len);
	/* An empty reg is no memory, not an error. */
	KT_ASSERT((p = w_memtree(2, 2, reg2, 0, &len)) != NULL);
	KT_EXPECT_EQ(dtb_parse(p, len, &info), 0);
	KT_EXPECT_EQ(info.nmem, 0);

	/* Three cells are fine on nodes rvmm does not decode (PCI). */
	w_reset();
	w_begin(&wr, "");
	w_begin(&wr, "pci@30000000");
	w_u32prop(&wr, "#address-cells", 3);
	w_begin(&wr, "dev@0");
	w_cells(&wr, "reg", 5, reg3);
	w_end(&wr);
	w_end(&wr);
	w_end(&wr);
	KT_ASSERT((p = w_finish(&wr, &len)) != NULL);
	KT_EXPECT_EQ(dtb_parse(p, len, &info), 0);

	/* #address-cells of the wrong size. */
	w_reset();
	w_begin(&wr, "");
	w_cells(&wr, "#address-cells", 2, pair);
	w_end(&wr);
	KT_ASSERT((p = w_finish(&wr, &len)) != NULL);
	EXPECT_EINVAL(p, len);

	/* A usable cpu without reg; a timebase of 3 bytes. */
	w_reset();
	w_begin(&wr, "");
	w_begin(&wr, "cpus");
	w_u32prop(&wr, "#address-cells", 1);
	w_u32prop(&wr, "#size-cells", 0);
	w_begin(&wr, "cpu@0");
	w_str(&wr, "device_type", "cpu");
	w_end(&wr);
	w_end(&wr);
	w_end(&wr);
	KT_ASSERT((p = w_finish(&wr, &len)) != NULL);
	EXPECT_EINVAL(p, len);
	w_reset();
	w_begin(&wr, "");
	w_begin(&wr, "cpus");
	w_prop(&wr, "timebase-frequency", "\1\2\3", 3);
	w_end(&wr);
	w_end(&wr);
	KT_ASSERT((p = w_finish(&wr, &len)) != NULL);
	EXPECT_EINVAL(p, len);
}

/* ------------------------------------------------------------------ */
/* Fuzz.                                                                */

/*
 * check_sane: what must hold after any successful parse.
 */
static void
check_sane(const struct dtb_info *in, size_t len)
{
	KT_EXPECT_LE(in->totalsize, len);
	KT_EXPECT_LE(in->ncpus, DTB_MAX_CPUS);
	KT_EXPECT_LE(in->ncpus, in->ncpus_total);
	KT_EXPECT_LE(in->nmem, DTB_MAX_MEM);
	KT_EXPECT_LE(in->nrsv, DTB_MAX_RSV);
	KT_EXPECT(strings_terminated(in));
	for (unsigned i = 0; i < in->nmem && i < DTB_MAX_MEM; i++) {
		KT_EXPECT_NE(in->mem[i].size, 0);
		KT_EXPECT_GE(UINT64_MAX - in->mem[i].base, in->mem[i].size);
		/* Sorted, disjoint and not even touching. */
		if (i > 0)
			KT_EXPECT_GT(in->mem[i].base,
			    in->mem[i - 1].base + in->mem[i - 1].size);
	}
}

KTEST(dtb, fuzz)
{
	const struct blob src[] = { BLOB(sparse), BLOB(wide), BLOB(qemu_1g_4),
	    BLOB(bad) };
	const unsigned nsrc = sizeof(src) / sizeof(src[0]);
	uint64_t iters = ktest_iters(3000), nok = 0, neinval = 0;
	struct rng r;

	rng_seed(&r, ktest_seed(), 0x647462);	/* "dtb" */
	for (uint64_t it = 0; it < iters; it++) {
		struct blob b = src[it % nsrc];
		size_t len = b.len;
		unsigned flips = 1 + (unsigned)rng_below(&r, 4);
		uint8_t *p;
		int rc;

		/* Sometimes a shorter bound than the blob needs. */
		if (rng_below(&r, 8) == 0)
			len = (size_t)rng_below(&r, len + 1);
		if ((p = to_scratch(b.p, len)) == NULL)
			return;
		for (unsigned i = 0; i < flips && len > 0; i++) {
			/* A quarter of the flips hit the header and the
			 * memreserve block, where one byte changes the most. */
			size_t span = len > 64 && rng_below(&r, 4) == 0 ?
			    64 : len;
			size_t at = (size_t)rng_below(&r, span);

			if (rng_below(&r, 2) == 0)
				p[at] ^= (uint8_t)(1u << rng_below(&r, 8));
			else
				p[at] = (uint8_t)rng_next(&r);
		}
		rc = dtb_parse(p, len, &info);
		if (rc == 0) {
			nok++;
			check_sane(&info, len);
		} else {
			neinval++;
			KT_EXPECT_EQ(rc, -EINVAL);
			KT_EXPECT_EQ(info.nmem + info.nrsv + info.ncpus, 0);
		}
		if (ktest_failures() != 0) {
			ktest_note("iteration %llu (blob %u, len %zu) failed",
			    (unsigned long long)it, (unsigned)(it % nsrc), len);
			return;
		}
	}
	ktest_note("%llu mutated blobs: %llu parsed, %llu rejected",
	    (unsigned long long)iters, (unsigned long long)nok,
	    (unsigned long long)neinval);
}
