//! Interrupting a foreground run (`vizier run`, `vizier ci`). Job processes run in their own
//! process groups, so a Ctrl-C at the terminal (or the SIGINT / SIGTERM a CI service sends to
//! cancel) reaches the driver only. The driver then stops its run: each running node's process
//! group is stopped (TERM, then KILL), the node is recorded `cancelled` with the signal as the
//! reason, nodes that had not started are `cancelled` too, and the run is marked ended — so no
//! later tick resumes it; only a person's `vizier jobs retry` does. The process then exits
//! 128 + the signal (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP).

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use crate::error::Result;
use crate::process;
use crate::store::{self, Manifest, Status, Store};

static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    RECEIVED.store(signal, Ordering::SeqCst);
}

/// Catches SIGINT, SIGTERM and SIGHUP from now on (idempotent); [`received`] tells which came.
pub fn install() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction with a handler that only stores to an atomic; the handler
        // is a plain `extern "C" fn(c_int)`, as `sa_sigaction` expects without SA_SIGINFO.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// The signal that interrupted this process, if one came.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// The exit code of a process interrupted by `signal`: 128 + its number.
pub fn exit_code(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(255)
}

pub fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        other => format!("signal {other}"),
    }
}

/// Stops run `run_id` because this process was interrupted by `signal`: running nodes' process
/// groups are stopped, every unfinished node is recorded `cancelled`, and the run is marked ended.
pub fn cancel_run(store: &Store, run_id: &str, signal: i32) -> Result<Manifest> {
    let _lock = store.lock()?;
    let (plan, mut m) = super::load_run(store, run_id)?;
    if m.is_finished() {
        return Ok(m);
    }
    let name = signal_name(signal);
    let now = store::now();
    let mut groups = Vec::new();
    let mut changed = Vec::new();
    for (i, n) in m.nodes.iter_mut().enumerate() {
        if n.status.is_terminal() {
            continue;
        }
        if n.status == Status::Running {
            groups.extend(n.process.iter().map(|p| p.pid));
            groups.extend(process::claimant(store, &n.job_id, n.attempts).map(|p| p.pid));
            n.reason = Some(format!("interrupted by {name}: the run was stopped"));
        } else {
            n.reason = Some(format!(
                "the run was interrupted by {name} before this node started"
            ));
        }
        n.status = Status::Cancelled;
        n.outcome = None;
        n.wait_reason = None;
        n.process = None;
        n.finished_at = Some(now.clone());
        changed.push(i);
    }
    process::orphans::stop_orphans(&groups);
    // Let the stopped processes' waiters see them go before the record says so.
    std::thread::sleep(Duration::from_millis(10));
    m.outcome = Some(crate::store::RunOutcome::Failed);
    m.finished_at = Some(now);
    m.driver = None;
    store.write_changes(&plan, &m, &changed)?;
    store.set_active(run_id, false)?;
    Ok(m)
}
