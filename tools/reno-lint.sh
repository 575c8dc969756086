#!/usr/bin/env bash
# reno lint, on a shallow clone too: reno walks the whole git history and
# fails at a shallow clone's edge, so there it lints a one-commit copy of
# the notes (the same copy releasenotes/source/conf.py builds from).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(git rev-parse --is-shallow-repository 2>/dev/null)" != true ]; then
    exec reno lint
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/releasenotes"
cp -r releasenotes/notes "$scratch/releasenotes/"
cd "$scratch"
git init -q
git add -A
git -c user.name=nova-bm -c user.email=nova-bm@localhost commit -q -m notes
reno lint
