#!/usr/bin/env bash
# vectors/upstream/verdicts.sh — feed meshctl's vector files to upstream's
# own verifiers and openers at the pinned commit and print where upstream's
# verdict differs from the file's. Not part of CI; needs git, node, npm.
#
#   vectors/upstream/verdicts.sh GIT_DIR_OR_URL [FILE...]   (default: vectors/data/mesh_*.json)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
commit=$(sed -n 's/^export const UPSTREAM_COMMIT = "\([0-9a-f]\{40\}\)";$/\1/p' "$here/generate.mjs")
src=${1:?usage: vectors/upstream/verdicts.sh GIT_DIR_OR_URL [FILE...]}
shift
[ $# -gt 0 ] || set -- "$here"/../data/mesh_*.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -d "$src" ]; then gitdir=$src; else git clone --quiet --bare "$src" "$tmp/git"; gitdir=$tmp/git; fi
mkdir "$tmp/src"
git --git-dir="$gitdir" archive "$commit" apps/cli/src/services apps/cli/src/commands/topic-post.ts apps/broker/src packages/api/src/modules/mesh | tar -x -C "$tmp/src"
(cd "$here" && npm ci --no-audit --no-fund --silent)
node "$here/generate.mjs" "$tmp/src" --verdicts "$@"
