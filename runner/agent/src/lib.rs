//! `chaos agent`: one replica of one service from the plan, over real HTTP, with a fault
//! control API; and the load generator that drives workloads against agents.

pub mod admission;
pub mod balance;
pub mod breaker;
pub mod clock;
pub mod control;
pub mod dist;
pub mod exec;
pub mod faults;
pub mod loadgen;
pub mod metrics;
pub mod prometheus;
pub mod server;
pub mod wire;

pub use control::PeersRequest;
pub use faults::FaultRequest;
pub use metrics::{MetricsSnapshot, SubjectMetrics};
pub use server::{AgentConfig, AgentError, Running, callees, serve, start};
