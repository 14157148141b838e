/*
 * kprintf: formatted output for rvmm, freestanding.
 *
 * Conversions: %d %i %u %x %X %o %c %s %p %%, length modifiers hh h l ll z t j,
 * flags '-' '0' '+' ' ' '#', field width and precision (also as '*').
 * No floating point: the kernel never formats doubles.
 *
 * kprintf() formats into a buffer on the stack and hands the result to the
 * console in one piece under the console lock, so lines printed by several
 * harts at once never interleave (a single call is atomic up to
 * KPRINTF_BUF bytes; longer output is split).
 */
#ifndef RVMM_LIB_KPRINTF_H
#define RVMM_LIB_KPRINTF_H

#include <stdarg.h>
#include <stddef.h>

#define KPRINTF_BUF 512

/* Like C99 vsnprintf: returns the length the full output would have. */
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
int ksnprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* => may be called from any context, interrupts on or off, on any hart. */
int kvprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes raw bytes under the console lock. */
void kputs_raw(const char *s, size_t n);

#endif /* RVMM_LIB_KPRINTF_H */
