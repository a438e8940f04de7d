#!/usr/bin/env bash
# Builds and installs Citus (distributed PostgreSQL) for the machine's PostgreSQL 15 from the
# vendored upstream source, because no Citus package is reachable from Debian 12.
#
# Usage: tools/citus/build.sh [--force]
#
# Env:
#   CITUS_VENDOR_DIR  where citus-<version>.tar.gz and its patch are
#                     (default: shared/vendor next to the repository's directory)
#   PG_CONFIG         the pg_config of the PostgreSQL to build for
#                     (default: /usr/lib/postgresql/15/bin/pg_config)
#   CITUS_BUILD_JOBS  make -j (default: the number of CPUs)
#
# Does nothing when this exact build (version, source and patch checksums) is installed:
# the installed citus.control must name the source's default_version and a stamp written
# after `make install` must match. --force rebuilds anyway.
# Needs root (apt-get, make install); uses sudo when run as another user.
set -euo pipefail

CITUS_VERSION=13.2.2
# Checksums of the vendored files: a different tarball or patch is a different build.
TARBALL_SHA256=c8fc76dc8294636a52b1a0dd75a20d8b4a36937df6443e30ca84d8d0464a6bb9
PATCH_SHA256=fb8e8e6de3273566390d56c781ce946156366ef2a4aa85243cb8f3285d530a2b
BUILD_DEPS=(postgresql-server-dev-15 liblz4-dev libzstd-dev libcurl4-openssl-dev libkrb5-dev build-essential)

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
vendor_dir=${CITUS_VENDOR_DIR:-$repo_root/../shared/vendor}
pg_config=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
jobs=${CITUS_BUILD_JOBS:-$(nproc)}
tarball=$vendor_dir/citus-$CITUS_VERSION.tar.gz
patch_file=$vendor_dir/citus-$CITUS_VERSION-pg15.20.patch

fail() { echo "build.sh: $*" >&2; exit 1; }

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "run as root (apt-get and make install need it), or install sudo."
  sudo=(sudo)
fi

[ -x "$pg_config" ] || fail "no pg_config at $pg_config: install postgresql-15 (Debian) or set PG_CONFIG."
for file in "$tarball" "$patch_file"; do
  [ -r "$file" ] || fail "missing $file: set CITUS_VENDOR_DIR to the directory holding citus-$CITUS_VERSION.tar.gz and its patch."
done

stamp_wanted="citus $CITUS_VERSION tarball $TARBALL_SHA256 patch $PATCH_SHA256 pg $("$pg_config" --version)"

# pg_config --sharedir/--pkglibdir work without the server-dev package, so the check can run
# before any apt-get.
extension_dir="$("$pg_config" --sharedir)/extension"
stamp_file=$extension_dir/citus.build-stamp
installed_version() {
  sed -n "s/^default_version = '\(.*\)'$/\1/p" "$extension_dir/citus.control" 2>/dev/null || true
}
source_version=$(tar -xzOf "$tarball" "citus-$CITUS_VERSION/src/backend/distributed/citus.control" |
  sed -n "s/^default_version = '\(.*\)'$/\1/p")

if [ "$force" -eq 0 ] &&
  [ -f "$("$pg_config" --pkglibdir)/citus.so" ] &&
  [ "$(installed_version)" = "$source_version" ] &&
  [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp_wanted" ]; then
  echo "Citus $CITUS_VERSION (extension version $source_version) is already installed for $("$pg_config" --version); nothing to do."
  exit 0
fi

echo "== checksums of the vendored source"
echo "$TARBALL_SHA256  $tarball" | sha256sum -c --quiet - || fail "$tarball is not the expected Citus $CITUS_VERSION source."
echo "$PATCH_SHA256  $patch_file" | sha256sum -c --quiet - || fail "$patch_file is not the expected patch."

echo "== Debian build dependencies"
missing=()
for package in "${BUILD_DEPS[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "all present"
fi

started=$(date +%s)
build_dir=$(mktemp -d "${TMPDIR:-/tmp}/citus-build.XXXXXX")
log=$build_dir/build.log
trap 'rm -rf "$build_dir"' EXIT
# Prints the end of the (long) build log when a step fails, then stops.
run() {
  if ! "$@" >>"$log" 2>&1; then
    echo "build.sh: '$*' failed; the end of its log:" >&2
    tail -n 60 "$log" >&2
    exit 1
  fi
}

echo "== unpack and patch in $build_dir"
tar -xzf "$tarball" -C "$build_dir"
cd "$build_dir/citus-$CITUS_VERSION"
run patch -p1 -i "$patch_file"

echo "== configure"
run ./configure PG_CONFIG="$pg_config"
echo "== make -j$jobs (a few minutes)"
run make -j"$jobs"
echo "== make install"
run "${sudo[@]}" make install PG_CONFIG="$pg_config"

[ "$(installed_version)" = "$source_version" ] ||
  fail "make install finished but $extension_dir/citus.control does not say default_version '$source_version'."
echo "$stamp_wanted" | "${sudo[@]}" tee "$stamp_file" >/dev/null

echo "Citus $CITUS_VERSION installed for $("$pg_config" --version) in $(($(date +%s) - started)) s (build and install)."
