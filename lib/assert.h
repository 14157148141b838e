/*
 * Panic and levelled assertions.
 *
 *	VM_DEBUG_LEVEL 0	no assertions (production images)
 *	VM_DEBUG_LEVEL 1	VM_ASSERT: cheap checks, O(1) each
 *	VM_DEBUG_LEVEL 2	VM_ASSERT_EXPENSIVE too: walkers such as
 *				rb_is_valid(), page_is_valid(), zone_is_valid()
 *
 * Host and debug builds use level 2 (meson option debug_level).
 * A failed assertion panics with the expression, file, line and function.
 * panic() prints "PANIC" with the message and the port's register and
 * backtrace dump, stops the machine and powers off with a failure code
 * (QEMU exits non-zero; the host program exits with status 3).
 */
#ifndef RVMM_LIB_ASSERT_H
#define RVMM_LIB_ASSERT_H

#ifndef VM_DEBUG_LEVEL
#define VM_DEBUG_LEVEL 1
#endif

#define PANIC_EXIT_CODE 3

_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void panic_assert(const char *expr, const char *file, int line,
    const char *func);

#define VM_PANIC_IF(cond, ...)                                                 \
	do {                                                                   \
		if (__builtin_expect(!!(cond), 0))                             \
			panic(__VA_ARGS__);                                    \
	} while (0)

#if VM_DEBUG_LEVEL >= 1
#define VM_ASSERT(cond)                                                        \
	do {                                                                   \
		if (__builtin_expect(!(cond), 0))                              \
			panic_assert(#cond, __FILE__, __LINE__, __func__);     \
	} while (0)
#else
#define VM_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

#if VM_DEBUG_LEVEL >= 2
#define VM_ASSERT_EXPENSIVE(cond) VM_ASSERT(cond)
#else
#define VM_ASSERT_EXPENSIVE(cond) ((void)sizeof(!(cond)))
#endif

#define VM_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)

#endif /* RVMM_LIB_ASSERT_H */
