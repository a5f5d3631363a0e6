#!/bin/sh
# Installs or locates the vizier binary for the GitHub Action (action.yml); usable on its own.
#
# In this order:
#   1. VIZIER_PATH set: that binary is used as it is (it must be an executable file);
#   2. a release asset pinned in ci/release-checksums.txt for VIZIER_VERSION (default: the version in
#      the action's Cargo.toml) and this machine: downloaded, its SHA-256 checked against the pin, unpacked;
#      a mismatch is an error, never a fallback;
#   3. else, when no other version was asked for, the action's own source: the build in
#      VIZIER_BUILD_DIR when one is there (restored from the cache), else `cargo install --locked
#      --path` of the action's folder (vizier's repository at the ref the workflow named) into it.
# A VIZIER_VERSION with no pinned asset is an error: this script never installs a crate by name.
#
# `install-vizier.sh --cache-key` installs nothing: when step 3 is what would happen, it prints (and
# writes to $GITHUB_OUTPUT) `hash=` the SHA-256 of the source the build is made from (Cargo.lock,
# Cargo.toml, every file under src/ and hooks/, with their names) and `dir=` the folder to cache and build in;
# else it prints nothing. The action keys its cache with them.
#
# Inputs (environment): VIZIER_PATH, VIZIER_VERSION, VIZIER_ACTION_PATH (the action's folder; default:
# this script's parent folder), VIZIER_INSTALL_DIR (default: $RUNNER_TEMP/vizier-$$ or /tmp/vizier-$$),
# VIZIER_BUILD_DIR (where the source build lives; default: VIZIER_INSTALL_DIR), VIZIER_RELEASE_URL
# (base of release downloads: https:// or file://; default: the action repository's GitHub releases,
# from VIZIER_ACTION_REPOSITORY). Output: the binary's absolute path, as the last line on stdout and as
# `path` in $GITHUB_OUTPUT when that is set; the binary's folder is added to $GITHUB_PATH when set.
set -eu

say() { printf 'install-vizier: %s\n' "$*" >&2; }
die() { say "$*"; exit 3; }

action=${VIZIER_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}

finish() {
  bin=$1
  [ -f "$bin" ] && [ -x "$bin" ] || die "no executable vizier at $bin"
  case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf 'path=%s\n' "$bin" >>"$GITHUB_OUTPUT"
  fi
  if [ -n "${GITHUB_PATH:-}" ]; then
    dirname "$bin" >>"$GITHUB_PATH"
  fi
  say "using $bin"
  printf '%s\n' "$bin"
  exit 0
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$@"
  else
    shasum -a 256 "$@"
  fi
}

mode=install
# The files `cargo build` reads from the action's folder; the cache key hashes them
# (tests/integration/ci_release.rs checks that every file src/ includes is among them).
build_inputs="Cargo.toml Cargo.lock build.rs src hooks"
case ${1:-} in
  --cache-key) mode=cache-key ;;
  "") ;;
  *) say "unknown argument: $1 (the only one is --cache-key)"; exit 2 ;;
esac

if [ -n "${VIZIER_PATH:-}" ]; then
  [ "$mode" = cache-key ] && exit 0
  finish "$VIZIER_PATH"
fi

source_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$action/Cargo.toml" 2>/dev/null | head -n 1)
version=${VIZIER_VERSION:-$source_version}
version=${version#v}
[ -n "$version" ] || die "no version: set vizier-version, or vizier-path, or run from vizier's source"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) target=x86_64-unknown-linux-musl ;;
  Linux-aarch64 | Linux-arm64) target=aarch64-unknown-linux-musl ;;
  Darwin-x86_64) target=x86_64-apple-darwin ;;
  Darwin-arm64) target=aarch64-apple-darwin ;;
  *) target=unknown ;;
esac
asset=vizier-$version-$target.tar.gz
install_dir=${VIZIER_INSTALL_DIR:-${RUNNER_TEMP:-/tmp}/vizier-$$}

# The pin: lines of `<sha256>  <asset file name>`, as sha256sum prints them; `#` starts a comment.
pinned=$(awk -v asset="$asset" '$1 !~ /^#/ && $2 == asset { print $1; exit }' \
  "$action/ci/release-checksums.txt" 2>/dev/null || true)

if [ "$mode" = cache-key ]; then
  # Only a source build is cached: nothing to key when an asset is pinned or another version is asked.
  [ -z "$pinned" ] || exit 0
  [ -z "${VIZIER_VERSION:-}" ] || [ "$version" = "$source_version" ] || exit 0
  [ -f "$action/Cargo.lock" ] || exit 0
  # What the build reads: the manifest and lock, the source, and the files src/ includes (hooks/).
  hash=$(cd "$action" && set -- && for p in $build_inputs; do if [ -e "$p" ]; then set -- "$@" "$p"; fi; done &&
    find "$@" -type f -exec sh -c '
      if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@"; else shasum -a 256 "$@"; fi' sh {} + |
    LC_ALL=C sort -k 2 | sha256 | awk '{ print $1 }')
  dir=${VIZIER_BUILD_DIR:-${RUNNER_TEMP:-/tmp}/vizier-build}
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf 'hash=%s\ndir=%s\n' "$hash" "$dir" >>"$GITHUB_OUTPUT"
  fi
  printf 'hash=%s\ndir=%s\n' "$hash" "$dir"
  exit 0
fi

if [ -n "$pinned" ]; then
  case ${VIZIER_RELEASE_URL:-https://} in
    https://* | file://*) ;;
    *) die "VIZIER_RELEASE_URL must start with https:// or file://: $VIZIER_RELEASE_URL" ;;
  esac
  base=${VIZIER_RELEASE_URL:-https://github.com/${VIZIER_ACTION_REPOSITORY:?VIZIER_ACTION_REPOSITORY is not set}/releases/download}
  url=$base/v$version/$asset
  mkdir -p "$install_dir"
  archive=$install_dir/$asset
  say "downloading $url"
  curl --fail --silent --show-error --location --proto '=https,file' --proto-redir '=https' \
    --retry 3 --output "$archive" "$url" || die "download of $url failed"
  actual=$(sha256 "$archive" | awk '{ print $1 }')
  if [ "$actual" != "$pinned" ]; then
    rm -f "$archive"
    die "checksum mismatch for $asset: pinned $pinned, downloaded $actual; refusing to install"
  fi
  tar -xzf "$archive" -C "$install_dir"
  rm -f "$archive"
  finish "$install_dir/vizier"
fi

if [ -n "${VIZIER_VERSION:-}" ] && [ "$version" != "$source_version" ]; then
  die "no release asset of vizier $version for $target is pinned in ci/release-checksums.txt; leave vizier-version empty to build this action's source ($source_version), or set vizier-path"
fi
build_dir=${VIZIER_BUILD_DIR:-$install_dir}
if [ -f "$build_dir/bin/vizier" ] && [ -x "$build_dir/bin/vizier" ]; then
  say "using the cached build of this action's source in $build_dir"
  finish "$build_dir/bin/vizier"
fi
[ -f "$action/Cargo.lock" ] || die "$action has no Cargo.lock to build from"
command -v "${CARGO:-cargo}" >/dev/null 2>&1 || die "no release asset is pinned for $asset and cargo is not installed; set vizier-path"
say "no release asset pinned for $asset: building from source with cargo install --locked"
"${CARGO:-cargo}" install --locked --path "$action" --root "$build_dir" >&2
finish "$build_dir/bin/vizier"
