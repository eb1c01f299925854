/*
 * kube_decode — decoding API answers one object at a time.
 *
 * A LIST page or a watch event that holds one object we cannot decode
 * (json_lenient.h says what can be read anyway) must not cost the other
 * objects: the page is split into its items without a tree decoder
 * (json_scan.h), each item is decoded alone, and an item that still
 * cannot be read is named by what can be scanned out of it (kind,
 * namespace, name, uid, resourceVersion) and set aside as undecodable.
 * Pure: no I/O; unit-tested and fuzzed (fuzz_list).
 */
#ifndef MEMSHACK_KUBE_KUBE_DECODE_H
#define MEMSHACK_KUBE_KUBE_DECODE_H

#include <jansson.h>
#include <stddef.h>
#include "util/must_use.h"

/*
 * What can be read of the object at [start, end) of buf without decoding
 * it: {"apiVersion", "kind", "metadata": {"namespace", "name", "uid",
 * "resourceVersion"}} with the members found (new reference, caller owns),
 * or NULL when not even metadata.name can be read.
 */
json_t *kube_identity_scan(const char *buf, size_t start, size_t end);

/* One LIST page, decoded per item. Release with kube_list_page_release. */
typedef struct kube_list_page {
	json_t *items;          /* array of decoded objects (owned) */
	json_t *undecodable;    /* array of {"object": identity, "reason": "..."} (owned) */
	size_t unnamed;         /* items that could be neither decoded nor named */
	char *resource_version; /* metadata.resourceVersion (owned) or NULL */
	char *continue_token;   /* metadata.continue (owned) or NULL when this is the last page */
} kube_list_page;

/*
 * Decodes a LIST answer. Returns 0 (items that could not be decoded are in
 * undecodable or counted in unnamed), or -1 with a message in why when the
 * page itself is not a list (no items array, not JSON at the top level).
 */
MEMSHACK_MUST_USE int kube_list_page_decode(const char *buf, size_t len, kube_list_page *page, char *why,
					    size_t whylen);
void kube_list_page_release(kube_list_page *page);

#endif
