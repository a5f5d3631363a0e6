//! Crash windows on demand, for tests: with the `failpoints` feature, a process whose
//! `VIZIER_FAILPOINT` names a point kills itself with SIGKILL when it reaches it — the same as a
//! `kill -9` (or a power cut) at exactly that instant. Without the feature this is nothing.

/// Dies here, as if by `kill -9`, when `VIZIER_FAILPOINT` is `name` (only with `failpoints`).
#[inline]
pub fn failpoint(name: &str) {
    #[cfg(feature = "failpoints")]
    if std::env::var("VIZIER_FAILPOINT").is_ok_and(|v| v.split(',').any(|p| p == name)) {
        // SAFETY: kill(2) on our own pid; SIGKILL cannot be caught, so this does not return.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}

/// Pauses here for `ms` milliseconds when `VIZIER_FAILPOINT` names `name` (only with
/// `failpoints`): widens a race window so a test can hit it every time.
#[inline]
pub fn delay_point(name: &str, ms: u64) {
    #[cfg(feature = "failpoints")]
    if std::env::var("VIZIER_FAILPOINT").is_ok_and(|v| v.split(',').any(|p| p == name)) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = (name, ms);
}

/// Whether `VIZIER_FAILPOINT` names `name` (only with `failpoints`): a switch for tests.
pub fn failpoint_set(name: &str) -> bool {
    #[cfg(feature = "failpoints")]
    return std::env::var("VIZIER_FAILPOINT").is_ok_and(|v| v.split(',').any(|p| p == name));
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = name;
        false
    }
}
