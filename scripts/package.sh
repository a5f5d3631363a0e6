#!/bin/sh
# Builds vizier's release asset for one target: vizier-<version>-<target>.tar.gz (the `vizier` binary
# at the archive's top level) and its SHA-256 in `sha256sum` format beside it, the line that
# ci/release-checksums.txt pins. The release workflow (.github/workflows/release.yml) runs exactly this
# for each target; `.ci/run` runs it for the host, so the recipe is exercised on every change.
#
#   scripts/package.sh [--target <triple>] [--out <dir>]
#   scripts/package.sh --print-target
#
# --target defaults to the host's release target: on Linux the static musl triple of the host's
# architecture (docs/release.md says why), elsewhere the host's own (rustc -vV); --print-target
# prints it and builds nothing. --out defaults to target/package. The build is
# `cargo build --release --locked --target <triple>` (fat LTO, see Cargo.toml). VIZIER_PACKAGE_BINARY
# names an already built binary to package instead of building one (the tests use it).
# Prints the archive's path as the last line on stdout.
set -eu

say() { printf 'package: %s\n' "$*" >&2; }
die() { say "$*"; exit 3; }

root=$(cd "$(dirname "$0")/.." && pwd)
target=
print_target=
out=$root/target/package
while [ $# -gt 0 ]; do
  case $1 in
    --target) [ $# -ge 2 ] || die "--target needs a value"; target=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a value"; out=$2; shift 2 ;;
    --print-target) print_target=1; shift ;;
    *) say "unknown argument: $1"; exit 2 ;;
  esac
done

if [ -z "$target" ]; then
  host=$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')
  [ -n "$host" ] || die "no --target given and rustc cannot tell the host's"
  case $host in
    *-unknown-linux-gnu) target=${host%-gnu}-musl ;;
    *) target=$host ;;
  esac
fi
if [ -n "$print_target" ]; then
  printf '%s\n' "$target"
  exit 0
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
[ -n "$version" ] || die "no version in $root/Cargo.toml"

if [ -n "${VIZIER_PACKAGE_BINARY:-}" ]; then
  bin=$VIZIER_PACKAGE_BINARY
else
  # What a cross build needs, named before cargo fails on it in its own words.
  if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$target"; then
    die "the Rust standard library for $target is not installed: rustup target add $target"
  fi
  case $target in
    *-linux-musl)
      # libgit2 and zlib are C: the cc crate builds them with <arch>-linux-musl-gcc.
      cc_var=CC_$(printf '%s' "$target" | tr '-' '_')
      musl_cc=$(eval "printf '%s' \"\${$cc_var:-${target%%-*}-linux-musl-gcc}\"")
      command -v "$musl_cc" >/dev/null 2>&1 ||
        die "no C compiler for $target ($musl_cc): install musl-tools (apt-get install musl-tools) or set $cc_var"
      ;;
  esac
  say "cargo build --release --locked --target $target"
  (cd "$root" && cargo build --release --locked --target "$target" >&2)
  bin=${CARGO_TARGET_DIR:-$root/target}/$target/release/vizier
fi
[ -f "$bin" ] && [ -x "$bin" ] || die "no executable vizier at $bin"

asset=vizier-$version-$target.tar.gz
mkdir -p "$out"
stage=$(mktemp -d "${TMPDIR:-/tmp}/vizier-package.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cp "$bin" "$stage/vizier"
chmod 755 "$stage/vizier"
# gzip -n: no name or time in the gzip header. One file, so no order to fix.
tar -cf - -C "$stage" vizier | gzip -n >"$out/$asset.part"
mv "$out/$asset.part" "$out/$asset"
if command -v sha256sum >/dev/null 2>&1; then
  sum=$(sha256sum "$out/$asset" | awk '{ print $1 }')
else
  sum=$(shasum -a 256 "$out/$asset" | awk '{ print $1 }')
fi
printf '%s  %s\n' "$sum" "$asset" >"$out/$asset.sha256"
say "$(cat "$out/$asset.sha256")"
printf '%s\n' "$out/$asset"
