#!/usr/bin/env bash
# `pnpm demo` (the README's first command): installs what is missing on a fresh machine with Node.js 20 (pnpm,
# PostgreSQL, Redis from Debian; the workspace's packages), builds the Ballast packages, then plays the story
# against the example inference service in Ballast mode and in naive mode (demo/run.ts). Arguments go to run.ts:
# --quick (the short CI story, fails if Ballast is worse than naive anywhere), --out DIR, --screenshot.
set -euo pipefail
cd "$(dirname "$0")/../../.."

# (--screenshot installs Chromium itself when it is missing: demo/screenshot.ts.)
source .ci/prerequisites

step "install"
"${PNPM[@]}" install --frozen-lockfile --reporter=silent
step "build"
"${PNPM[@]}" run build >/dev/null
step "demo"
cd examples/inference-service
exec node_modules/.bin/tsx demo/run.ts "$@"
