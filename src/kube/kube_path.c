#include "kube/kube_path.h"

#include <string.h>

#include "util/sbuf.h"

#define RES(id, g, v, p, k, ns) const kube_resource id = { g, v, p, k, ns }
RES(KUBE_RES_NAMESPACES, "", "v1", "namespaces", "Namespace", false);
RES(KUBE_RES_CONFIGMAPS, "", "v1", "configmaps", "ConfigMap", true);
RES(KUBE_RES_SECRETS, "", "v1", "secrets", "Secret", true);
RES(KUBE_RES_SERVICES, "", "v1", "services", "Service", true);
RES(KUBE_RES_PODS, "", "v1", "pods", "Pod", true);
RES(KUBE_RES_SERVICEACCOUNTS, "", "v1", "serviceaccounts", "ServiceAccount", true);
RES(KUBE_RES_NODES, "", "v1", "nodes", "Node", false);
RES(KUBE_RES_DEPLOYMENTS, "apps", "v1", "deployments", "Deployment", true);
RES(KUBE_RES_STATEFULSETS, "apps", "v1", "statefulsets", "StatefulSet", true);
RES(KUBE_RES_ENDPOINTSLICES, "discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true);
RES(KUBE_RES_PODDISRUPTIONBUDGETS, "policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true);
RES(KUBE_RES_NETWORKPOLICIES, "networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true);
RES(KUBE_RES_SERVICEMONITORS, "monitoring.coreos.com", "v1", "servicemonitors", "ServiceMonitor", true);
RES(KUBE_RES_LEASES, "coordination.k8s.io", "v1", "leases", "Lease", true);
RES(KUBE_RES_EVENTS, "events.k8s.io", "v1", "events", "Event", true);
RES(KUBE_RES_CRDS, "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false);
RES(KUBE_RES_SELFSUBJECTREVIEWS, "authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", false);

bool kube_name_valid(const char *s)
{
	if (!s || !*s || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++)
		if (*p == '/' || *p == '%' || *p == '?' || *p == '#' || *p <= ' ' || *p >= 0x7f)
			return false;
	return n <= 253;
}

/* group, version, plural: lowercase letters, digits, '.', '-'. */
static bool segment_valid(const char *s, bool may_be_empty)
{
	if (!s || !*s)
		return may_be_empty;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			return false;
	return strlen(s) <= 253;
}

char *kube_path(const kube_resource *res, const char *ns, const char *name, const char *subresource, kube_error *err)
{
	if (!res || !segment_valid(res->group, true) || !segment_valid(res->version, false) ||
	    !segment_valid(res->plural, false)) {
		kube_error_set(err, KUBE_ERR_INVALID, "invalid resource (group/version/plural)");
		return NULL;
	}
	bool all_ns = res->namespaced && (!ns || !*ns);
	if (res->namespaced && !all_ns && !kube_name_valid(ns)) {
		kube_error_set(err, KUBE_ERR_INVALID, "invalid namespace '%.80s'", ns);
		return NULL;
	}
	if (name && !kube_name_valid(name)) {
		kube_error_set(err, KUBE_ERR_INVALID, "invalid %s name '%.80s'", res->plural, name);
		return NULL;
	}
	if (name && all_ns) {
		kube_error_set(err, KUBE_ERR_INVALID, "%s '%.80s': a namespaced object needs a namespace", res->plural,
			       name);
		return NULL;
	}
	if (subresource && (!name || !segment_valid(subresource, false))) {
		kube_error_set(err, KUBE_ERR_INVALID, "invalid subresource '%.80s'", subresource);
		return NULL;
	}
	sbuf sb = SBUF_INIT;
	int r = 0;
	if (!res->group || !*res->group)
		r |= sbuf_addf(&sb, "/api/%s", res->version);
	else
		r |= sbuf_addf(&sb, "/apis/%s/%s", res->group, res->version);
	if (res->namespaced && !all_ns)
		r |= sbuf_addf(&sb, "/namespaces/%s", ns);
	r |= sbuf_addf(&sb, "/%s", res->plural);
	if (name)
		r |= sbuf_addf(&sb, "/%s", name);
	if (subresource)
		r |= sbuf_addf(&sb, "/%s", subresource);
	if (r) {
		sbuf_release(&sb);
		kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
		return NULL;
	}
	return sbuf_detach(&sb);
}

char *kube_api_version(const kube_resource *res)
{
	sbuf sb = SBUF_INIT;
	int r = (res->group && *res->group) ? sbuf_addf(&sb, "%s/%s", res->group, res->version)
					    : sbuf_adds(&sb, res->version);
	if (r) {
		sbuf_release(&sb);
		return NULL;
	}
	return sbuf_detach(&sb);
}

char *kube_path_query(const char *path, const char *const *kv)
{
	sbuf sb = SBUF_INIT;
	int r = sbuf_adds(&sb, path);
	char sep = strchr(path, '?') ? '&' : '?';
	for (size_t i = 0; kv && kv[i]; i += 2) {
		if (!kv[i + 1])
			continue;
		r |= sbuf_addch(&sb, sep);
		r |= sbuf_add_urlencoded(&sb, kv[i]);
		r |= sbuf_addch(&sb, '=');
		r |= sbuf_add_urlencoded(&sb, kv[i + 1]);
		sep = '&';
	}
	if (r) {
		sbuf_release(&sb);
		return NULL;
	}
	return sbuf_detach(&sb);
}
