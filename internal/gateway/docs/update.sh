#!/usr/bin/env bash
# Re-fetch the documentation UI that package docs embeds, from the npm
# registry, at a pinned version, and rewrite assets/VERSION.
#
#   ./update.sh            re-fetch the pinned version; the files and VERSION
#                          must come out byte for byte as committed
#   ./update.sh 9.0.25     move to another version of the same package
#
# Needs node/npm (only here: building and testing the Go package does not).
# It uses `npm pack`, which downloads just the package's own tarball and
# checks it against the registry's integrity hash: the web-components bundle
# is self-contained, so no dependency tree is installed and no install
# script runs.
#
# After an update: go test ./internal/gateway/docs (it checks the files
# against VERSION), then open the page in a browser with the network off
# and the console open: the sidebar, an operation and a "Try it" request
# must work with no Content-Security-Policy violation.
set -euo pipefail
cd "$(dirname "$0")"

package=@stoplight/elements
pinned=9.0.15
version=${1:-$pinned}
# The files the page needs (the bundle, its stylesheet), the package's
# licence, and the notices of the libraries bundled into the script.
files=(web-components.min.js styles.min.css LICENSE web-components.min.js.LICENSE.txt)

command -v npm >/dev/null || { echo "update.sh: npm is required" >&2; exit 1; }
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "update.sh: $version is not an exact version" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

npm pack --silent --json --ignore-scripts --pack-destination "$tmp" "$package@$version" >"$tmp/pack.json"
read -r tarball integrity < <(node -e '
  const [p] = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(p.filename, p.integrity);' "$tmp/pack.json")

# The same version must be the same tarball as when it was pinned.
recorded_version=$(sed -n 's/^version: //p' assets/VERSION 2>/dev/null || true)
recorded_integrity=$(sed -n 's/^integrity: //p' assets/VERSION 2>/dev/null || true)
if [[ "$recorded_version" == "$version" && -n "$recorded_integrity" && "$recorded_integrity" != "$integrity" ]]; then
  echo "update.sh: $package@$version is now $integrity, was $recorded_integrity when pinned" >&2
  exit 1
fi

mkdir "$tmp/x"
tar -xzf "$tmp/$tarball" -C "$tmp/x"
got=$(node -p 'const p = require(process.argv[1]); p.name + "@" + p.version' "$tmp/x/package/package.json")
[[ "$got" == "$package@$version" ]] || { echo "update.sh: tarball holds $got" >&2; exit 1; }
for f in "${files[@]}"; do
  [[ -f "$tmp/x/package/$f" ]] || { echo "update.sh: $package@$version has no $f" >&2; exit 1; }
done

# Replace the assets wholesale, so a file the new version dropped goes too.
find assets -mindepth 1 -maxdepth 1 ! -name VERSION -delete
for f in "${files[@]}"; do
  install -m 0644 "$tmp/x/package/$f" "assets/$f"
done

{
  echo "# The documentation UI that package docs embeds and serves. Written by"
  echo "# update.sh: change the version there and run it, do not edit by hand."
  echo "# integrity is the npm tarball's; each file line is sha256sum's format."
  echo "package: $package"
  echo "version: $version"
  echo "integrity: $integrity"
  (cd assets && sha256sum -- "${files[@]}")
} >assets/VERSION

if [[ "$version" != "$pinned" ]]; then
  sed -i "s/^pinned=.*/pinned=$version/" update.sh
fi
echo "$package@$version → $(pwd)/assets"
