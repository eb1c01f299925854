#include "core/gateway.h"

#include "core/memshack_spec.h"

#include <stdio.h>

json_t *gateway_meta(const char *name, const char *ns, json_t *base)
{
	if (!json_is_object(base))
		return NULL; /* base could not be built: no metadata without its labels and owner */
	json_t *m = json_pack("{s:s, s:s}", "name", name, "namespace", ns);
	const char *k;
	json_t *v;
	json_object_foreach (base, k, v) {
		if (json_object_set_new(m, k, json_deep_copy(v))) {
			json_decref(m);
			return NULL;
		}
	}
	return m;
}

int gateway_set_owner(json_t *meta, const char *kind, const char *name, const char *uid)
{
	if (!meta)
		return -1;
	if (!uid)
		return 0;
	return json_object_set_new(meta, "ownerReferences",
				   json_pack("[{s:s, s:s, s:s, s:s, s:b, s:b}]", "apiVersion", MEMSHACK_API_VERSION,
					     "kind", kind, "name", name, "uid", uid, "controller", 1,
					     "blockOwnerDeletion", 1))
		       ? -1
		       : 0;
}

json_t *gateway_schedule(json_t *podspec, json_t *node_selector, json_t *tolerations, const char *priority_class,
			 bool want_anti, json_t *anti)
{
	bool ok = podspec != NULL;
	if (ok && node_selector && json_object_size(node_selector))
		ok = !json_object_set(podspec, "nodeSelector", node_selector);
	if (ok && tolerations && json_array_size(tolerations))
		ok = !json_object_set(podspec, "tolerations", tolerations);
	if (ok && priority_class)
		ok = !json_object_set_new(podspec, "priorityClassName", json_string(priority_class));
	if (ok && want_anti) {
		ok = !json_object_set_new(podspec, "affinity",
					  json_pack("{s:{s:[o]}}", "podAntiAffinity",
						    "preferredDuringSchedulingIgnoredDuringExecution", anti));
		anti = NULL; /* stolen, even on failure */
	}
	json_decref(anti);
	if (!ok) {
		json_decref(podspec);
		return NULL;
	}
	return podspec;
}

json_t *gateway_container_security(void)
{
	return json_pack("{s:b, s:b, s:b, s:{s:[s]}}", "allowPrivilegeEscalation", 0, "readOnlyRootFilesystem", 1,
			 "runAsNonRoot", 1, "capabilities", "drop", "ALL");
}

json_t *gateway_pod_security(int uid)
{
	return json_pack("{s:b, s:i, s:i, s:i, s:{s:s}}", "runAsNonRoot", 1, "runAsUser", uid, "runAsGroup", uid,
			 "fsGroup", uid, "seccompProfile", "type", "RuntimeDefault");
}

json_t *gateway_config_map(const gateway_params *p, const char *config_text, const char *config_md5)
{
	json_t *cm =
		json_pack("{s:s, s:s, s:o, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata",
			  gateway_meta(p->config_map, p->namespace, p->metadata), "data", "config.json", config_text);
	if (cm && json_object_set_new(json_object_get(cm, "metadata"), "annotations",
				      json_pack("{s:s}", MEMSHACK_CONFIG_MD5_ANNOTATION, config_md5))) {
		json_decref(cm);
		return NULL;
	}
	return cm;
}

