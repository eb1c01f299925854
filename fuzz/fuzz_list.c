/*
 * libFuzzer harness: LIST pages decoded per item (kube_decode.h).
 *
 * Raw: the input is a whole page; decoding must not crash, and what it
 * returns must be consistent (items are named objects, set-aside entries
 * are named).
 *
 * Per object: the same bytes become one hostile value (fuzz_hostile.h)
 * in the middle item of an otherwise valid page of three. The good items
 * must be decoded whole, the hostile one decoded or set aside under its
 * own name, and the page's resourceVersion and continue token read.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_hostile.h"
#include "kube/kube_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *name_of(json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
}

static void raw(const uint8_t *data, size_t size)
{
	kube_list_page p;
	char why[200];
	if (kube_list_page_decode((const char *)data, size, &p, why, sizeof why)) {
		if (!memchr(why, '\0', sizeof why) || !why[0])
			abort();
		return;
	}
	size_t i;
	json_t *x;
	json_array_foreach (p.items, i, x)
		if (!json_is_object(x) || !name_of(x))
			abort();
	json_array_foreach (p.undecodable, i, x)
		if (!name_of(json_object_get(x, "object")) || !json_string_value(json_object_get(x, "reason")))
			abort();
	kube_list_page_release(&p);
}

static void per_object(const uint8_t *data, size_t size)
{
	sbuf s = SBUF_INIT;
	if (sbuf_adds(&s, "{\"kind\":\"XList\",\"metadata\":{\"resourceVersion\":\"9\",\"continue\":\"c\"},\"items\":["
			  "{\"metadata\":{\"name\":\"good1\",\"resourceVersion\":\"1\"},\"spec\":{\"v\":7}},"))
		abort();
	fuzz_hostile_object("hostile", "2", data, size, &s);
	if (sbuf_adds(&s, ",{\"metadata\":{\"name\":\"good2\",\"resourceVersion\":\"3\"},\"spec\":{\"v\":7}}]}"))
		abort();
	kube_list_page p;
	char why[200];
	if (kube_list_page_decode(s.buf, s.len, &p, why, sizeof why))
		abort(); /* one item never fails the page */
	size_t n = json_array_size(p.items), u = json_array_size(p.undecodable);
	if (p.unnamed || n + u != 3 || strcmp(p.resource_version ? p.resource_version : "", "9") ||
	    strcmp(p.continue_token ? p.continue_token : "", "c"))
		abort();
	const char *first = name_of(json_array_get(p.items, 0)), *last = name_of(json_array_get(p.items, n - 1));
	if (!first || !last || strcmp(first, "good1") || strcmp(last, "good2"))
		abort();
	if (u && strcmp(name_of(json_object_get(json_array_get(p.undecodable, 0), "object")) ?: "", "hostile"))
		abort();
	if (!u && strcmp(name_of(json_array_get(p.items, 1)) ?: "", "hostile"))
		abort();
	kube_list_page_release(&p);
	sbuf_release(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	raw(data, size);
	per_object(data, size);
	return 0;
}
