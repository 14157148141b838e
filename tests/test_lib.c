/*
 * Tests of lib/: kprintf formats and bootargs parsing.
 */
#include <string.h>

#include "lib/bootargs.h"
#include "lib/kprintf.h"
#include "tests/ktest.h"

#define CHECK_FMT(expect, ...)                                                 \
	do {                                                                   \
		char b_[128];                                                  \
		int n_ = ksnprintf(b_, sizeof(b_), __VA_ARGS__);               \
		KT_EXPECT_STREQ(b_, expect);                                   \
		KT_EXPECT_EQ(n_, strlen(expect));                              \
	} while (0)

KTEST(printf, integers)
{
	CHECK_FMT("0", "%d", 0);
	CHECK_FMT("-42", "%d", -42);
	CHECK_FMT("4294967295", "%u", 4294967295u);
	CHECK_FMT("-9223372036854775808", "%ld", (long)(-9223372036854775807l - 1));
	CHECK_FMT("18446744073709551615", "%llu", 18446744073709551615ull);
	CHECK_FMT("ff", "%x", 255);
	CHECK_FMT("FF", "%X", 255);
	CHECK_FMT("deadbeefcafe", "%lx", 0xdeadbeefcafeul);
	CHECK_FMT("0x1f", "%#x", 31);
	CHECK_FMT("17", "%o", 15);
	CHECK_FMT("+5", "%+d", 5);
	CHECK_FMT("-1", "%hhd", (signed char)-1);
	CHECK_FMT("65535", "%hu", (unsigned short)65535);
	CHECK_FMT("123456789", "%zu", (size_t)123456789);
	CHECK_FMT("-3", "%zd", (ptrdiff_t)-3);
	CHECK_FMT("7", "%jd", (intmax_t)7);
}

static const char *volatile null_str;

KTEST(printf, width_and_flags)
{
	CHECK_FMT("   42", "%5d", 42);
	CHECK_FMT("42   |", "%-5d|", 42);
	CHECK_FMT("00042", "%05d", 42);
	CHECK_FMT("-0042", "%05d", -42);
	CHECK_FMT("0000beef", "%08lx", 0xbeeful);
	CHECK_FMT("  007", "%5.3d", 7);
	CHECK_FMT("   ab", "%*s", 5, "ab");
	CHECK_FMT("ab   |", "%-*s|", 5, "ab");
	CHECK_FMT("abc", "%.3s", "abcdef");
	CHECK_FMT("x", "%c", 'x');
	CHECK_FMT("  x", "%3c", 'x');
	CHECK_FMT("100%", "%d%%", 100);
	CHECK_FMT("(null)", "%s", null_str);
	CHECK_FMT("", "%.0d", 0);
}

KTEST(printf, pointers)
{
	char b[64];

	CHECK_FMT("0x1000", "%p", (void *)0x1000);
	CHECK_FMT("0x0", "%p", (void *)0);
	ksnprintf(b, sizeof(b), "%p", (void *)b);
	KT_EXPECT(b[0] == '0' && b[1] == 'x');
}

KTEST(printf, truncation)
{
	char b[8];

	memset(b, 'Z', sizeof(b));
	int n = ksnprintf(b, 5, "%s", "abcdefgh");
	KT_EXPECT_EQ(n, 8);
	KT_EXPECT_STREQ(b, "abcd");
	KT_EXPECT_EQ(b[5], 'Z');	/* nothing written past size */
	n = ksnprintf(b, 0, "%d", 12345);
	KT_EXPECT_EQ(n, 5);
	KT_EXPECT_EQ(b[0], 'a');	/* size 0 writes nothing */
}

KTEST(bootargs, lookup)
{
	const char *a = "suite=lib,smp seed=0x2a  verbose mem=128M iters=12k";
	char v[32];

	KT_EXPECT(bootarg_get(a, "suite", v, sizeof(v)));
	KT_EXPECT_STREQ(v, "lib,smp");
	KT_EXPECT(bootarg_get(a, "verbose", v, sizeof(v)));
	KT_EXPECT_STREQ(v, "");
	KT_EXPECT(!bootarg_get(a, "verb", v, sizeof(v)));
	KT_EXPECT(!bootarg_get(a, "seeds", v, sizeof(v)));
	KT_EXPECT_EQ(bootarg_u64(a, "seed", 0), 42);
	KT_EXPECT_EQ(bootarg_u64(a, "mem", 0), 128ull << 20);
	KT_EXPECT_EQ(bootarg_u64(a, "iters", 0), 12ull << 10);
	KT_EXPECT_EQ(bootarg_u64(a, "missing", 77), 77);
	KT_EXPECT(bootarg_list_has("lib,smp", "smp"));
	KT_EXPECT(bootarg_list_has("lib,smp", "lib"));
	KT_EXPECT(!bootarg_list_has("lib,smp", "li"));
	KT_EXPECT(!bootarg_list_has("", "lib"));
}

KTEST(bootargs, numbers)
{
	uint64_t v;

	KT_EXPECT(bootarg_parse_u64("18446744073709551615", &v));
	KT_EXPECT_EQ(v, UINT64_MAX);
	KT_EXPECT(!bootarg_parse_u64("18446744073709551616", &v));
	KT_EXPECT(!bootarg_parse_u64("16777216G", &v) ||
	    v == (16777216ull << 30));
	KT_EXPECT(!bootarg_parse_u64("17179869184G", &v));
	KT_EXPECT(!bootarg_parse_u64("", &v));
	KT_EXPECT(!bootarg_parse_u64("0x", &v));
	KT_EXPECT(!bootarg_parse_u64("12q", &v));
	KT_EXPECT(bootarg_parse_u64("0XfF", &v));
	KT_EXPECT_EQ(v, 255);
}

KTEST(bootargs, list_matches)
{
	KT_EXPECT(bootarg_list_matches("", "page.pair"));
	KT_EXPECT(bootarg_list_matches("page", "page.pair"));
	KT_EXPECT(bootarg_list_matches("zone,pair", "page.pair"));
	KT_EXPECT(!bootarg_list_matches("zone,kmalloc", "page.pair"));
	KT_EXPECT(!bootarg_list_matches(",", "page.pair"));
}
