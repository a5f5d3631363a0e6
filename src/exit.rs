//! Exit codes, the same for every command.

/// Success.
pub const OK: u8 = 0;
/// The thing checked or run failed: findings, a failed run.
pub const FAILED: u8 = 1;
/// Usage error: a bad flag, an unknown alias, no `.vizier/` where one is needed.
pub const USAGE: u8 = 2;
/// Operational failure: not a git repository, an unreadable file, I/O or git errors.
pub const OPERATIONAL: u8 = 3;

/// A finished child's exit code as a shell reports it: its own code, or 128+N for signal N.
pub fn of_status(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}
