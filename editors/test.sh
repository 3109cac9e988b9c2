#!/usr/bin/env bash
# Installs what the editor integrations need (npm packages, Vim) and runs their tests:
#   - VS Code: the TextMate grammar on annotated samples (vscode-tmgrammar-test), the extension's
#     package checks (node's test runner), and a real `vsce package`;
#   - Vim: syntax groups on every example and scenario, filetype detection, indentation;
#   - tree-sitter (when the `tree-sitter` CLI is installed): generate, corpus and highlight tests,
#     every scenario parses (tree-sitter-chaos/test.sh).
# The language server and the keyword-set check are Rust tests (`cargo test -p chaos-lsp` and the
# `editors_lsp` end-to-end tests); `.ci/run` runs those with the rest of the workspace.
# Usage: editors/test.sh   (from anywhere)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

step() { printf '\n--> %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
apt_install() {
  if command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
  fi
}

command -v npm >/dev/null 2>&1 || apt_install nodejs npm
# vim-tiny has no syntax highlighting: the tests need a full Vim.
if ! vim --version 2>/dev/null | grep -q '+syntax'; then apt_install vim; fi

step "VS Code extension: npm ci"
cd "$here/vscode"
npm ci --no-audit --no-fund --loglevel=error

step "VS Code extension: TextMate grammar tests and package checks"
npm test --silent

step "VS Code extension: vsce package"
vsix="$(mktemp -d)/chaos-lang.vsix"
npx --no-install vsce package --allow-missing-repository --skip-license --out "$vsix" >/dev/null
test -s "$vsix"
echo "packaged $(du -h "$vsix" | cut -f1) $vsix"
rm -rf "$(dirname "$vsix")"

step "Vim: syntax, filetype and indentation"
"$here/vim/test/run.sh"

step "tree-sitter: generate, corpus and highlight tests, every scenario parses"
if command -v tree-sitter >/dev/null 2>&1; then
  "$here/tree-sitter-chaos/test.sh"
else
  echo "SKIPPED: tree-sitter is not installed (cargo install tree-sitter-cli --version 0.27.1 --locked)"
fi

echo "editor tests passed"
