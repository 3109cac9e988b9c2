// The VS Code client of the chaos language server: it starts `chaos lsp` over stdio for .chaos files.
// Plain JavaScript so that the extension needs no build step; `vsce package` ships this file as is.
'use strict';

const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

/** @type {LanguageClient | undefined} */
let client;

/** The command line from the settings: `chaos.server.path lsp ...chaos.server.extraArgs`. */
function serverOptions() {
  const config = vscode.workspace.getConfiguration('chaos');
  const command = config.get('server.path', 'chaos') || 'chaos';
  const extra = config.get('server.extraArgs', []);
  const run = { command, args: ['lsp', ...extra], transport: TransportKind.stdio };
  return { run, debug: run };
}

function clientOptions() {
  return {
    documentSelector: [
      { scheme: 'file', language: 'chaos' },
      { scheme: 'untitled', language: 'chaos' },
    ],
    synchronize: {
      // Imported files may change on disk; the server re-checks the open files that depend on them.
      fileEvents: vscode.workspace.createFileSystemWatcher('**/*.chaos'),
    },
  };
}

async function start() {
  client = new LanguageClient('chaos', 'Chaos language server', serverOptions(), clientOptions());
  try {
    await client.start();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    vscode.window.showErrorMessage(
      `Could not start \`chaos lsp\` (${message}). Install the chaos binary or set "chaos.server.path".`,
    );
  }
}

async function stop() {
  if (client) {
    const running = client;
    client = undefined;
    await running.stop();
  }
}

/** @param {vscode.ExtensionContext} context */
async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('chaos.restartServer', async () => {
      await stop();
      await start();
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration('chaos.server')) {
        await stop();
        await start();
      }
    }),
  );
  await start();
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate, serverOptions };
