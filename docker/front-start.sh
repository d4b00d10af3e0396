#!/bin/sh
# The front server's start (docker/Dockerfile, target front): what docker/nginx.conf needs of
# docker/.env, the image links' secret and the bucket's address, written into the file it includes;
# then nginx, with an empty environment, so that the rest of docker/.env stays out of it.
set -eu
secret="${IRIS_IMAGE_LINK_SECRET:-}"
origin="${AWS_S3_ENDPOINT_URL:-http://minio:9000}/${AWS_STORAGE_BUCKET_NAME:-iris}/stimuli/"
case "$secret" in *[!A-Za-z0-9_-]*)
    echo "IRIS_IMAGE_LINK_SECRET: letters, digits, '-' and '_' only" >&2; exit 1 ;;
esac
case "$origin" in *[!A-Za-z0-9:/._-]*)
    echo "AWS_S3_ENDPOINT_URL or AWS_STORAGE_BUCKET_NAME is not a plain URL or name: $origin" >&2; exit 1 ;;
esac
mkdir -p /run/iris-front
umask 077  # read by nginx's master (root) only
# Empty: the location answers 404, and every image goes through Django (IRIS_IMAGE_ACCEL_PREFIX).
printf 'set $iris_image_link_secret "%s";\nset $iris_image_origin "%s";\n' "$secret" "$origin" \
    >/run/iris-front/image-link.conf
exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin nginx -g 'daemon off;'
