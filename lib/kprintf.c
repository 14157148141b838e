/*
 * kprintf.c: formatted output without libc.
 *
 * 1. Formatting.  kvsnprintf() implements the subset of C99 printf that
 *    kernel code needs (see kprintf.h).  It never allocates and never
 *    writes past `size`; it returns the untruncated length like C99.
 *
 * 2. Output.  kvprintf() formats into a KPRINTF_BUF stack buffer and hands
 *    the bytes to hal_console_write() under one console lock with
 *    interrupts disabled, so one call is one unbroken piece of output even
 *    when every hart prints at once.  The lock is ck's default spinlock:
 *    it has a trylock on every port, which the bounded wait below needs
 *    (ck's ticket lock has none on riscv64).
 *
 * 3. Panic.  panic() takes the console lock with a bounded wait: a hart that
 *    panics while another hart holds the lock forever (it panicked itself,
 *    or was stopped) still gets its message out.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <ck_pr.h>
#include <ck_spinlock.h>

#include "hal/hal.h"
#include "lib/kprintf.h"

struct out {
	char *buf;
	size_t size;
	size_t len;
};

static void
out_c(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void
out_pad(struct out *o, char c, int n)
{
	while (n-- > 0)
		out_c(o, c);
}

#define F_LEFT 0x01
#define F_ZERO 0x02
#define F_PLUS 0x04
#define F_SPACE 0x08
#define F_ALT 0x10
#define F_PTR 0x20	/* %p: always "0x", even for zero */

static void
out_num(struct out *o, unsigned long long v, bool neg, unsigned base,
    bool upper, int flags, int width, int prec)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;
	const char *prefix = "";
	int plen;

	while (v != 0) {
		tmp[n++] = digits[v % base];
		v /= base;
	}
	if (n == 0 && prec != 0)
		tmp[n++] = '0';
	if (neg)
		prefix = "-";
	else if (flags & F_PLUS)
		prefix = "+";
	else if (flags & F_SPACE)
		prefix = " ";
	else if ((flags & F_PTR) ||
	    ((flags & F_ALT) && base == 16 && !(n == 1 && tmp[0] == '0')))
		prefix = upper ? "0X" : "0x";
	else if ((flags & F_ALT) && base == 8 && tmp[n - 1] != '0')
		prefix = "0";
	plen = (int)strlen(prefix);

	int zeros = prec > n ? prec - n : 0;
	int total = plen + zeros + n;

	if (prec < 0 && (flags & F_ZERO) && !(flags & F_LEFT) && width > total) {
		zeros += width - total;
		total = width;
	}
	if (!(flags & F_LEFT))
		out_pad(o, ' ', width - total);
	for (int i = 0; i < plen; i++)
		out_c(o, prefix[i]);
	out_pad(o, '0', zeros);
	while (n > 0)
		out_c(o, tmp[--n]);
	if (flags & F_LEFT)
		out_pad(o, ' ', width - total);
}

