#include "operator/gateway_probe.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mcproto/mcconn.h"

int gateway_probe_digest(const char *ip, int port, int timeout_ms, char digest[static 33], char *err, size_t errlen)
{
	mcconn c = MCCONN_INIT(timeout_ms);
	char portstr[16], value[64] = "";
	bool found = false;
	snprintf(portstr, sizeof portstr, "%d", port);
	digest[0] = '\0';
	if (mcconn_dial(&c, ip, portstr, err, errlen))
		return -1;
	int rc = mcconn_get(&c, "__mcrouter__.config_md5_digest", value, sizeof value, &found);
	mcconn_close(&c);
	if (rc || !found) {
		snprintf(err, errlen, "%s:%d: %s", ip, port,
			 rc ? (value[0] ? "unexpected reply" : "no answer") : "no config digest (not mcrouter?)");
		return -1;
	}
	size_t n = strlen(value);
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)value[i]))
			n = 0;
	if (n != 32) {
		snprintf(err, errlen, "%s:%d: config digest '%.40s' is not an md5", ip, port, value);
		return -1;
	}
	memcpy(digest, value, 33);
	return 0;
}