json_t *gateway_deployment(const gateway_params *p)
{
	char port[16];
	snprintf(port, sizeof port, "%d", p->port);
	/*
	 * TKO probes: mcrouter marks a server down after 3 failures and probes it
	 * every 10 s, doubling to 60 s; writes to it fail meanwhile. A memcached
	 * pod that restarts is back in seconds, so probe every 1 s, at most every
	 * 5 s (measured on the real data plane: 13.9 s of failed writes after a
	 * 15 s outage with the defaults). extraArgs come later and win.
	 */
	json_t *args = json_pack("[s, s, s, s, s]", "--config=file:/etc/mcrouter/config.json", "-p", port,
				 "--probe-timeout-initial=1000", "--probe-timeout-max=5000");
	if (args && p->extra_args && json_array_extend(args, p->extra_args)) {
		json_decref(args);
		args = NULL; /* the container below fails to build */
	}
	json_t *resources = p->resources ? json_deep_copy(p->resources)
					 : json_pack("{s:{s:s, s:s}, s:{s:s}}", "requests", "cpu", "50m", "memory",
						     "64Mi", "limits", "memory", "256Mi");
	json_t *container = json_pack(
		"{s:s, s:s, s:[s], s:o, s:[{s:s, s:i, s:s}], s:{s:{s:s}, s:i, s:i}, s:{s:{s:s}, s:i, s:i, s:i}, s:o, s:o,"
		" s:[{s:s, s:s, s:b}, {s:s, s:s}, {s:s, s:s}]}",
		"name", "mcrouter", "image", p->image, "command", "mcrouter", "args", args, "ports", "name", "mcrouter",
		"containerPort", p->port, "protocol", "TCP", "readinessProbe", "tcpSocket", "port", "mcrouter",
		"periodSeconds", 5, "failureThreshold", 2, "livenessProbe", "tcpSocket", "port", "mcrouter",
		"initialDelaySeconds", 15, "periodSeconds", 10, "failureThreshold", 3, "resources", resources,
		"securityContext", gateway_container_security(), "volumeMounts", "name", "config", "mountPath",
		"/etc/mcrouter", "readOnly", 1, "name", "spool", "mountPath", "/var/spool/mcrouter", "name", "state",
		"mountPath", "/var/mcrouter");
	/* The ConfigMap is mounted as a directory (never subPath) so mcrouter sees updates and reloads. */
	json_t *podspec = json_pack("{s:[o], s:[{s:s, s:{s:s}}, {s:s, s:{}}, {s:s, s:{}}], s:o, s:b, s:i}",
				    "containers", container, "volumes", "name", "config", "configMap", "name",
				    p->config_map, "name", "spool", "emptyDir", "name", "state", "emptyDir",
				    "securityContext", gateway_pod_security(MEMSHACK_MCROUTER_UID),
				    "automountServiceAccountToken", 0, "terminationGracePeriodSeconds", 30);
	json_t *anti = p->spread
			       ? json_pack("{s:i, s:{s:{s:O}, s:s}}", "weight", 100, "podAffinityTerm", "labelSelector",
					   "matchLabels", p->selector, "topologyKey", "kubernetes.io/hostname")
			       : NULL;
	if (podspec && p->sidecar && json_array_append(json_object_get(podspec, "containers"), p->sidecar)) {
		json_decref(podspec);
		podspec = NULL;
	}
	/* NULL when anything failed: the Deployment below then fails to build, never one without its scheduling. */
	podspec = gateway_schedule(podspec, p->node_selector, p->tolerations, p->priority_class, p->spread, anti);
	json_t *meta = gateway_meta(p->name, p->namespace, p->metadata);
	json_t *tpl_labels = meta ? json_deep_copy(json_object_get(meta, "labels")) : NULL;
	return json_pack("{s:s, s:s, s:o, s:{s:i, s:{s:O}, s:{s:{s:o}, s:o}, s:i}}", "apiVersion", "apps/v1", "kind",
			 "Deployment", "metadata", meta, "spec", "replicas", p->replicas, "selector", "matchLabels",
			 p->selector, "template", "metadata", "labels", tpl_labels, "spec", podspec,
			 "revisionHistoryLimit", 3);
}

json_t *gateway_service(const gateway_params *p)
{
	json_t *svc = json_pack("{s:s, s:s, s:o, s:{s:s, s:O, s:[{s:s, s:i, s:s, s:s}]}}", "apiVersion", "v1", "kind",
				"Service", "metadata", gateway_meta(p->name, p->namespace, p->metadata), "spec", "type",
				"ClusterIP", "selector", p->selector, "ports", "name", "mcrouter", "port", p->port,
				"targetPort", "mcrouter", "protocol", "TCP");
	if (svc && p->metrics_port &&
	    json_array_append(json_object_get(json_object_get(svc, "spec"), "ports"), p->metrics_port)) {
		json_decref(svc);
		return NULL;
	}
	return svc;
}

json_t *gateway_pdb(const gateway_params *p)
{
	return json_pack("{s:s, s:s, s:o, s:{s:i, s:{s:O}}}", "apiVersion", "policy/v1", "kind", "PodDisruptionBudget",
			 "metadata", gateway_meta(p->name, p->namespace, p->metadata), "spec", "maxUnavailable", 1,
			 "selector", "matchLabels", p->selector);
}
