/*
 * Helpers for integration tests against the local control plane started by
 * tools/testenv/testenv.sh (CTest fixture). KUBECONFIG names its kubeconfig.
 */
#ifndef MEMSHACK_IT_SUPPORT_H
#define MEMSHACK_IT_SUPPORT_H

#include <jansson.h>

#include "kube/kube_client.h"
#include "kube/kube_path.h"

/* A client for a kubeconfig context (NULL = current). Fails the test on error. */
kube_client *it_client(const char *context);

/* Creates a fresh namespace "<prefix>-<pid>-<n>"; returns its name (static storage per call site: copy it). */
const char *it_namespace_create(kube_client *c, const char *prefix, char *buf, size_t len);
void it_namespace_delete(kube_client *c, const char *ns);

/* Path of an object or collection; fails the test on error. Caller frees. */
char *it_path(const kube_resource *r, const char *ns, const char *name, const char *sub);

/* Reads a string at a JSON path of keys ("metadata", "resourceVersion", NULL). Borrowed. */
const char *it_str(json_t *obj, ...);

/* Sleeps ms milliseconds. */
void it_sleep_ms(long ms);

#endif