int
kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };

	for (const char *p = fmt; *p != '\0'; p++) {
		if (*p != '%') {
			out_c(&o, *p);
			continue;
		}
		p++;
		int flags = 0;
		for (;; p++) {
			if (*p == '-')
				flags |= F_LEFT;
			else if (*p == '0')
				flags |= F_ZERO;
			else if (*p == '+')
				flags |= F_PLUS;
			else if (*p == ' ')
				flags |= F_SPACE;
			else if (*p == '#')
				flags |= F_ALT;
			else
				break;
		}
		int width = 0;
		if (*p == '*') {
			width = va_arg(ap, int);
			if (width < 0) {
				flags |= F_LEFT;
				width = -width;
			}
			p++;
		} else {
			while (*p >= '0' && *p <= '9')
				width = width * 10 + (*p++ - '0');
		}
		int prec = -1;
		if (*p == '.') {
			p++;
			prec = 0;
			if (*p == '*') {
				prec = va_arg(ap, int);
				p++;
			} else {
				while (*p >= '0' && *p <= '9')
					prec = prec * 10 + (*p++ - '0');
			}
		}
		/* Length: 0 int, 1 long, 2 long long, 3 size_t, 4 ptrdiff, 5 intmax, -1 short, -2 char */
		int len = 0;
		for (;; p++) {
			if (*p == 'l')
				len = len == 1 ? 2 : 1;
			else if (*p == 'h')
				len = len == -1 ? -2 : -1;
			else if (*p == 'z')
				len = 3;
			else if (*p == 't')
				len = 4;
			else if (*p == 'j')
				len = 5;
			else
				break;
		}
		char c = *p;
		if (c == '\0')
			break;
		switch (c) {
		case 'd':
		case 'i': {
			long long v;
			switch (len) {
			case 1: v = va_arg(ap, long); break;
			case 2: v = va_arg(ap, long long); break;
			case 3: v = (long long)va_arg(ap, size_t); break;
			case 4: v = va_arg(ap, ptrdiff_t); break;
			case 5: v = va_arg(ap, intmax_t); break;
			case -1: v = (short)va_arg(ap, int); break;
			case -2: v = (signed char)va_arg(ap, int); break;
			default: v = va_arg(ap, int); break;
			}
			unsigned long long u = v < 0 ? 0ull - (unsigned long long)v :
			    (unsigned long long)v;
			out_num(&o, u, v < 0, 10, false, flags, width, prec);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
		case 'o': {
			unsigned long long v;
			switch (len) {
			case 1: v = va_arg(ap, unsigned long); break;
			case 2: v = va_arg(ap, unsigned long long); break;
			case 3: v = va_arg(ap, size_t); break;
			case 4: v = (unsigned long long)va_arg(ap, ptrdiff_t); break;
			case 5: v = va_arg(ap, uintmax_t); break;
			case -1: v = (unsigned short)va_arg(ap, unsigned); break;
			case -2: v = (unsigned char)va_arg(ap, unsigned); break;
			default: v = va_arg(ap, unsigned); break;
			}
			unsigned base = c == 'u' ? 10 : c == 'o' ? 8 : 16;
			out_num(&o, v, false, base, c == 'X',
			    flags & ~(F_PLUS | F_SPACE), width, prec);
			break;
		}
		case 'p': {
			uintptr_t v = (uintptr_t)va_arg(ap, void *);
			out_num(&o, v, false, 16, false, flags | F_PTR, width,
			    prec);
			break;
		}
		case 'c': {
			char ch = (char)va_arg(ap, int);
			if (!(flags & F_LEFT))
				out_pad(&o, ' ', width - 1);
			out_c(&o, ch);
			if (flags & F_LEFT)
				out_pad(&o, ' ', width - 1);
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (s == NULL)
				s = "(null)";
			int n = 0;
			while (s[n] != '\0' && (prec < 0 || n < prec))
				n++;
			if (!(flags & F_LEFT))
				out_pad(&o, ' ', width - n);
			for (int i = 0; i < n; i++)
				out_c(&o, s[i]);
			if (flags & F_LEFT)
				out_pad(&o, ' ', width - n);
			break;
		}
		case '%':
			out_c(&o, '%');
			break;
		default:
			/* Unknown conversion: print it verbatim. */
			out_c(&o, '%');
			out_c(&o, c);
			break;
		}
	}
	if (size > 0)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int
ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static ck_spinlock_t console_lock = CK_SPINLOCK_INITIALIZER;
static unsigned console_owner = ~0u;	/* cpu holding console_lock */

/* Recursion-safe: a cpu that already holds the lock (nested panic) writes. */
static bool
console_lock_acquire(bool bounded)
{
	unsigned self = hal_cpu_id();

	if (ck_pr_load_uint(&console_owner) == self)
		return false;
	if (!bounded) {
		ck_spinlock_lock(&console_lock);
	} else {
		/* A panicking hart waits a bounded time, then writes anyway. */
		for (unsigned long i = 0; !ck_spinlock_trylock(&console_lock);
		    i++) {
			if (i > (1ul << 24))
				return false;
			hal_cpu_relax();
		}
	}
	ck_pr_store_uint(&console_owner, self);
	return true;
}

static void
console_lock_release(bool held)
{
	if (!held)
		return;
	ck_pr_store_uint(&console_owner, ~0u);
	ck_spinlock_unlock(&console_lock);
}

void
kputs_raw(const char *s, size_t n)
{
	hal_intr_t st = hal_intr_disable();
	bool held = console_lock_acquire(false);

	hal_console_write(s, n);
	console_lock_release(held);
	hal_intr_restore(st);
}

/* Used by panic(): never waits forever for the console. */
void kputs_panic(const char *s, size_t n);
void
kputs_panic(const char *s, size_t n)
{
	hal_intr_t st = hal_intr_disable();
	bool held = console_lock_acquire(true);

	hal_console_write(s, n);
	console_lock_release(held);
	hal_intr_restore(st);
}

int
kvprintf(const char *fmt, va_list ap)
{
	char buf[KPRINTF_BUF];
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = kvsnprintf(buf, sizeof(buf), fmt, ap2);
	va_end(ap2);
	kputs_raw(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	return n;
}

int
kprintf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvprintf(fmt, ap);
	va_end(ap);
	return n;
}
