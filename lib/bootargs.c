/*
 * bootargs.c: command-line parsing without libc (see bootargs.h).
 */
#include <string.h>

#include "lib/assert.h"
#include "lib/bootargs.h"

bool
bootarg_get(const char *args, const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);
	const char *p = args;

	if (p == NULL || klen == 0)
		return false;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *w = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		size_t wlen = (size_t)(p - w);
		if (wlen < klen || strncmp(w, key, klen) != 0)
			continue;
		if (wlen == klen) {
			if (size > 0)
				buf[0] = '\0';
			return true;
		}
		if (w[klen] != '=')
			continue;
		size_t vlen = wlen - klen - 1;
		if (size > 0) {
			if (vlen >= size)
				vlen = size - 1;
			memcpy(buf, w + klen + 1, vlen);
			buf[vlen] = '\0';
		}
		return true;
	}
	return false;
}

bool
bootarg_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0, base = 10;
	const char *p = s;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (*p == '\0')
		return false;
	for (; *p != '\0'; p++) {
		unsigned d;
		char c = *p;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	unsigned shift = 0;
	switch (*p) {
	case '\0': break;
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	default: return false;
	}
	if (*p != '\0' || (shift != 0 && v > (UINT64_MAX >> shift)))
		return false;
	*out = v << shift;
	return true;
}

uint64_t
bootarg_u64(const char *args, const char *key, uint64_t dflt)
{
	char buf[32];
	uint64_t v;

	if (!bootarg_get(args, key, buf, sizeof(buf)))
		return dflt;
	if (!bootarg_parse_u64(buf, &v))
		panic("bootarg %s=%s: not a number (decimal or 0x-hex, "
		    "optional K, M or G)", key, buf);
	return v;
}

bool
bootarg_list_has(const char *list, const char *item)
{
	size_t ilen = strlen(item);
	const char *p = list;

	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, ',');
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (n == ilen && strncmp(p, item, n) == 0)
			return true;
		p = e != NULL ? e + 1 : NULL;
	}
	return false;
}

bool
bootarg_list_next(const char **p, char *word, size_t size, size_t *len)
{
	const char *s = *p, *e;
	size_t n, k;

	if (*s == '\0')
		return false;
	e = strchr(s, ',');
	n = e != NULL ? (size_t)(e - s) : strlen(s);
	k = n < size - 1 ? n : size - 1;
	memcpy(word, s, k);
	word[k] = '\0';
	if (len != NULL)
		*len = n;
	*p = e != NULL ? e + 1 : s + n;
	return true;
}

bool
bootarg_list_matches(const char *list, const char *name)
{
	const char *p = list;
	char word[64];

	if (list[0] == '\0')
		return true;
	while (bootarg_list_next(&p, word, sizeof(word), NULL))
		if (word[0] != '\0' && strstr(name, word) != NULL)
			return true;
	return false;
}
