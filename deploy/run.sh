#!/usr/bin/env bash
# Builds and runs one Bastion container on a Docker host.
#   deploy/run.sh [--host-gateway]      (secrets in deploy/.env, mode 0600)
# --host-gateway maps host.docker.internal to the host, for an Ollama on the host; it is
# off by default because it opens a path from the container to every host service.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
env_file="${BASTION_ENV_FILE:-$here/.env}"
name="${BASTION_CONTAINER:-bastion}"
port="${BASTION_PORT:-127.0.0.1:8080}"
add_host=()
if [[ "${1:-}" == "--host-gateway" ]]; then
    add_host=(--add-host=host.docker.internal:host-gateway)
fi

# Secrets are read from a file, never passed as arguments (which `ps` shows to everyone).
if [[ ! -f "$env_file" ]]; then
    echo "run.sh: $env_file is missing; copy deploy/.env.example and fill it in" >&2
    exit 1
fi
key="$(sed -n 's/^WEBUI_SECRET_KEY=//p' "$env_file" | tail -n 1)"
case "$key" in
    "" | t0p-s3cr3t | changeme | change-me | secret | secret-key | secretkey)
        echo "run.sh: set WEBUI_SECRET_KEY in $env_file to a random value of 32+ characters" >&2
        exit 1
        ;;
esac
if ((${#key} < 32)); then
    echo "run.sh: WEBUI_SECRET_KEY is shorter than 32 characters" >&2
    exit 1
fi

# The base image by digest: a tag can be re-pointed upstream, a digest cannot. The
# Dockerfile ships an all-zero digest (nothing to pull); then the tag is resolved here, on
# the machine that builds, and the digest printed so that it can be written down for good.
zero="sha256:0000000000000000000000000000000000000000000000000000000000000000"
base="${PYTHON_IMAGE:-$(sed -n 's/^ARG PYTHON_IMAGE=//p' "$here/Dockerfile")}"
if [[ "$base" == *"@$zero" ]]; then
    tag="${base%@*}"
    digest="$(docker buildx imagetools inspect "$tag" --format '{{json .Manifest.Digest}}' \
        | tr -d '"')" || digest=""
    if [[ "$digest" != sha256:* ]]; then
        echo "run.sh: could not resolve $tag to a digest; set PYTHON_IMAGE=$tag@sha256:..." >&2
        exit 1
    fi
    base="$tag@$digest"
    echo "run.sh: building on $base (write it into deploy/Dockerfile to keep it)" >&2
fi
if [[ "$base" != *@sha256:* ]]; then
    echo "run.sh: PYTHON_IMAGE=$base is not pinned by digest; use name:tag@sha256:..." >&2
    exit 1
fi

version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$root/src/bastion/__init__.py")"
image="bastion:$version"
docker build --file "$here/Dockerfile" --build-arg "PYTHON_IMAGE=$base" --tag "$image" "$root"

# Keep the running image as the rollback target; prune only images older than it.
previous="$(docker inspect --format '{{.Config.Image}}' "$name" 2>/dev/null || true)"
for old in $(docker images bastion --format '{{.Repository}}:{{.Tag}}'); do
    if [[ "$old" != "$image" && "$old" != "$previous" ]]; then
        docker rmi "$old" >/dev/null || true
    fi
done

docker rm --force "$name" >/dev/null 2>&1 || true
docker run --detach \
    --name "$name" \
    --env-file "$env_file" \
    --volume bastion-data:/app/data \
    --read-only --tmpfs /tmp \
    --cap-drop ALL --security-opt no-new-privileges:true \
    --restart unless-stopped \
    --publish "$port:8080" \
    "${add_host[@]}" \
    "$image"
echo "run.sh: $image started as $name (rollback: $previous)"
