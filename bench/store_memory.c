/*
 * Benchmark: memory of the informer store for 10,000 cached objects of about
 * 2 KiB each (StatefulSet-shaped, with managedFields), kept whole (trimmed of
 * managedFields) and as the owned-child projection. Prints RSS growth and
 * bytes per object. Not a test: figures, no pass/fail.
 *
 *   build/bench/bench_store_memory [count]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/projection.h"
#include "runtime/store.h"

static long rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * sysconf(_SC_PAGESIZE);
}

static json_t *make_object(int i)
{
	char name[64], uid[64], rv[32];
	snprintf(name, sizeof name, "cache-%05d-memshack-pool-0", i);
	snprintf(uid, sizeof uid, "6f1c2a4e-%04x-4d1b-9a7e-%012d", i & 0xffff, i);
	snprintf(rv, sizeof rv, "%d", 100000 + i);
	json_t *o = json_pack(
		"{s:s, s:s,"
		" s:{s:s, s:s, s:s, s:s, s:i, s:s,"
		"    s:{s:s, s:s, s:s, s:s, s:s},"
		"    s:{s:s, s:s},"
		"    s:[{s:s, s:s, s:s, s:s, s:b, s:b}],"
		"    s:[{s:s, s:s, s:s, s:s, s:s, s:{s:{s:{}, s:{}, s:{}}}}]},"
		" s:{s:i, s:s, s:s, s:{s:{s:s}},"
		"    s:{s:{s:{s:s, s:s}}, s:{s:[{s:s, s:s, s:[s, s, s, s, s], s:[{s:i, s:s}],"
		"        s:{s:{s:s, s:s}, s:{s:s, s:s}}, s:{s:{s:s}, s:i, s:i}}]}}},"
		" s:{s:i, s:i, s:i, s:i, s:i, s:s, s:s}}",
		"apiVersion", "apps/v1", "kind", "StatefulSet", "metadata", "name", name, "namespace", "team-cache",
		"uid", uid, "resourceVersion", rv, "generation", 3, "creationTimestamp", "2026-11-21T10:00:00Z",
		"labels", "app.kubernetes.io/name", "memcached", "app.kubernetes.io/instance", name,
		"app.kubernetes.io/component", "pool", "app.kubernetes.io/managed-by", "memshack", "memshack.io/pool",
		"0", "annotations", "memshack.io/applied-digest", "3b5d5c3712955042212316173ccf37be", "note",
		"a longer annotation that users sometimes add to their objects", "ownerReferences", "apiVersion",
		"memshack.io/v1alpha1", "kind", "Memshack", "name", name, "uid", uid, "controller", 1,
		"blockOwnerDeletion", 1, "managedFields", "manager", "memshack", "operation", "Apply", "apiVersion",
		"apps/v1", "time", "2026-11-21T10:00:00Z", "fieldsType", "FieldsV1", "fieldsV1", "f:metadata",
		"f:labels", "f:annotations", "f:ownerReferences", "spec", "replicas", 3, "serviceName",
		"cache-memshack-memcached", "podManagementPolicy", "Parallel", "selector", "matchLabels",
		"app.kubernetes.io/instance", name, "template", "metadata", "labels", "app.kubernetes.io/instance",
		name, "memshack.io/pool", "0", "spec", "containers", "name", "memcached", "image",
		"memcached:1.6-alpine", "args", "-m", "64", "-c", "1024", "-v", "ports", "containerPort", 11211, "name",
		"memcached", "resources", "requests", "cpu", "100m", "memory", "96Mi", "limits", "cpu", "1", "memory",
		"128Mi", "readinessProbe", "tcpSocket", "port", "memcached", "periodSeconds", 5, "failureThreshold", 3,
		"status", "replicas", 3, "readyReplicas", 3, "currentReplicas", 3, "updatedReplicas", 3,
		"observedGeneration", 3, "currentRevision", "cache-memshack-pool-0-5d8f7c9b7", "updateRevision",
		"cache-memshack-pool-0-5d8f7c9b7");
	return o;
}

static void run(const char *label, store_project_fn project, void *ud, int n)
{
	long before = rss_bytes();
	store *s = store_new(project, ud);
	size_t text = 0;
	for (int i = 0; i < n; i++) {
		json_t *o = make_object(i);
		if (i == 0) {
			char *t = json_dumps(o, JSON_COMPACT);
			text = strlen(t);
			free(t);
		}
		if (store_upsert(s, o, NULL)) {
			fprintf(stderr, "store_memory: out of memory\n");
			exit(1);
		}
		json_decref(o);
	}
	long after = rss_bytes();
	printf("%-10s objects=%d source_json=%zuB store_bytes=%zu (%.0f B/object) rss_growth=%ld (%.0f B/object)\n",
	       label, n, text, store_bytes(s), (double)store_bytes(s) / n, after - before,
	       (double)(after - before) / n);
	store_free(s);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	if (n <= 0)
		n = 10000;
	static const char *const status_fields[] = { "replicas", "readyReplicas", "observedGeneration", NULL };
	static const projection_fields keep = { "memshack.io/applied-digest", status_fields };
	/* Projected first so the full run cannot lend it freed pages. */
	run("projected", project_owned_child, (void *)&keep, n);
	run("full", NULL, NULL, n);
	printf("rss_total=%ld\n", rss_bytes());
	return 0;
}
