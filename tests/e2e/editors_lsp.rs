//! End-to-end: `chaos lsp` spoken to over JSON-RPC on its stdin/stdout, as an editor would:
//! initialize, open a file with an error, receive the diagnostic, hover, complete, go to
//! definition (across an import on disk), find references, rename, format, shut down.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{chaos, run, scratch};

/// No single answer may take longer than this: a hung server fails the test instead of hanging it.
const TIMEOUT: Duration = Duration::from_secs(30);

struct Server {
    child: Child,
    /// `None` once closed.
    stdin: Option<ChildStdin>,
    messages: Receiver<Value>,
    next_id: i64,
    /// Notifications received while waiting for answers.
    notifications: Vec<Value>,
}

impl Server {
    fn start() -> Server {
        Server::start_with(&["lsp"])
    }

    fn start_with(args: &[&str]) -> Server {
        let mut child = chaos()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("chaos lsp starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length:") {
                        length = v.trim().parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; length.expect("a Content-Length header")];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let message: Value = serde_json::from_slice(&body).expect("a JSON message");
                if tx.send(message).is_err() {
                    return;
                }
            }
        });
        Server {
            child,
            stdin: Some(stdin),
            messages,
            next_id: 0,
            notifications: Vec::new(),
        }
    }

    fn send(&mut self, message: &Value) {
        let body = serde_json::to_vec(message).unwrap();
        let stdin = self.stdin.as_mut().expect("stdin is open");
        write!(stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
        stdin.write_all(&body).unwrap();
        stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    fn next_message(&mut self) -> Value {
        self.messages
            .recv_timeout(TIMEOUT)
            .expect("chaos lsp answers in time")
    }

    /// Sends a request and returns its `result` (panics on an error answer).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let answer = self.request_raw(method, params);
        assert!(answer.get("error").is_none(), "{method} failed: {answer}");
        answer["result"].clone()
    }

    fn request_raw(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let message = self.next_message();
            if message["id"] == json!(id) {
                return message;
            }
            self.notifications.push(message);
        }
    }

    /// The next `publishDiagnostics` for `uri` (already received or still to come).
    fn diagnostics_for(&mut self, uri: &str) -> Vec<Value> {
        let is_for = |m: &Value| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
        };
        if let Some(i) = self.notifications.iter().position(is_for) {
            let m = self.notifications.remove(i);
            return m["params"]["diagnostics"].as_array().unwrap().clone();
        }
        loop {
            let m = self.next_message();
            if is_for(&m) {
                return m["params"]["diagnostics"].as_array().unwrap().clone();
            }
            self.notifications.push(m);
        }
    }

    fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "chaos", "version": 1, "text": text } }),
        );
    }

    /// `shutdown`, `exit`, and the exit status of the process.
    fn stop(mut self) -> i32 {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        self.wait_exit().expect("chaos lsp exits after `exit`")
    }

    /// The exit code once the process has ended, or `None` if it is still running after the timeout.
    fn wait_exit(&mut self) -> Option<i32> {
        let deadline = std::time::Instant::now() + TIMEOUT;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A failed assertion must not leave the server running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// The LSP position (line, UTF-16 column; ASCII here) of the `n`th `needle`, plus `delta`.
fn position(text: &str, needle: &str, n: usize, delta: usize) -> Value {
    let offset = text
        .match_indices(needle)
        .nth(n)
        .unwrap_or_else(|| panic!("`{needle}` #{n}"))
        .0
        + delta;
    let line = text[..offset].matches('\n').count();
    let col = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    json!({ "line": line, "character": col })
}

const TOPOLOGY: &str = "\
service gateway {
  workers 16
  endpoint \"GET /checkout\" {
    call payments \"POST /charge\" timeout 300ms
  }
}

service payments {
  workers 8
  latency exponential(mean = 12ms)
  endpoint \"POST /charge\" { }
}
";

const MAIN: &str = "\
import \"topology.chaos\"

scenario \"checkout\" {
  duration 5m
}

workload shoppers {
  target gateway \"GET /checkout\"
  rate 100/s
}

fault slow at 1m for 30s {
  latency +100ms on paymnets
}

