// Checks that the extension is ready to package: every file package.json points at exists and
// parses, and the client starts `chaos lsp` (with stand-ins for `vscode` and the client library,
// which only load inside the editor).
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');

const root = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

test('package.json has what vsce needs', () => {
  assert.match(pkg.engines.vscode, /^\^1\.\d+\.\d+$/);
  assert.ok(pkg.publisher && pkg.name && pkg.version && pkg.displayName);
  assert.ok(fs.existsSync(path.join(root, pkg.main)), `main ${pkg.main} exists`);
  assert.ok(pkg.activationEvents.includes('onLanguage:chaos'));
  assert.ok(fs.existsSync(path.join(root, 'README.md')), 'README.md exists');
});

test('contributed files exist and parse', () => {
  const { languages, grammars, snippets } = pkg.contributes;
  assert.deepStrictEqual(languages[0].extensions, ['.chaos']);
  const config = JSON.parse(fs.readFileSync(path.join(root, languages[0].configuration), 'utf8'));
  assert.strictEqual(config.comments.lineComment, '#');
  assert.deepStrictEqual(config.brackets, [['{', '}'], ['(', ')']]);
  const grammar = JSON.parse(fs.readFileSync(path.join(root, grammars[0].path), 'utf8'));
  assert.strictEqual(grammar.scopeName, grammars[0].scopeName);
  const snips = JSON.parse(fs.readFileSync(path.join(root, snippets[0].path), 'utf8'));
  for (const item of ['scenario', 'service', 'endpoint', 'workload', 'fault', 'expect']) {
    assert.ok(Object.values(snips).some((s) => s.prefix === item), `a snippet for ${item}`);
  }
});

test('every include in the grammar resolves', () => {
  const grammar = JSON.parse(fs.readFileSync(path.join(root, 'syntaxes/chaos.tmLanguage.json'), 'utf8'));
  const includes = [];
  const walk = (node) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      if (typeof node.include === 'string') includes.push(node.include);
      Object.values(node).forEach(walk);
    }
  };
  walk(grammar);
  assert.ok(includes.length > 10);
  for (const inc of includes) {
    assert.ok(inc.startsWith('#') && grammar.repository[inc.slice(1)], `include ${inc} resolves`);
  }
});

/** Loads src/extension.js with `vscode` replaced by a small stand-in, returning what it recorded. */
function loadExtension(settings) {
  const recorded = { commands: [], errors: [], clients: [] };
  class LanguageClient {
    constructor(id, name, server, client) {
      this.args = { id, name, server, client };
      this.started = false;
      recorded.clients.push(this);
    }
    async start() {
      this.started = true;
    }
    async stop() {
      this.started = false;
    }
  }
  const languageclient = { LanguageClient, TransportKind: { stdio: 0, ipc: 1, pipe: 2, socket: 3 } };
  const vscode = {
    workspace: {
      getConfiguration: () => ({ get: (key, dflt) => (key in settings ? settings[key] : dflt) }),
      createFileSystemWatcher: (glob) => ({ glob, dispose() {} }),
      onDidChangeConfiguration: () => ({ dispose() {} }),
    },
    window: { showErrorMessage: (m) => recorded.errors.push(m) },
    commands: {
      registerCommand: (name) => {
        recorded.commands.push(name);
        return { dispose() {} };
      },
    },
  };
  const original = Module._load;
  Module._load = function (request, ...rest) {
    if (request === 'vscode') return vscode;
    if (request === 'vscode-languageclient/node') return languageclient;
    return original.call(this, request, ...rest);
  };
  try {
    delete require.cache[require.resolve('../src/extension.js')];
    return { ext: require('../src/extension.js'), recorded };
  } finally {
    Module._load = original;
  }
}

test('the client runs `chaos lsp` over stdio', () => {
  const { ext } = loadExtension({});
  const options = ext.serverOptions();
  assert.strictEqual(options.run.command, 'chaos');
  assert.deepStrictEqual(options.run.args, ['lsp']);
  assert.strictEqual(options.run.transport, 0 /* TransportKind.stdio */);
});

test('the server path and extra arguments come from the settings', () => {
  const { ext } = loadExtension({ 'server.path': '/opt/chaos/bin/chaos', 'server.extraArgs': ['--log', 'debug'] });
  const options = ext.serverOptions();
  assert.strictEqual(options.run.command, '/opt/chaos/bin/chaos');
  assert.deepStrictEqual(options.run.args, ['lsp', '--log', 'debug']);
});

test('activation starts one client for chaos documents and registers the restart command', async () => {
  const { ext, recorded } = loadExtension({});
  const context = { subscriptions: [] };
  await ext.activate(context);
  assert.strictEqual(recorded.clients.length, 1);
  const client = recorded.clients[0];
  assert.ok(client.started);
  assert.strictEqual(client.args.id, 'chaos');
  assert.deepStrictEqual(
    client.args.client.documentSelector.map((s) => s.language),
    ['chaos', 'chaos'],
  );
  assert.deepStrictEqual(recorded.commands, ['chaos.restartServer']);
  assert.deepStrictEqual(recorded.errors, []);
  await ext.deactivate();
  assert.ok(!client.started);
});
