#!/usr/bin/env bash
# vectors/upstream/generate.sh — regenerate vectors/data/upstream_*.json with
# upstream claudemesh's own functions at the pinned commit. Not part of CI:
# the committed files are data, checked offline by `meshctl vectors verify`
# and by the Node oracle.
#
#   vectors/upstream/generate.sh GIT_DIR_OR_URL [OUTDIR]
#
# GIT_DIR_OR_URL: a git directory holding upstream's history (a bare mirror
# works) or a clone URL (https://github.com/alezmad/claudemesh). OUTDIR
# defaults to vectors/data. Needs git, node and npm; upstream's source is
# extracted to a temporary directory and never committed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
commit=$(sed -n 's/^export const UPSTREAM_COMMIT = "\([0-9a-f]\{40\}\)";$/\1/p' "$here/generate.mjs")
src=${1:?usage: vectors/upstream/generate.sh GIT_DIR_OR_URL [OUTDIR]}
out=${2:-$here/../data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -d "$src" ]; then
	gitdir=$src
else
	git clone --quiet --bare "$src" "$tmp/git"
	gitdir=$tmp/git
fi
mkdir "$tmp/src"
git --git-dir="$gitdir" archive "$commit" apps/cli/src/services apps/cli/src/commands/topic-post.ts apps/broker/src packages/api/src/modules/mesh |
	tar -x -C "$tmp/src"
(cd "$here" && npm ci --no-audit --no-fund --silent)
node "$here/generate.mjs" "$tmp/src" "$out"
