#!/usr/bin/env bash
# Make sure the local base image exists: a minimal Debian bookworm made with debootstrap, since no
# image registry may be reachable. Reuses, in order: the image already in this docker daemon, a
# tarball cached by an earlier run on this machine, or a fresh debootstrap (then cached as a tarball).
set -euo pipefail
IMAGE=${IRIS_BASE_IMAGE:-iris-base:bookworm}
CACHE=${IRIS_DEPLOY_CACHE:-/var/cache/iris-deploy}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
tarball="$CACHE/$(echo "$IMAGE" | tr ':/' '__').tar"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base image $IMAGE: in the docker daemon"; exit 0
fi
if [ -s "$tarball" ]; then
  echo "base image $IMAGE: loading $tarball"; docker load -i "$tarball" >/dev/null; exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }
root=$(mktemp -d /tmp/iris-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base image $IMAGE: debootstrap bookworm into $root (a few minutes)"
debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$MIRROR" >"$root.log" 2>&1 \
  || { tail -20 "$root.log" >&2; exit 1; }
rm -f "$root.log"
# The same apt behaviour as the machine that builds (a snapshot mirror may serve old Release files),
# and no documentation or caches in every layer above.
cat >"$root/etc/apt/apt.conf.d/90iris" <<'CONF'
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
CONF
printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n' \
  >"$root/etc/dpkg/dpkg.cfg.d/90iris-nodoc"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
tar -C "$root" -c . | docker import -c 'CMD ["/bin/bash"]' -c 'ENV LANG=C.UTF-8' - "$IMAGE" >/dev/null
mkdir -p "$CACHE" && docker save -o "$tarball.tmp" "$IMAGE" && mv "$tarball.tmp" "$tarball"
echo "base image $IMAGE: made and cached in $tarball"
