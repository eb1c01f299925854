#include "it_support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

kube_client *it_client(const char *context)
{
	kube_config_options o = { 0 };
	kube_config_options_from_env(&o);
	o.context = context;
	kube_config *cfg = NULL;
	kube_error err = KUBE_ERROR_INIT;
	if (kube_config_load(&o, &cfg, &err)) {
		print_message("config: %s\n", kube_strerror(&err));
		kube_error_release(&err);
		fail();
	}
	kube_client *c = NULL;
	if (kube_client_new(cfg, NULL, &c, &err)) {
		print_message("client: %s\n", kube_strerror(&err));
		kube_error_release(&err);
		fail();
	}
	kube_config_free(cfg);
	return c;
}

char *it_path(const kube_resource *r, const char *ns, const char *name, const char *sub)
{
	kube_error err = KUBE_ERROR_INIT;
	char *p = kube_path(r, ns, name, sub, &err);
	if (!p) {
		print_message("path: %s\n", kube_strerror(&err));
		kube_error_release(&err);
		fail();
	}
	return p;
}

const char *it_namespace_create(kube_client *c, const char *prefix, char *buf, size_t len)
{
	static int counter;
	snprintf(buf, len, "%s-%d-%d-%ld", prefix, (int)getpid(), ++counter, (long)(time(NULL) % 100000));
	json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", buf);
	char *path = it_path(&KUBE_RES_NAMESPACES, NULL, NULL, NULL);
	kube_error err = KUBE_ERROR_INIT;
	if (kube_create(c, path, ns, NULL, &err)) {
		print_message("create namespace: %s\n", kube_strerror(&err));
		kube_error_release(&err);
		fail();
	}
	free(path);
	json_decref(ns);
	return buf;
}

void it_namespace_delete(kube_client *c, const char *ns)
{
	char *path = it_path(&KUBE_RES_NAMESPACES, NULL, ns, NULL);
	kube_error err = KUBE_ERROR_INIT;
	if (kube_delete(c, path, "Background", NULL, &err) && !kube_error_is_not_found(&err))
		fprintf(stderr, "deleting namespace %s: %s\n", ns, kube_strerror(&err));
	kube_error_release(&err);
	free(path);
}

const char *it_str(json_t *obj, ...)
{
	va_list ap;
	va_start(ap, obj);
	const char *k;
	while ((k = va_arg(ap, const char *)) != NULL)
		obj = json_object_get(obj, k);
	va_end(ap);
	return json_string_value(obj);
}

void it_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}
