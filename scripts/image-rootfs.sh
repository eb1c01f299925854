#!/bin/sh
# Assembles the operator image's root filesystem (run inside the Dockerfile's
# build stage): BINARY at /usr/local/bin/memshack, every shared library it
# loads and the dynamic loader, as ldd resolves them (copied under the name the
# loader asks for, so symlinks need not be kept), the CA bundle, passwd/group
# entries for the non-root user 65532, and an empty /tmp.
# Usage: image-rootfs.sh BINARY ROOTFS
set -eu
bin=$1 root=$2
mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp"
chmod 1777 "$root/tmp"
cp "$bin" "$root/usr/local/bin/memshack"
# "libfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)" and the loader's "/lib64/ld-linux-x86-64.so.2 (0x...)".
libs=$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
[ -n "$libs" ] || { echo "image-rootfs: ldd found no libraries in $bin" >&2; exit 1; }
for lib in $libs; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
unresolved=$(ldd "$bin" | grep 'not found' || true)
if [ -n "$unresolved" ]; then
  echo "image-rootfs: unresolved libraries:" >&2
  echo "$unresolved" >&2
  exit 1
fi
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
# Every file is read-only to the user that runs: owned by root.
chown -R 0:0 "$root"
echo "image-rootfs: $(echo "$libs" | wc -w) libraries, $(du -sh "$root" | cut -f1) in $root"
