//! The agent processes of a local run: one per replica slot on a fixed 127.0.0.1 port, started,
//! health-checked, killed and restarted, and always killed when the fleet is dropped.
//!
//! Every agent gets the runner's end of a pipe as stdin and exits when it closes, so even a
//! runner killed with SIGKILL leaves no agent behind; `kill_on_drop` covers panics and errors.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chaos_plan::{Plan, Replicas};
use tokio::process::{Child, ChildStdin, Command};

use crate::LocalError;

/// Environment variable the token travels in (argv is visible to every user of the machine).
pub const TOKEN_VAR: &str = "CHAOS_LOCAL_TOKEN";
/// How long an agent may take to answer its first health check.
pub const READY_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Slot {
    pub service: String,
    pub id: String,
    pub port: u16,
    pub url: String,
    /// Serving and in its callers' peer sets.
    pub live: bool,
    child: Option<(Child, ChildStdin)>,
    log: PathBuf,
}

impl Slot {
    pub fn running(&self) -> bool {
        self.child.is_some()
    }
}

pub struct Fleet {
    bin: PathBuf,
    plan_path: PathBuf,
    pub token: String,
    pub slots: Vec<Slot>,
    /// Callers of each service (services whose endpoints call it).
    callers: BTreeMap<String, Vec<String>>,
    pub client: reqwest::Client,
}

/// A port nobody listens on right now (the kernel's pick; released for the agent to take).
fn free_port() -> Result<u16, LocalError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| LocalError::Io("pick a free port".into(), e))?;
    let port = l
        .local_addr()
        .map_err(|e| LocalError::Io("pick a free port".into(), e))?
        .port();
    Ok(port)
}

fn max_replicas(r: &Replicas) -> u32 {
    match r {
        Replicas::Fixed { count } => *count,
        Replicas::Autoscale { max, .. } => *max,
    }
}

impl Fleet {
    /// Lays out one slot per possible replica and writes the plan for the agents to read.
    pub fn new(plan: &Plan, bin: &Path, dir: &Path, token: String) -> Result<Fleet, LocalError> {
        let plan_path = dir.join("plan.json");
        std::fs::write(&plan_path, plan.to_json())
            .map_err(|e| LocalError::Io(format!("write {}", plan_path.display()), e))?;
        let mut slots = Vec::new();
        for s in &plan.services {
            for i in 0..max_replicas(&s.replicas) {
                let port = free_port()?;
                let id = format!("{}-{i}", s.name);
                slots.push(Slot {
                    service: s.name.clone(),
                    log: dir.join(format!("agent-{id}.log")),
                    id,
                    port,
                    url: format!("http://127.0.0.1:{port}"),
                    live: false,
                    child: None,
                });
            }
        }
        let mut callers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in &plan.services {
            for callee in chaos_agent::callees(s) {
                callers.entry(callee).or_default().push(s.name.clone());
            }
        }
        Ok(Fleet {
            bin: bin.to_path_buf(),
            plan_path,
            token,
            slots,
            callers,
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
        })
    }

    pub fn live_urls(&self, service: &str) -> Vec<String> {
        self.slots
            .iter()
            .filter(|s| s.live && s.service == service)
            .map(|s| s.url.clone())
            .collect()
    }

    pub fn live_count(&self, service: &str) -> u32 {
        self.slots
            .iter()
            .filter(|s| s.live && s.service == service)
            .count() as u32
    }

    pub fn callers_of(&self, service: &str) -> &[String] {
        self.callers.get(service).map_or(&[], |v| v.as_slice())
    }

    /// Starts the agent of slot `i` with the current live replicas of its callees as peers.
    pub fn spawn(&mut self, i: usize, plan: &Plan) -> Result<(), LocalError> {
        let Some(slot) = self.slots.get(i) else {
            return Ok(());
        };
        let service = slot.service.clone();
        let mut cmd = Command::new(&self.bin);
        cmd.arg("agent")
            .arg("--plan")
            .arg(&self.plan_path)
            .args([
                "--service",
                &service,
                "--listen",
                &format!("127.0.0.1:{}", slot.port),
            ])
            .args(["--replica", &slot.id, "--token-env", TOKEN_VAR]);
        if let Some(s) = plan.service(&service) {
            for callee in chaos_agent::callees(s) {
                for url in self.live_urls(&callee) {
                    cmd.arg("--peer").arg(format!("{callee}={url}"));
                }
            }
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&slot.log)
            .map_err(|e| LocalError::Io(format!("open {}", slot.log.display()), e))?;
        cmd.env(TOKEN_VAR, &self.token)
            .env("CHAOS_AGENT_EXIT_WITH_STDIN", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        // Own process group: a terminal's Ctrl-C reaches the runner, which reverts and stops
        // the agents in order, instead of every agent dying at once mid-request.
        #[cfg(unix)]
        cmd.process_group(0);
        let mut child = cmd.spawn().map_err(|e| LocalError::AgentStart {
            agent: slot.id.clone(),
            reason: format!("cannot run {}: {e}", self.bin.display()),
            stderr: String::new(),
        })?;
        let Some(stdin) = child.stdin.take() else {
            return Err(LocalError::AgentStart {
                agent: slot.id.clone(),
                reason: "no stdin pipe".into(),
                stderr: String::new(),
            });
        };
        if let Some(slot) = self.slots.get_mut(i) {
            slot.child = Some((child, stdin));
        }
        Ok(())
    }

    /// Whether slot `i`'s process has exited (it is then reaped).
    pub fn exited(&mut self, i: usize) -> Option<std::process::ExitStatus> {
        let slot = self.slots.get_mut(i)?;
        let (child, _) = slot.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                slot.child = None;
                slot.live = false;
                Some(status)
            }
            _ => None,
        }
    }

    /// SIGKILL (the kill fault and the end of a run).
    pub async fn kill(&mut self, i: usize) {
        if let Some(slot) = self.slots.get_mut(i) {
            slot.live = false;
            if let Some((mut child, stdin)) = slot.child.take() {
                let _ = child.start_kill();
                let _ = child.wait().await;
                drop(stdin);
            }
        }
    }

    pub async fn kill_all(&mut self) {
        for i in 0..self.slots.len() {
            self.kill(i).await;
        }
    }

    pub fn log_tail(&self, i: usize) -> String {
        let Some(slot) = self.slots.get(i) else {
            return String::new();
        };
        let text = std::fs::read_to_string(&slot.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Waits until slot `i` answers its health check; errors name the agent and its stderr.
    pub async fn wait_ready(&mut self, i: usize) -> Result<(), LocalError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let (url, id, port) = match self.slots.get(i) {
            Some(s) => (s.url.clone(), s.id.clone(), s.port),
            None => return Ok(()),
        };
        loop {
            if let Some(status) = self.exited(i) {
                let stderr = self.log_tail(i);
                if stderr.contains("port is taken") {
                    return Err(LocalError::PortTaken { agent: id, port });
                }
                return Err(LocalError::AgentStart {
                    agent: id,
                    reason: format!("it exited ({status})"),
                    stderr,
                });
            }
            let ok = self
                .client
                .get(format!("{url}/_chaos/health"))
                .timeout(Duration::from_millis(500))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let stderr = self.log_tail(i);
                self.kill(i).await;
                return Err(LocalError::AgentStart {
                    agent: id,
                    reason: format!(
                        "it did not answer {url}/_chaos/health within {}s",
                        READY_TIMEOUT.as_secs()
                    ),
                    stderr,
                });
            }
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for s in &mut self.slots {
            if let Some((child, _)) = s.child.as_mut() {
                let _ = child.start_kill();
            }
        }
    }
}
