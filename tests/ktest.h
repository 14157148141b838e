/*
 * ktest: the tiny test framework shared by the host test programs and the
 * riscv64 test kernel.  Output is TAP 13 (KTAP-compatible flat form):
 *
 *	TAP version 13
 *	1..N
 *	# suite.case: diagnostics
 *	ok 1 suite.case
 *	not ok 2 suite.other
 *
 * Registration: KTEST(suite, name) { ... } defines a case and places its
 * descriptor in the "ktest_cases" linker section; the runner walks the
 * section, so adding a file to the build is all it takes.
 *
 * Selection (bootargs on QEMU, command line on the host):
 *	suite=a,b,c	run the cases whose suite is a, b or c (default: all
 *			suites not marked explicit)
 *	case=x		further restrict to one case name
 *	seed=N		deterministic seed handed out by ktest_seed() (default 1)
 *	scale=N		multiplier for iteration counts, ktest_iters() (default 1)
 *
 * Assertions may run on any hart (inside smp_run workers too): a failure is
 * counted atomically against the running case and reported with file and line.
 * KT_ASSERT additionally returns from the current (void) function.
 */
#ifndef RVMM_TESTS_KTEST_H
#define RVMM_TESTS_KTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal/hal_test.h"
#include "lib/kprintf.h"

/* Case flags. */
#define KTEST_F_EXPLICIT 0x1u	/* runs only when its suite is named */

struct ktest_case {
	const char *suite;
	const char *name;
	void (*fn)(void);
	unsigned flags;
};

#define KTEST_DEFINE(suite_, name_, flags_)                                    \
	static void ktest_fn_##suite_##_##name_(void);                         \
	static const struct ktest_case ktest_case_##suite_##_##name_           \
	    __attribute__((used, section("ktest_cases"), aligned(8))) = {      \
		#suite_, #name_, ktest_fn_##suite_##_##name_, (flags_)};       \
	static void ktest_fn_##suite_##_##name_(void)

#define KTEST(suite_, name_) KTEST_DEFINE(suite_, name_, 0)
/* A case that runs only on request (deliberate panics, self-tests). */
#define KTEST_EXPLICIT(suite_, name_) KTEST_DEFINE(suite_, name_, KTEST_F_EXPLICIT)

/* Records a failure of the running case; safe on any hart. */
void ktest_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A "# " diagnostic line attributed to the running case. */
void ktest_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Failures recorded so far in the running case. */
unsigned ktest_failures(void);

uint64_t ktest_seed(void);
/* base * scale, at least 1. */
uint64_t ktest_iters(uint64_t base);
/* Value of a bootarg (or NULL): lets a case read e.g. expect_mem=. */
const char *ktest_arg(const char *name);

#define KT_EXPECT(cond)                                                        \
	do {                                                                   \
		if (!(cond))                                                   \
			ktest_fail(__FILE__, __LINE__, "expected %s", #cond);  \
	} while (0)

#define KT_ASSERT(cond)                                                        \
	do {                                                                   \
		if (!(cond)) {                                                 \
			ktest_fail(__FILE__, __LINE__, "assertion %s", #cond); \
			return;                                                \
		}                                                              \
	} while (0)

#define KT_EXPECT_OP(a, op, b)                                                 \
	do {                                                                   \
		unsigned long long ktA_ = (unsigned long long)(a);             \
		unsigned long long ktB_ = (unsigned long long)(b);             \
		if (!(ktA_ op ktB_))                                           \
			ktest_fail(__FILE__, __LINE__,                         \
			    "expected %s %s %s (%llu vs %llu, %#llx vs %#llx)", \
			    #a, #op, #b, ktA_, ktB_, ktA_, ktB_);              \
	} while (0)

#define KT_EXPECT_EQ(a, b) KT_EXPECT_OP(a, ==, b)
#define KT_EXPECT_NE(a, b) KT_EXPECT_OP(a, !=, b)
#define KT_EXPECT_LT(a, b) KT_EXPECT_OP(a, <, b)
#define KT_EXPECT_LE(a, b) KT_EXPECT_OP(a, <=, b)
#define KT_EXPECT_GE(a, b) KT_EXPECT_OP(a, >=, b)
#define KT_EXPECT_GT(a, b) KT_EXPECT_OP(a, >, b)

#define KT_ASSERT_EQ(a, b)                                                     \
	do {                                                                   \
		unsigned ktF_ = ktest_failures();                              \
		KT_EXPECT_EQ(a, b);                                            \
		if (ktest_failures() != ktF_)                                  \
			return;                                                \
	} while (0)

#define KT_EXPECT_STREQ(a, b)                                                  \
	do {                                                                   \
		const char *ktA_ = (a), *ktB_ = (b);                           \
		if (strcmp(ktA_, ktB_) != 0)                                   \
			ktest_fail(__FILE__, __LINE__,                         \
			    "expected %s == %s (\"%s\" vs \"%s\")", #a, #b,    \
			    ktA_, ktB_);                                       \
	} while (0)

#define KT_FAIL(...) ktest_fail(__FILE__, __LINE__, __VA_ARGS__)

/* Runs the selected cases and returns the number that failed. */
int ktest_main(const char *bootargs);

#endif /* RVMM_TESTS_KTEST_H */
