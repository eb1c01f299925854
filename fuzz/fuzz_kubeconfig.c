/*
 * libFuzzer harness: the kubeconfig parser (YAML or JSON text, every field,
 * contexts, clusters, users, base64 blobs, exec plugin settings). Parsing
 * never runs a plugin; paths resolve against a folder that does not exist.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kube/kube_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kube_config *cfg = NULL;
	kube_error err = KUBE_ERROR_INIT;
	int rc = kube_config_parse((const char *)data, size, "fuzz", "/nonexistent-memshack-fuzz", NULL, &cfg, &err);
	if (rc == 0 && !cfg)
		abort();
	if (rc != 0 && (cfg || !kube_strerror(&err)[0]))
		abort(); /* a refusal always says why */
	kube_config_free(cfg);
	kube_error_release(&err);
	return 0;
}
