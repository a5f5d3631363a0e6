//! Stopping what is left of a job whose process vanished. A job runs in its own process group (its
//! pid is the group id), and its command runs in that group too; a `kill -9` of the job process
//! leaves the command going, reparented. Before the job is failed, retried or handled, whatever
//! still runs in its group is stopped: TERM, then KILL after a grace period.
//!
//! A process group id is not reused while any process of the group lives, so signalling the group
//! of a recorded job pid reaches only what that job started.

use std::time::{Duration, Instant};

/// How long members of a group get to exit after TERM before they are killed.
pub const GRACE: Duration = Duration::from_secs(2);

/// Whether any process is left in the group `pgid`.
pub fn group_exists(pgid: u32) -> bool {
    if pgid == 0 || pgid > i32::MAX as u32 {
        return false;
    }
    // SAFETY: kill(2) with signal 0 only checks; a negative pid names a process group.
    let rc = unsafe { libc::kill(-(pgid as i32), 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn signal(pgid: u32, sig: i32) {
    // SAFETY: as above; the group was checked to exist and is never our own (pgid > 1).
    unsafe {
        libc::kill(-(pgid as i32), sig);
    }
}

/// Stops every process left in these groups: TERM to all, then KILL to those still there after
/// [`GRACE`]. Our own group and group 1 are never signalled.
pub fn stop_orphans(pgids: &[u32]) {
    // SAFETY: getpgrp(2) cannot fail.
    let own = unsafe { libc::getpgrp() } as u32;
    let groups: Vec<u32> = pgids
        .iter()
        .copied()
        .filter(|&g| g > 1 && g != own && group_exists(g))
        .collect();
    if groups.is_empty() {
        return;
    }
    for &g in &groups {
        signal(g, libc::SIGTERM);
    }
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline {
        if !groups.iter().any(|&g| group_exists(g)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for &g in &groups {
        if group_exists(g) {
            signal(g, libc::SIGKILL);
        }
    }
}
