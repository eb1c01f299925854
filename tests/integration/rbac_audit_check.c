/*
 * rbac_audit_check — proves an RBAC policy is least-privilege for a user:
 * every (apiGroup, resource[/subresource], verb) the policy grants must
 * appear among the requests the user made in a kube-apiserver audit log,
 * and none of the user's requests may have been forbidden.
 *
 * Usage: rbac_audit_check MANIFESTS.yaml AUDIT.log USERNAME
 * A server-side apply (PATCH) that created its object (HTTP 201) is authorized
 * as create as well, and counts as using both.
 * Grants come from the ClusterRoles and Roles in MANIFESTS.yaml. Prints the
 * used and unused pairs; exits 1 when a grant is unused or a request was
 * denied, 2 on bad input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/sbuf.h"
#include "util/strmap.h"
#include "util/yaml_json.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	sbuf sb = SBUF_INIT;
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
		if (sbuf_add(&sb, buf, n) < 0) {
			fclose(f);
			sbuf_release(&sb);
			return NULL;
		}
	}
	fclose(f);
	*len = sb.len;
	return sbuf_detach(&sb);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: rbac_audit_check MANIFESTS.yaml AUDIT.log USERNAME\n");
		return 2;
	}
	size_t len;
	char *text = slurp(argv[1], &len), err[256];
	json_t *docs = text ? yaml_json_load_all(text, len, err, sizeof err) : NULL;
	free(text);
	if (!docs) {
		fprintf(stderr, "cannot read %s\n", argv[1]);
		return 2;
	}
	strmap granted = STRMAP_INIT, used = STRMAP_INIT;
	size_t i, j, k, v;
	json_t *d, *rule, *g, *r, *verb;
	json_array_foreach (docs, i, d) {
		const char *kind = json_string_value(json_object_get(d, "kind"));
		if (!kind || (strcmp(kind, "ClusterRole") && strcmp(kind, "Role")))
			continue;
		json_array_foreach (json_object_get(d, "rules"), j, rule) {
			json_array_foreach (json_object_get(rule, "apiGroups"), k, g) {
				json_array_foreach (json_object_get(rule, "resources"), v, r) {
					size_t w;
					json_array_foreach (json_object_get(rule, "verbs"), w, verb) {
						char key[256];
						snprintf(key, sizeof key, "%s %s %s", json_string_value(g),
							 json_string_value(r), json_string_value(verb));
						if (strchr(key, '*')) {
							fprintf(stderr, "wildcard grant: %s\n", key);
							return 1;
						}
						if (strmap_put(&granted, key, NULL, NULL, NULL) < 0) {
							fprintf(stderr, "out of memory\n");
							return 1;
						}
					}
				}
			}
		}
	}
	json_decref(docs);
	FILE *f = fopen(argv[2], "r");
	if (!f) {
		fprintf(stderr, "cannot read %s\n", argv[2]);
		return 2;
	}
	char *line = NULL;
	size_t cap = 0;
	long denied = 0, requests = 0;
	while (getline(&line, &cap, f) > 0) {
		json_t *e = json_loads(line, 0, NULL);
		const char *user = json_string_value(json_object_get(json_object_get(e, "user"), "username"));
		json_t *ref = json_object_get(e, "objectRef");
		if (!user || strcmp(user, argv[3]) || !ref) {
			json_decref(e);
			continue;
		}
		if (strcmp((json_string_value(json_object_get(e, "stage"))
				    ? json_string_value(json_object_get(e, "stage"))
				    : ""),
			   "ResponseComplete") &&
		    strcmp((json_string_value(json_object_get(e, "stage"))
				    ? json_string_value(json_object_get(e, "stage"))
				    : ""),
			   "ResponseStarted")) {
			json_decref(e);
			continue;
		}
		const char *group = json_string_value(json_object_get(ref, "apiGroup"));
		const char *res = json_string_value(json_object_get(ref, "resource"));
		const char *sub = json_string_value(json_object_get(ref, "subresource"));
		const char *vb = json_string_value(json_object_get(e, "verb"));
		long code = (long)json_integer_value(json_object_get(json_object_get(e, "responseStatus"), "code"));
		char key[256];
		snprintf(key, sizeof key, "%s %s%s%s %s", group ? group : "", res ? res : "", sub ? "/" : "",
			 sub ? sub : "", vb ? vb : "");
		requests++;
		/* An RBAC denial (not e.g. a namespace being terminated, also a 403). */
		const char *decision = json_string_value(
			json_object_get(json_object_get(e, "annotations"), "authorization.k8s.io/decision"));
		if (code == 403 && decision && !strcmp(decision, "forbid")) {
			printf("DENIED  %s\n", key);
			denied++;
		}
		bool noted = strmap_put(&used, key, NULL, NULL, NULL) == 0;
		if (vb && !strcmp(vb, "patch") && code == 201) {
			snprintf(key, sizeof key, "%s %s%s%s create", group ? group : "", res ? res : "",
				 sub ? "/" : "", sub ? sub : "");
			noted = noted && strmap_put(&used, key, NULL, NULL, NULL) == 0;
		}
		if (!noted) {
			fprintf(stderr, "out of memory\n");
			return 1;
		}
		json_decref(e);
	}
	free(line);
	fclose(f);
	size_t it = 0;
	const char *key;
	long unused = 0, ok = 0;
	while (strmap_next(&granted, &it, &key, NULL)) {
		bool found;
		strmap_get(&used, key, &found);
		if (found) {
			printf("used    %s\n", key);
			ok++;
		} else {
			printf("UNUSED  %s\n", key);
			unused++;
		}
	}
	printf("%ld requests by %s; %ld grants used, %ld unused, %ld denied\n", requests, argv[3], ok, unused, denied);
	strmap_release(&granted, NULL);
	strmap_release(&used, NULL);
	return (unused || denied || !requests) ? 1 : 0;
}
