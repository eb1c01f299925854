// Command etcd is upstream etcd's server, built from its Go module so the
// local test control plane does not depend on a prebuilt download.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
