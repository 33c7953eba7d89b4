#!/usr/bin/env bash
# tierup's container image, without a Docker daemon: cross-compiles a static
# binary (CGO_ENABLED=0; SQLite is modernc's pure Go) for linux/amd64 and
# linux/arm64 and writes a multi-platform OCI image layout with
# cmd/tierup-image (go-containerregistry). Nothing is pushed.
#
#   scripts/image.sh              # writes build/image
#   scripts/image.sh DIR          # writes DIR (an earlier layout there is replaced)
#
# TIERUP_IMAGE_PLATFORMS (default "linux/amd64 linux/arm64") picks the
# platforms; SOURCE_DATE_EPOCH overrides the creation time (default: the
# commit's time, so a commit always gives the same digests).
#
# The binaries carry the commit (tierup --version, and the image's labels are
# read from them). Go stamps it only when .git is a directory, so from a git
# worktree (.git is a file) the committed HEAD is built from a temporary
# shared clone, and uncommitted changes are left out (with a warning).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'image.sh: %s\n' "$*" >&2; exit 1; }

OUT="${1:-build/image}"
[[ "$OUT" = /* ]] || OUT="$ROOT/$OUT"
PLATFORMS="${TIERUP_IMAGE_PLATFORMS:-linux/amd64 linux/arm64}"
CA_CERTS="${TIERUP_IMAGE_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"

command -v go >/dev/null || die "Go is not installed"
command -v git >/dev/null || die "git is not installed (the image is labelled with the commit)"
git rev-parse --git-dir >/dev/null 2>&1 || die "not a git checkout: the image is labelled with the commit"
[[ -r "$CA_CERTS" ]] || die "no CA bundle at $CA_CERTS (Debian: apt-get install ca-certificates; or set TIERUP_IMAGE_CA_CERTS)"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

SRC="$ROOT"
if [[ ! -d .git ]]; then
  if [[ -n "$(git status --porcelain --untracked-files=no)" ]]; then
    say "warning: uncommitted changes are not in the image (building HEAD $(git rev-parse --short HEAD) from a clone)"
  fi
  SRC="$WORK/src"
  git clone --quiet --shared --no-checkout "$ROOT" "$SRC"
  git -C "$SRC" checkout --quiet --detach "$(git rev-parse HEAD)"
fi

args=()
for p in $PLATFORMS; do
  os="${p%/*}" arch="${p#*/}"
  bin="$WORK/bin/$os-$arch/tierup"
  say "building tierup for $p"
  # -trimpath keeps the build host's paths out of the binary; -buildvcs=true
  # overrides a GOFLAGS=-buildvcs=false in the environment.
  (cd "$SRC" && CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" \
    go build -trimpath -buildvcs=true -ldflags='-s -w' -o "$bin" ./cmd/tierup)
  args+=(--platform "$p=$bin")
done

say "writing the image layout to $OUT"
mkdir -p "$(dirname "$OUT")"
go run ./cmd/tierup-image --out "$OUT" --ca-certs "$CA_CERTS" "${args[@]}"
