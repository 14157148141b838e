/*
 * ktest.c: the test runner (see ktest.h for the format and the bootargs).
 *
 * The runner walks the "ktest_cases" section, counts the selected cases
 * so it can print the TAP plan first, then runs each case on the calling
 * cpu.  A case that wants every hart uses smp_run().  Failures are counted
 * with an atomic add so any hart may report one.  ktest_main() returns the
 * number of failed cases; the image's kmain() turns that into the exit
 * code of the machine.
 */
#include <string.h>

#include <ck_pr.h>

#include "hal/hal.h"
#include "lib/bootargs.h"
#include "lib/kprintf.h"
#include "vm/vm.h"
#include "tests/ktest.h"

extern const struct ktest_case __start_ktest_cases[];
extern const struct ktest_case __stop_ktest_cases[];

static const char *kt_args;
static const struct ktest_case *kt_cur;
static unsigned kt_failures;		/* (A) failures in the running case */
static uint64_t kt_seed = 1, kt_scale = 1;

static void
ktest_vreport(const char *prefix, const char *file, int line, const char *fmt,
    va_list ap)
{
	char buf[KPRINTF_BUF];
	int n = 0;

	n += ksnprintf(buf, sizeof(buf), "# %s%s.%s", prefix,
	    kt_cur ? kt_cur->suite : "-", kt_cur ? kt_cur->name : "-");
	if (file != NULL)
		n += ksnprintf(buf + n, sizeof(buf) - (size_t)n, " %s:%d",
		    file, line);
	if ((size_t)n < sizeof(buf) - 3) {
		buf[n++] = ':';
		buf[n++] = ' ';
		n += kvsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	}
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	/* Diagnostics are one line each: TAP has no multi-line comments. */
	for (int i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	buf[n++] = '\n';
	kputs_raw(buf, (size_t)n);
}

void
ktest_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	/* Report the first few failures of a case; count them all. */
	if (ck_pr_faa_uint(&kt_failures, 1) >= 20)
		return;
	va_start(ap, fmt);
	ktest_vreport("FAIL ", file, line, fmt, ap);
	va_end(ap);
}

void
ktest_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ktest_vreport("", NULL, 0, fmt, ap);
	va_end(ap);
}

unsigned
ktest_failures(void)
{
	return ck_pr_load_uint(&kt_failures);
}

uint64_t
ktest_seed(void)
{
	return kt_seed;
}

uint64_t
ktest_iters(uint64_t base)
{
	uint64_t n = base * kt_scale;

	return n == 0 ? 1 : n;
}

const char *
ktest_arg(const char *name)
{
	static char buf[8][128];
	static unsigned next;
	char *b = buf[ck_pr_faa_uint(&next, 1) % 8];

	return bootarg_get(kt_args, name, b, sizeof(buf[0])) ? b : NULL;
}

static bool
ktest_selected(const struct ktest_case *c, const char *suites,
    const char *cases, bool have_suites, bool have_cases)
{
	if (have_suites) {
		if (!bootarg_list_has(suites, c->suite))
			return false;
	} else if (c->flags & KTEST_F_EXPLICIT) {
		return false;
	}
	if (have_cases && !bootarg_list_has(cases, c->name))
		return false;
	return true;
}

/*
 * ktest_names_known: every comma-separated word of `list` names a suite
 * (is_suite) or a case (of the suites in `within`, if given); prints each
 * word that does not, with what there is.
 */
static bool
ktest_names_known(const char *list, bool is_suite, const char *within)
{
	const char *p = list;
	char word[128];
	bool all = true;
	size_t n;

	while (bootarg_list_next(&p, word, sizeof(word), &n)) {
		bool found = false;
		for (const struct ktest_case *c = __start_ktest_cases;
		    c < __stop_ktest_cases && !found; c++) {
			const char *name = is_suite ? c->suite : c->name;
			if (within != NULL && !bootarg_list_has(within, c->suite))
				continue;
			found = strlen(name) == n && strcmp(name, word) == 0;
		}
		if (!found) {
			all = false;
			kprintf("ktest: no %s named \"%s\"%s%s; there are:",
			    is_suite ? "suite" : "case", word,
			    within != NULL ? " in suites " : "",
			    within != NULL ? within : "");
			const char *last = NULL;
			for (const struct ktest_case *c = __start_ktest_cases;
			    c < __stop_ktest_cases; c++) {
				const char *name = is_suite ? c->suite : c->name;
				if (within != NULL &&
				    !bootarg_list_has(within, c->suite))
					continue;
				if (last == NULL || strcmp(last, name) != 0)
					kprintf(" %s", name);
				last = name;
			}
			kprintf("\n");
		}
	}
	return all;
}

int
ktest_main(const char *bootargs)
{
	char suites[256], cases[256];
	bool have_suites, have_cases;
	unsigned planned = 0, num = 0, failed = 0;

	kt_args = bootargs;
	have_suites = bootarg_get(bootargs, "suite", suites, sizeof(suites)) &&
	    strcmp(suites, "all") != 0;
	have_cases = bootarg_get(bootargs, "case", cases, sizeof(cases));
	kt_seed = bootarg_u64(bootargs, "seed", 1);
	kt_scale = bootarg_u64(bootargs, "scale", 1);

	for (const struct ktest_case *c = __start_ktest_cases;
	    c < __stop_ktest_cases; c++)
		if (ktest_selected(c, suites, cases, have_suites, have_cases))
			planned++;
	/* A name that selects nothing is a typo, not an empty run. */
	if ((have_suites && !ktest_names_known(suites, true, NULL)) ||
	    (have_cases && !ktest_names_known(cases, false,
	    have_suites ? suites : NULL))) {
		kprintf("TAP version 13\n1..0\nBail out! ktest: nothing "
		    "runs by that name (args \"%s\")\n", bootargs);
		return 1;
	}

	kprintf("TAP version 13\n");
	kprintf("# rvmm ktest: %u cpus, seed %llu, scale %llu, args \"%s\"\n",
	    hal_ncpus(), (unsigned long long)kt_seed,
	    (unsigned long long)kt_scale, bootargs);
	kprintf("1..%u\n", planned);
	for (const struct ktest_case *c = __start_ktest_cases;
	    c < __stop_ktest_cases; c++) {
		if (!ktest_selected(c, suites, cases, have_suites, have_cases))
			continue;
		num++;
		ck_pr_store_uint(&kt_failures, 0);
		kt_cur = c;
		uint64_t t0 = hal_time_ns();
		c->fn();
		uint64_t us = (hal_time_ns() - t0) / 1000;
		unsigned f = ktest_failures();
		kt_cur = NULL;
		if (f != 0)
			failed++;
		kprintf("%s %u %s.%s # %llu us%s\n", f ? "not ok" : "ok", num,
		    c->suite, c->name, (unsigned long long)us, "");
	}
	kprintf("# %u passed, %u failed\n", planned - failed, failed);
	/* Bootarg stats=1: one summary per layer (vm_dump.c). */
	if (vm_stats_requested(bootargs))
		vm_stats_dump();
	return (int)failed;
}
