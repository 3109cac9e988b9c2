// Tokenizes every real scenario (the spec examples and the repository's scenarios/) with the
// TextMate grammar, as VS Code would, and checks that each keyword of the language is scoped as a
// keyword (not as a plain name) wherever it is used as one, and that no line leaves the grammar in
// an unfinished state (an unclosed string or block rule running into the next line).
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const root = path.join(__dirname, '..');
const repo = path.join(root, '..', '..');

function exampleFiles() {
  const dirs = [path.join(repo, '..', 'shared', 'spec', 'examples'), path.join(repo, 'scenarios')];
  const files = [];
  const walk = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.chaos')) files.push(p);
    }
  };
  dirs.forEach(walk);
  return files.sort();
}

async function loadGrammar() {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm')).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () => {
      const file = path.join(root, 'syntaxes', 'chaos.tmLanguage.json');
      return vsctm.parseRawGrammar(fs.readFileSync(file, 'utf8'), file);
    },
  });
  return registry.loadGrammar('source.chaos');
}

// The language's keywords, read from the pest grammar's crate (`chaos_grammar::KEYWORDS`).
function keywords() {
  const lib = fs.readFileSync(path.join(repo, 'grammar', 'src', 'lib.rs'), 'utf8');
  const list = lib.match(/pub const KEYWORDS: &\[&str\] = &\[([^\]]*)\]/);
  assert.ok(list, 'KEYWORDS in grammar/src/lib.rs');
  return new Set([...list[1].matchAll(/"([a-z_]+)"/g)].map((m) => m[1]));
}

test('keywords in real scenarios are scoped as keywords', async () => {
  const grammar = await loadGrammar();
  const words = keywords();
  assert.ok(words.size > 50, `${words.size} keywords`);
  const files = exampleFiles();
  assert.ok(files.length >= 3, `found ${files.length} scenario files`);
  const problems = [];
  let checked = 0;
  for (const file of files) {
    let state = vsctm.INITIAL;
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      const result = grammar.tokenizeLine(line, state);
      state = result.ruleStack;
      for (const token of result.tokens) {
        const text = line.slice(token.startIndex, token.endIndex);
        const scopes = token.scopes.join(' ');
        // Comments, strings, `$param` names and declared names may spell a keyword.
        if (/comment|string|variable\.other\.constant|entity\.name/.test(scopes)) continue;
        for (const word of text.match(/[a-z_][a-z0-9_-]*/g) || []) {
          if (words.has(word)) {
            checked += 1;
            const ok = /keyword|storage\.type|constant\.language|support\.function|variable\.parameter/.test(scopes);
            if (!ok) problems.push(`${path.relative(repo, file)}:${i + 1}: \`${word}\` is ${scopes}`);
          }
        }
      }
      // Every rule the grammar has is a one-line match or a string closed on its line.
      assert.strictEqual(state.depth, 1, `${file}:${i + 1}: a rule is still open at the end of the line`);
    });
  }
  assert.ok(checked > 100, `checked ${checked} keywords`);
  assert.deepStrictEqual(problems, []);
});
