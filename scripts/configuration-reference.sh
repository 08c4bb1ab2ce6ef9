#!/usr/bin/env bash
# Regenerates the TOML block of docs/configuration.md from `countersign config defaults`.
set -euo pipefail
cd "$(dirname "$0")/.."
defaults="$(mktemp)"
cargo run -q -p countersign-cli -- config defaults > "$defaults"
python3 - "$defaults" <<'PY'
import sys
defaults = open(sys.argv[1]).read()
path = "docs/configuration.md"
document = open(path).read()
head, rest = document.split("```toml\n", 1)
_, tail = rest.split("```", 1)
open(path, "w").write(head + "```toml\n" + defaults + "```" + tail)
PY
rm -f "$defaults"
