#!/usr/bin/env bash
# make deploy-check: build every image of docker-compose.yml from a locally made Debian base (no image
# registry needed), start the stack with the stand-ins of docker/check/compose.check.yml, drive it from
# outside (docker/check/drive.py), and tear it all down: containers, networks and volumes. Images stay,
# so a second run on the same machine reuses them; nothing assumes they are there.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
export IRIS_BASE_IMAGE=${IRIS_BASE_IMAGE:-iris-base:bookworm}
export IRIS_ENV_FILE=docker/check/check.env IRIS_HTTP_BIND=127.0.0.1 IRIS_HTTP_PORT=${IRIS_CHECK_PORT:-23080}
export COMPOSE_PROJECT_NAME=iris-check COMPOSE_HTTP_TIMEOUT=300
export IRIS_CHECK_URL=http://127.0.0.1:$IRIS_HTTP_PORT
started=$(date +%s)
say() { echo "[deploy-check $(date +%H:%M:%S), +$(( $(date +%s) - started )) s] $*"; }

dockerd_pid=""
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || { echo "no docker daemon and no dockerd (apt-get install docker.io)" >&2; exit 1; }
  say "starting dockerd (stopped again at the end)"
  dockerd >/tmp/iris-check-dockerd.log 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
fi
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
compose+=(-f docker-compose.yml -f docker/check/compose.check.yml)
export IRIS_COMPOSE="${compose[*]}"

finish() {
  status=$?
  if [ "$status" != 0 ]; then
    say "FAILED; the last lines of each service's log:"
    "${compose[@]}" logs --no-color --tail=40 2>&1 | tail -400 || true
  fi
  if [ "${IRIS_CHECK_KEEP:-0}" = 1 ]; then
    say "left running (IRIS_CHECK_KEEP=1); tear down with: COMPOSE_PROJECT_NAME=$COMPOSE_PROJECT_NAME ${compose[*]} down -v"
  else
    say "tearing down (containers, networks, volumes)"
    "${compose[@]}" down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1 || true
  fi
  if [ -n "$dockerd_pid" ]; then kill "$dockerd_pid"; wait "$dockerd_pid" || true; fi
  say "finished with status $status"
}
trap finish EXIT

"${compose[@]}" down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1 || true  # a run cut short before
docker/check/base-image.sh
# pip and npm inside the builds reach their registries through this machine's extra CAs, if it has any.
cp /usr/local/share/ca-certificates/*.crt docker/certs/ 2>/dev/null || true
say "building images"
previous=$(docker image ls -q --filter reference='iris*' | sort -u)
for service in migrate front worker-inspect postgres redis minio; do
  "${compose[@]}" build "$service" >/tmp/iris-check-build-"$service".log 2>&1 \
    || { tail -40 /tmp/iris-check-build-"$service".log; exit 1; }
  say "built $service"
done
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^iris' | sort | sed 's/^/  image /'
# Images that these builds superseded (no tag left) go; the untagged stages the builds reuse stay.
for id in $previous; do
  [ "$(docker image inspect -f '{{len .RepoTags}}' "$id" 2>/dev/null)" = 0 ] && docker rmi "$id" >/dev/null 2>&1 || true
done

say "the GPU image: torch and torchvision as pinned in pyproject.toml, a CUDA build"
docker run --rm iris-gpu python -c "
import tomllib, torch, torchvision
engine = tomllib.load(open('/app/pyproject.toml', 'rb'))['project']['optional-dependencies']['engine']
pins = dict(r.split('==') for r in engine if r.startswith(('torch==', 'torchvision==')))
found = {'torch': torch.__version__.split('+')[0], 'torchvision': torchvision.__version__.split('+')[0]}
assert found == pins, (found, pins)
assert torch.version.cuda, 'not a CUDA build of torch'
print('  torch', torch.__version__, 'CUDA', torch.version.cuda, 'torchvision', torchvision.__version__)"
say "IRIS_DEVICE=cuda on a machine without CUDA: the worker must refuse to start"
if out=$(timeout 120 docker run --rm -e IRIS_DEVICE=cuda iris-gpu celery -A surveys worker -Q gpu 2>&1); then
  echo "$out" | tail -5; echo "the worker started without CUDA" >&2; exit 1
fi
echo "$out" | grep -m1 "IRIS_DEVICE=cuda" | sed 's/^/  /'

say "starting the stack"
"${compose[@]}" up -d postgres redis minio create-bucket migrate web front worker worker-inspect \
  worker-host-a worker-host-b >/tmp/iris-check-up.log 2>&1 || { cat /tmp/iris-check-up.log; exit 1; }
front=$("${compose[@]}" ps -q front)
for _ in $(seq 60); do
  [ "$(docker inspect -f '{{.State.Health.Status}}' "$front")" = healthy ] && break; sleep 2
done
[ "$(docker inspect -f '{{.State.Health.Status}}' "$front")" = healthy ] || { echo "front never became healthy" >&2; exit 1; }
migrate=$("${compose[@]}" ps -a -q migrate)
say "stack up (migrate ran once and exited $(docker inspect -f '{{.State.ExitCode}}' "$migrate"))"

PYTHONPATH=. "$PY" docker/check/drive.py
say "deploy-check passed"
