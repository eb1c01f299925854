/*
 * Benchmark: the pure core's speed — parse a 256-shard x 4-replica Memshack,
 * build every child object and the mcrouter config, repeatedly for about
 * two seconds; prints renders per second as JSON. Not a test.
 *
 *   build/bench/bench_render [shards replicas]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/memshack_desired.h"
#include "core/memshack_spec.h"
#include "util/clock.h"

int main(int argc, char **argv)
{
	int shards = argc > 2 ? atoi(argv[1]) : 256, replicas = argc > 2 ? atoi(argv[2]) : 4;
	json_t *ms = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:i, s:i, s:i}}", "apiVersion", "memshack.io/v1alpha1",
			       "kind", "Memshack", "metadata", "name", "big", "namespace", "default", "uid",
			       "00000000-0000-4000-8000-000000000000", "spec", "numShards", shards, "numReplicas",
			       replicas, "mcrouterPoolSize", 4);
	char err[512];
	size_t bytes = 0, objects = 0;
	long n = 0;
	int64_t start = clock_mono_us(), took;
	do {
		memshack_spec *s = NULL;
		memshack_desired d;
		if (memshack_spec_parse(ms, &s, err, sizeof err) ||
		    memshack_desired_build(s, &(gateway_env){ .cluster_domain = "cluster.local" }, &d, err,
					   sizeof err)) {
			fprintf(stderr, "bench_render: %s\n", err);
			return 1;
		}
		bytes = strlen(d.config_text);
		objects = json_array_size(d.objects);
		memshack_desired_release(&d);
		memshack_spec_free(s);
		n++;
	} while ((took = clock_mono_us() - start) < 2000000);
	printf("{\"shards\": %d, \"replicas\": %d, \"renders\": %ld, \"seconds\": %.3f, \"renders_per_second\": %.1f, "
	       "\"ms_per_render\": %.3f, \"config_bytes\": %zu, \"objects\": %zu}\n",
	       shards, replicas, n, (double)took / 1e6, (double)n * 1e6 / (double)took, (double)took / 1e3 / (double)n,
	       bytes, objects);
	json_decref(ms);
	return 0;
}
