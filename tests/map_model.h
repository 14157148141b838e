/*
 * map_model.h: a reference model of address spaces, page by page, driven
 * by a byte stream (a libFuzzer input) or a seeded generator (the
 * "mapmodel" ktest suite).  See map_model.c for what is modelled and what
 * is checked after every step.
 */
#ifndef RVMM_TESTS_MAP_MODEL_H
#define RVMM_TESTS_MAP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/rand.h"

/* Called with a description of each mismatch (the session goes on). */
typedef void (*mm_fail_fn)(const char *msg);

struct mm_result {
	unsigned steps;		/* operations run */
	unsigned failures;	/* mismatches reported */
	unsigned ok_ops;	/* operations that succeeded */
	unsigned err_ops;	/* operations that returned an error */
	unsigned enomem;	/* of those, injected -ENOMEM */
	unsigned forks;
};

/*
 * mm_session: builds a fresh world (maps, objects), runs operations
 * decoded from data[0..n) (then, if r != NULL, from r) for at most
 * max_steps steps, checks the model after each, tears everything down and
 * checks that no page, map, entry, anon or object leaked.
 * pre: thread context on one hart, interrupts enabled, no other map user.
 */
void mm_session(const uint8_t *data, size_t n, struct rng *r,
    unsigned max_steps, mm_fail_fn fail, struct mm_result *out);

#endif /* RVMM_TESTS_MAP_MODEL_H */
