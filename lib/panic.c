/*
 * panic.c: the end of the line.
 *
 * panic() prints "PANIC[cpu N]: <message>", lets the port dump registers
 * and a backtrace, and powers the machine off with PANIC_EXIT_CODE.  The
 * other harts are not stopped one by one: hal_poweroff() ends the whole
 * machine (SBI SRST on riscv64, _exit() on the host).  A panic inside a
 * panic (the dump itself faulting, say) skips straight to poweroff; a
 * panic on a second cpu waits up to two seconds for the first to finish
 * its report, then powers off itself.
 */
#include <stdarg.h>

#include <ck_pr.h>

#include "hal/hal.h"
#include "lib/assert.h"
#include "lib/kprintf.h"

void kputs_panic(const char *s, size_t n);

static unsigned panicking;		/* (A) panics begun, machine-wide */
static unsigned panic_cpu = ~0u;	/* (A) cpu of the first panic */

_Noreturn void
panic(const char *fmt, ...)
{
	char buf[KPRINTF_BUF];
	va_list ap;
	int n, m;

	(void)hal_intr_disable();
	if (ck_pr_faa_uint(&panicking, 1) != 0) {
		/*
		 * A second panic.  On the cpu that panicked first (its dump
		 * faulted, say) end the machine now; elsewhere, give the first
		 * one time to report, then end it anyway.
		 */
		static const char msg[] = "PANIC: nested panic\n";
		kputs_panic(msg, sizeof(msg) - 1);
		if (ck_pr_load_uint(&panic_cpu) != hal_cpu_id()) {
			uint64_t t0 = hal_time_ns();
			while (hal_time_ns() - t0 < 2000000000ull)
				hal_cpu_relax();
		}
		hal_poweroff(PANIC_EXIT_CODE);
	}
	ck_pr_store_uint(&panic_cpu, hal_cpu_id());
	n = ksnprintf(buf, sizeof(buf), "\nPANIC[cpu %u]: ", hal_cpu_id());
	va_start(ap, fmt);
	m = kvsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n += m;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	kputs_panic(buf, (size_t)n);
	hal_dump_state();
	hal_poweroff(PANIC_EXIT_CODE);
}

_Noreturn void
panic_assert(const char *expr, const char *file, int line, const char *func)
{
	panic("assertion \"%s\" failed at %s:%d in %s()", expr, file, line,
	    func);
}