expect {
  p99(gateway \"GET /checkout\") < 800ms during slow
}
";

#[test]
fn an_editor_session_with_chaos_lsp() {
    let dir = scratch("lsp-session");
    std::fs::write(dir.join("topology.chaos"), TOPOLOGY).unwrap();
    std::fs::write(dir.join("main.chaos"), MAIN).unwrap();
    let main_uri = file_uri(&dir.join("main.chaos"));
    let topo_uri = file_uri(&dir.join("topology.chaos"));

    let mut server = Server::start();
    let init = server.request(
        "initialize",
        json!({ "processId": null, "rootUri": null, "capabilities": {} }),
    );
    let caps = &init["capabilities"];
    for cap in [
        "hoverProvider",
        "definitionProvider",
        "referencesProvider",
        "documentSymbolProvider",
        "documentFormattingProvider",
    ] {
        assert_eq!(caps[cap], json!(true), "{cap} in {caps}");
    }
    assert!(
        caps["completionProvider"].is_object()
            && caps["renameProvider"]["prepareProvider"] == json!(true)
    );
    assert_eq!(init["serverInfo"]["name"], "chaos lsp");
    server.notify("initialized", json!({}));

    // The typo gets the diagnostic `chaos check` prints, on the same span.
    server.open(&main_uri, MAIN);
    let diags = server.diagnostics_for(&main_uri);
    let errors: Vec<&Value> = diags.iter().filter(|d| d["severity"] == 1).collect();
    assert_eq!(errors.len(), 1, "{diags:#?}");
    let error = errors[0];
    assert_eq!(error["code"], "E0101");
    assert_eq!(error["source"], "chaos");
    let first_line = error["message"]
        .as_str()
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        first_line,
        "unknown service `paymnets`; did you mean `payments`?"
    );
    assert_eq!(error["range"]["start"], position(MAIN, "paymnets", 0, 0));
    assert_eq!(
        error["range"]["end"],
        position(MAIN, "paymnets", 0, "paymnets".len())
    );
    let check = run(&["check", dir.join("main.chaos").to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        stderr.contains(&first_line),
        "chaos check says the same:\n{stderr}"
    );
    assert!(
        stderr.contains("main.chaos:13:21"),
        "and points at the same place:\n{stderr}"
    );

    // Fixing it clears the error.
    let fixed = MAIN.replace("paymnets", "payments");
    server.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": main_uri, "version": 2 }, "contentChanges": [{ "text": fixed }] }),
    );
    let diags = server.diagnostics_for(&main_uri);
    assert!(diags.iter().all(|d| d["severity"] != 1), "{diags:#?}");

    // Hover: a keyword's meaning and unit.
    let hover = server.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": main_uri }, "position": position(&fixed, "duration", 0, 3) }),
    );
    let text = hover["contents"]["value"].as_str().unwrap();
    assert!(
        text.contains("duration D") && text.contains("**Unit:** duration"),
        "{text}"
    );

    // Completion after `on `: the services of the file and its import.
    let typing = fixed.replace("latency +100ms on payments", "latency +100ms on ");
    server.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": main_uri, "version": 3 }, "contentChanges": [{ "text": typing }] }),
    );
    let completion = server.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": main_uri }, "position": position(&typing, "on \n", 0, 3) }),
    );
    let labels: Vec<&str> = completion
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["gateway", "payments"]);
    server.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": main_uri, "version": 4 }, "contentChanges": [{ "text": fixed }] }),
    );

    // Go to definition: into the imported file, which is only on disk.
    let definition = server.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": main_uri }, "position": position(&fixed, "payments", 0, 2) }),
    );
    assert_eq!(definition[0]["uri"], topo_uri);
    assert_eq!(
        definition[0]["range"]["start"],
        position(TOPOLOGY, "payments", 1, 0)
    );

    // References of the fault, declaration included.
    let references = server.request(
        "textDocument/references",
        json!({ "textDocument": { "uri": main_uri }, "position": position(&fixed, "slow", 0, 1), "context": { "includeDeclaration": true } }),
    );
    assert_eq!(references.as_array().unwrap().len(), 2, "{references}");

    // Rename of the fault: both places.
    let rename = server.request(
        "textDocument/rename",
        json!({ "textDocument": { "uri": main_uri }, "position": position(&fixed, "slow", 1, 0), "newName": "slow_payments" }),
    );
    let edits = rename["changes"][&main_uri].as_array().unwrap();
    assert_eq!(edits.len(), 2);
    assert!(edits.iter().all(|e| e["newText"] == "slow_payments"));

    // Outline.
    let symbols = server.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": main_uri } }),
    );
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["topology.chaos", "checkout", "shoppers", "slow", "expect"]
    );

    // Formatting gives what `chaos fmt` prints.
    let messy = fixed
        .replace("  duration 5m\n", "      duration    5m\n")
        .replace("workload shoppers {", "workload   shoppers   {");
    server.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": main_uri, "version": 5 }, "contentChanges": [{ "text": messy }] }),
    );
    let edits = server.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": main_uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    let edits = edits.as_array().unwrap();
    assert_eq!(edits.len(), 1);
    let messy_path = dir.join("messy.chaos");
    std::fs::write(&messy_path, &messy).unwrap();
    let fmt = run(&["fmt", messy_path.to_str().unwrap()]);
    assert_eq!(
        fmt.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fmt.stderr)
    );
    assert_eq!(
        edits[0]["newText"].as_str().unwrap(),
        String::from_utf8_lossy(&fmt.stdout)
    );
    assert!(
        edits[0]["newText"]
            .as_str()
            .unwrap()
            .contains("  duration 5m\n")
    );

    // A file that does not parse is not formatted: an error answer, not a crash.
    server.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": main_uri, "version": 6 }, "contentChanges": [{ "text": "service {" }] }),
    );
    let refused = server.request_raw(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": main_uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot format"),
        "{refused}"
    );
    let diags = server.diagnostics_for(&main_uri);
    assert_eq!(diags[0]["code"], "E0001", "{diags:#?}");

    assert_eq!(server.stop(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn chaos_lsp_ends_when_its_input_closes() {
    // VS Code's client passes `--stdio`.
    let mut server = Server::start_with(&["lsp", "--stdio"]);
    server.request(
        "initialize",
        json!({ "processId": null, "rootUri": null, "capabilities": {} }),
    );
    server.stdin = None;
    assert!(
        server.wait_exit().is_some(),
        "chaos lsp kept running after its input closed"
    );
}
