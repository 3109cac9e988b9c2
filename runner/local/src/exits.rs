//! Whether an agent's exit was asked for by the scenario, and how to say it when it was not.
//!
//! The runner kills agents itself for `kill` faults, scale-in and the end of the run, and reaps
//! those; what it finds exited on its own is either a memory fault that reached its limit (the
//! agent exits with [`MEMORY_LIMIT_EXIT_STATUS`]) or something the scenario did not ask for:
//! a kill from outside, a crash, the kernel's out-of-memory killer (a SIGKILL, not that status).

use chaos_agent::faults::MEMORY_LIMIT_EXIT_STATUS;
use chaos_plan::{Action, Plan};

/// How a process ended: its exit status, or the signal that ended it (Unix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub status: Option<i32>,
    pub signal: Option<i32>,
}

impl From<std::process::ExitStatus> for Exit {
    fn from(s: std::process::ExitStatus) -> Exit {
        #[cfg(unix)]
        let signal = std::os::unix::process::ExitStatusExt::signal(&s);
        #[cfg(not(unix))]
        let signal = None;
        Exit {
            status: s.code(),
            signal,
        }
    }
}

/// `None` when `service`'s agent ended the way the scenario asked (its memory fault's limit);
/// otherwise what happened, in words for the report.
pub fn unexpected_exit(plan: &Plan, service: &str, exit: Exit) -> Option<String> {
    let has_memory_fault = plan.faults.iter().any(|f| {
        f.actions
            .iter()
            .any(|a| matches!(a, Action::Memory { service: s, .. } if s == service))
    });
    if has_memory_fault && exit.status == Some(MEMORY_LIMIT_EXIT_STATUS) {
        return None;
    }
    Some(describe(exit))
}

fn describe(exit: Exit) -> String {
    match (exit.signal, exit.status) {
        (Some(sig), _) => match signal_name(sig) {
            Some(name) => format!("exited with signal {sig} ({name})"),
            None => format!("exited with signal {sig}"),
        },
        (None, Some(code)) => format!("exited with status {code}"),
        (None, None) => "exited".to_string(),
    }
}

/// The signals a process is commonly ended by (their numbers are the same on Linux and macOS).
fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaos_plan::Fault;
    use chaos_test_support::plans;

    /// No service; with `memory_on`, a memory fault on that service from 1 s to 5 s.
    fn plan(memory_on: Option<&str>) -> Plan {
        let leak = |s: &str| Fault {
            active: vec![],
            ..plans::fault(
                "leak",
                &[(1.0, 5.0)],
                vec![Action::Memory {
                    service: s.into(),
                    bytes_per_s: 1e6,
                    limit_bytes: 1e6,
                    replicas: None,
                }],
            )
        };
        Plan {
            scenario: plans::scenario(10.0),
            faults: memory_on.map(leak).into_iter().collect(),
            ..plans::plan(vec![])
        }
    }

    const SIGKILL: Exit = Exit {
        status: None,
        signal: Some(9),
    };
    const MEMORY_LIMIT: Exit = Exit {
        status: Some(MEMORY_LIMIT_EXIT_STATUS),
        signal: None,
    };

    #[test]
    fn a_memory_fault_reaching_its_limit_is_asked_for() {
        assert_eq!(unexpected_exit(&plan(Some("s")), "s", MEMORY_LIMIT), None);
    }

    #[test]
    fn the_same_status_without_a_memory_fault_on_that_service_is_not() {
        assert_eq!(
            unexpected_exit(&plan(None), "s", MEMORY_LIMIT).as_deref(),
            Some("exited with status 137")
        );
        assert!(unexpected_exit(&plan(Some("other")), "s", MEMORY_LIMIT).is_some());
    }

    #[test]
    fn a_sigkill_is_never_asked_for_even_with_a_memory_fault() {
        // The kernel's OOM killer sends SIGKILL: the machine ran out, not the fault's limit.
        assert_eq!(
            unexpected_exit(&plan(Some("s")), "s", SIGKILL).as_deref(),
            Some("exited with signal 9 (SIGKILL)")
        );
    }

    #[test]
    fn crashes_and_unknown_signals_are_said_as_they_are() {
        let p = plan(None);
        let crash = Exit {
            status: Some(101),
            signal: None,
        };
        assert_eq!(
            unexpected_exit(&p, "s", crash).as_deref(),
            Some("exited with status 101")
        );
        let odd = Exit {
            status: None,
            signal: Some(40),
        };
        assert_eq!(
            unexpected_exit(&p, "s", odd).as_deref(),
            Some("exited with signal 40")
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_exit_status_converts_with_its_signal() {
        use std::os::unix::process::ExitStatusExt;
        let killed = Exit::from(std::process::ExitStatus::from_raw(9));
        assert_eq!(killed, SIGKILL);
        let exited = Exit::from(std::process::ExitStatus::from_raw(137 << 8));
        assert_eq!(exited, MEMORY_LIMIT);
    }
}
