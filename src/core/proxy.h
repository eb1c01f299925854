/*
 * proxy — the MemcachedProxy resource (memshack.io/v1alpha1): mcrouter in
 * front of an existing memcached Service, following its EndpointSlices. Pure.
 *
 * Servers come from the EndpointSlices labelled
 * kubernetes.io/service-name=<serviceName>:
 *  - an endpoint with a hostname (StatefulSet pods behind a headless Service)
 *    is addressed by its stable FQDN <hostname>.<service>.<ns>.svc.<domain>,
 *    others by IP ([v6] in brackets);
 *  - the port is resolved from spec.servicePort: a Service port number maps
 *    through the Service's port list to its name, a name is used directly,
 *    and the slice port of that name gives the target port;
 *  - IPv4 slices are used when any exist, else IPv6 (dual-stack Services list
 *    each pod twice); duplicates across slices are dropped;
 *  - order is natural order of the pod name (targetRef), else hostname, else
 *    address: pod-2 before pod-10, and a restarted pod with a new IP keeps
 *    its place, so consistent hashing does not move keys.
 * Not-ready endpoints: a Sharded pool keeps every endpoint that is not
 * terminating (membership stays stable while a pod restarts: mcrouter fails
 * fast on it instead of remapping its keys to other shards); a Replicated
 * pool routes only to ready endpoints (every server holds every key).
 */
#ifndef MEMSHACK_CORE_PROXY_H
#define MEMSHACK_CORE_PROXY_H

#include <jansson.h>
#include <stdbool.h>

#include "core/gateway.h"
#include "core/memshack_spec.h"
#include "util/must_use.h"

typedef enum proxy_pool { PROXY_SHARDED, PROXY_REPLICATED } proxy_pool;
extern const char *const proxy_pool_names[];

extern const spec_int_field proxy_int_fields[];
extern const size_t proxy_n_int_fields;
extern const spec_str_field proxy_str_fields[];
extern const size_t proxy_n_str_fields;

typedef struct proxy_spec {
	char *name, *namespace, *uid;
	long long generation;
	char *service_name;
	char *service_port; /* a number or a port name, as text */
	bool port_is_number;
	proxy_pool pool;
	int replicas;
	int port;
	char *mcrouter_image;
	mc_read_policy read_policy;
	mc_write_policy write_policy;
	int server_timeout_ms;
	json_t *mcrouter_args;
	json_t *mcrouter_resources;
	monitoring_spec
		monitoring; /* spec.monitoring (the gateway exporter, a ServiceMonitor) and spec.networkPolicy */
} proxy_spec;

MEMSHACK_MUST_USE int proxy_spec_parse(json_t *obj, proxy_spec **ret, char *err, size_t errlen);
void proxy_spec_free(proxy_spec *p);

typedef enum proxy_servers_result {
	PROXY_SERVERS_OK,
	PROXY_NO_SERVICE,    /* the Service does not exist */
	PROXY_NO_PORT,       /* the Service has no such port */
	PROXY_NO_ENDPOINTS,  /* no usable endpoint */
	PROXY_SERVERS_NOMEM, /* the list could not be built: decide nothing from it */
} proxy_servers_result;

/*
 * The server list (a new JSON array of "host:port" strings) from `service`
 * (borrowed, NULL if missing) and `slices` (a borrowed array of the
 * Service's EndpointSlices). Returns the result; *ret_servers is set (maybe
 * empty) unless PROXY_NO_SERVICE / PROXY_NO_PORT / PROXY_SERVERS_NOMEM (never
 * a shorter list for lack of memory). why gets a one-line reason.
 */
proxy_servers_result proxy_servers(const proxy_spec *p, json_t *service, json_t *slices, const char *domain,
				   json_t **ret_servers, char *why, size_t whylen);
/* The condition reason of a result: NULL for PROXY_SERVERS_OK, else "ServiceNotFound", "PortNotFound", "NoEndpoints", "OutOfMemory". */
const char *proxy_servers_reason(proxy_servers_result r);

/*
 * The MemcachedProxy status (new reference; NULL on no memory), built on old
 * (borrowed: its conditions keep their transition times): Ready, Degraded
 * and Progressing from the servers result (pr, why), the gateway pods ready
 * and a failed apply (apply_error, or NULL); servers (borrowed) and the
 * config digest as written; ServiceMonitorReady from sm
 * (monitoring_set_condition). Pure.
 */
json_t *proxy_status_build(const proxy_spec *p, proxy_servers_result pr, const char *why, json_t *servers, int ready,
			   const char *apply_error, json_t *old, const char *domain, const char *config_md5,
			   const char *now, monitoring_sm_state sm);

typedef struct proxy_desired {
	json_t *objects;
	char *config_text;
	char config_md5[33];
} proxy_desired;

/*
 * Objects for the proxy: ConfigMap <name>-proxy-config, Deployment/Service/PDB
 * <name>-proxy; with spec.networkPolicy a NetworkPolicy <name>-proxy over the
 * gateway pods, with spec.monitoring.serviceMonitor a ServiceMonitor
 * <name>-proxy (core/monitoring.h). env: the exporter image, the operator's
 * namespace.
 */
MEMSHACK_MUST_USE int proxy_desired_build(const proxy_spec *p, json_t *servers, const gateway_env *env,
					  proxy_desired *out, char *err, size_t errlen);
/* How many objects proxy_desired_build makes for p. */
size_t proxy_desired_count(const proxy_spec *p);
void proxy_desired_release(proxy_desired *d);
char *proxy_gateway_name(const proxy_spec *p, char *buf, size_t len);

#define PROXY_LABEL "memshack.io/memcachedproxy"

#endif
