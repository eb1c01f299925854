/*
 * memshack — the operator's command line.
 *
 *   memshack check [--kubeconfig PATH] [--context NAME]
 *       Loads the configuration, connects, and reports the server version and
 *       the identity the server sees. Exit 0 when both work.
 *   memshack version
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_client.h"
#include "kube/kube_config.h"
#include "kube/kube_path.h"

#ifndef MEMSHACK_VERSION
#define MEMSHACK_VERSION "0.1.0"
#endif

static void usage(FILE *f)
{
	fputs("usage: memshack <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  check     connect to the API server and report its version and who we are\n"
	      "  version   print memshack's version\n"
	      "\n"
	      "options (check):\n"
	      "  --kubeconfig PATH   kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)\n"
	      "  --context NAME      kubeconfig context (default: current-context)\n",
	      f);
}

static int fail(kube_error *err)
{
	fprintf(stderr, "memshack: error: %s\n", kube_strerror(err));
	kube_error_release(err);
	return 1;
}

static int cmd_check(int argc, char **argv)
{
	kube_config_options opts = { 0 };
	kube_config_options_from_env(&opts);
	static const struct option longopts[] = { { "kubeconfig", required_argument, NULL, 'k' },
						  { "context", required_argument, NULL, 'c' },
						  { "help", no_argument, NULL, 'h' },
						  { NULL, 0, NULL, 0 } };
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'k': opts.kubeconfig = optarg; break;
		case 'c': opts.context = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	kube_error err = KUBE_ERROR_INIT;
	kube_config *cfg = NULL;
	if (kube_config_load(&opts, &cfg, &err))
		return fail(&err);
	kube_client *c = NULL;
	int rc = kube_client_new(cfg, NULL, &c, &err);
	kube_config_free(cfg);
	if (rc)
		return fail(&err);
	json_t *ver = NULL, *review = NULL, *resp = NULL;
	char *path = NULL;
	if (kube_get(c, "/version", &ver, &err))
		goto failed;
	review = json_pack("{s:s, s:s}", "apiVersion", "authentication.k8s.io/v1", "kind", "SelfSubjectReview");
	if (!(path = kube_path(&KUBE_RES_SELFSUBJECTREVIEWS, NULL, NULL, NULL, &err)))
		goto failed;
	if (kube_create(c, path, review, &resp, &err))
		goto failed;
	const char *user =
		json_string_value(json_object_get(json_object_get(json_object_get(resp, "status"), "userInfo"), "username"));
	const char *version = json_string_value(json_object_get(ver, "gitVersion"));
	printf("server %s: Kubernetes %s, authenticated as %s, namespace %s\n", kube_client_server(c),
	       version ? version : "(unknown version)", user ? user : "(anonymous)", kube_client_namespace(c));
	json_decref(ver);
	json_decref(review);
	json_decref(resp);
	free(path);
	kube_client_free(c);
	return 0;
failed:
	json_decref(ver);
	json_decref(review);
	json_decref(resp);
	free(path);
	kube_client_free(c);
	return fail(&err);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "check"))
		return cmd_check(argc - 1, argv + 1);
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("memshack %s\n", MEMSHACK_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "memshack: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
