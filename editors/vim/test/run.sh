#!/usr/bin/env bash
# Tests the Vim syntax, filetype detection and indentation on the spec examples, the repository's
# scenarios and the VS Code grammar samples (headless Vim, no user configuration).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

files=()
# scenarios/ includes the spec's examples (scenarios/spec/); a missing folder is a failure
for dir in "$repo/scenarios" "$repo/scenarios/spec" "$repo/editors/vscode/tests"; do
  [ -d "$dir" ] || { echo "vim syntax: $dir not found"; exit 1; }
done
for dir in "$repo/scenarios" "$repo/editors/vscode/tests"; do
  while IFS= read -r f; do files+=("$f"); done < <(find "$dir" -name '*.chaos' | sort)
done

status=0
CHAOS_VIM_OUT="$out" vim -Nu NONE -i NONE -n -es \
  -c "set rtp^=$here" -c 'filetype plugin indent on' -c 'syntax on' \
  -S "$here/test/check.vim" -- "${files[@]}" || status=$?
cat "$out"
if [ "$status" -ne 0 ]; then
  echo "vim syntax: FAILED"
  exit 1
fi

# Indentation: re-indenting a formatted file must not change it.
sample="$here/test/indent.chaos"
reindented="$(mktemp)"
trap 'rm -f "$out" "$reindented"' EXIT
vim -Nu NONE -i NONE -n -es -c "set rtp^=$here" -c 'filetype plugin indent on' \
  -c "edit $sample" -c 'normal! gg=G' -c "write! $reindented" -c 'qall!'
if ! diff -u "$sample" "$reindented"; then
  echo "vim indent: FAILED (re-indenting $sample changed it)"
  exit 1
fi
echo "vim syntax and indent: ok"
