//! Whether a process still lives, on every unix, without `/proc`.
//!
//! A process that others must be able to watch (a job running its attempt, the foreground `vizier
//! run` driving a run) holds an exclusive `flock(2)` on a file of its own for as long as it lives.
//! The kernel drops that lock when the last descriptor of it closes, which happens at the latest
//! when the process exits, however it exits (a crash, `SIGKILL`). So a watcher asks one question,
//! "is the lock held?", and the answer is the same on Linux and macOS: held means the process is
//! alive; free means it is gone. A reused pid cannot fool it, and neither can a zombie.
//!
//! The lock file is made already locked: it is written and locked under a temporary name, then
//! hard-linked to its real name, which also fails when the name exists (so the link is the claim of
//! an attempt). No watcher ever sees the file unlocked while its owner lives.
//!
//! The descriptors are close-on-exec (as every file Rust opens): the programs a job starts do not
//! keep its lock, so a job whose process ended is seen as gone even when a child it left lives on.
//!
//! For records without a lock file (a job between its start and its claim, or a store written by an
//! older vizier), [`pid_alive`] answers from the pid: on Linux with the start time in `/proc`, so a
//! reused pid is told apart; elsewhere with `kill(pid, 0)` ([`pid_exists`]), which every unix has.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;

/// The lock files this process holds; never closed before the process exits.
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

fn keep(file: File) {
    HELD.lock().unwrap_or_else(|p| p.into_inner()).push(file);
}

/// What a lock file says about its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Life {
    /// The lock is held: the owner lives.
    Held,
    /// The lock is free: the owner is gone.
    Free,
    /// No lock file (or not a regular file): it says nothing.
    Missing,
}

/// Creates `path` holding `contents`, locked by this process for the rest of its life. `Ok(false)`
/// when `path` already exists (another process made it first); it is left untouched. The content is
/// written and locked under a temporary name, then hard-linked into place, so nobody ever sees the
/// file empty, half-written or unlocked.
pub fn hold_new(path: &Path, contents: &[u8]) -> std::io::Result<bool> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.new", std::process::id()));
    let _ = std::fs::remove_file(&temp); // left by an earlier process with the same pid
    let made = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&temp)?;
        file.write_all(contents)?;
        file.lock()?;
        Ok(file)
    })();
    let file = match made {
        Ok(file) => file,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
    };
    crate::store::failpoint("claim-before-link");
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            keep(file);
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Locks `path` (created if missing) for the rest of this process's life. Fails with `WouldBlock`
/// when another live process holds it.
pub fn hold(path: &Path) -> std::io::Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    match file.try_lock() {
        Ok(()) => {
            keep(file);
            Ok(())
        }
        Err(TryLockError::WouldBlock) => Err(std::io::ErrorKind::WouldBlock.into()),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// Whether the owner of the lock file at `path` lives. Store records are untrusted: only a regular
/// file is opened (a FIFO or a device would block or do harm), read-only and non-blocking.
pub fn life(path: &Path) -> Life {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => {}
        _ => return Life::Missing,
    }
    let Ok(file) = File::open(path) else {
        return Life::Missing;
    };
    // A shared lock conflicts with the owner's exclusive one, and with nothing else: two watchers
    // asking at once do not see each other as the owner.
    match file.try_lock_shared() {
        Ok(()) => Life::Free, // dropped, and so released, right away
        Err(TryLockError::WouldBlock) => Life::Held,
        Err(TryLockError::Error(_)) => Life::Missing,
    }
}

/// Whether a process with this pid exists, by `kill(pid, 0)`: POSIX, so it works on every unix.
/// A zombie (exited, not yet reaped) still exists, and a reused pid is not told apart: callers
/// that need more use a lock file.
pub fn pid_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false; // 0 and negatives name process groups, not a process
    }
    // SAFETY: kill with signal 0 only checks that the process exists and may be signalled.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The start time of a process in clock ticks since boot (field 22 of `/proc/<pid>/stat`), and
/// whether it is a zombie.
#[cfg(target_os = "linux")]
fn proc_stat(pid: u32) -> Option<(u64, bool)> {
    use std::io::Read;
    // /proc reports a size of 0, so `fs::read_to_string` would read in growing steps (six reads
    // for one line, after an fstat and an lseek); a buffer on the stack with room for the whole
    // line takes one read, and a second that finds the end.
    let mut file = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let mut buf = [0u8; 4096];
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    let stat = String::from_utf8_lossy(&buf[..len]);
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let state = fields.first()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((start, matches!(*state, "Z" | "X")))
}

/// What identifies a process beyond its pid: its start time on Linux; 0 ("unknown") elsewhere.
pub fn start_ticks(pid: u32) -> u64 {
    #[cfg(target_os = "linux")]
    {
        proc_stat(pid).map_or(0, |(s, _)| s)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        0
    }
}

/// Whether the process with this pid (and, when known, this start time) is alive.
pub fn pid_alive(pid: u32, start_ticks: u64) -> bool {
    #[cfg(target_os = "linux")]
    {
        match proc_stat(pid) {
            Some((start, zombie)) => !zombie && (start_ticks == 0 || start_ticks == start),
            // No /proc entry: gone, unless /proc is not mounted at all.
            None => !Path::new("/proc/self/stat").exists() && pid_exists(pid),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = start_ticks;
        pid_exists(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_creation_happens_once_with_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("claim-1");
        assert!(hold_new(&path, b"one").unwrap());
        assert!(!hold_new(&path, b"two").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
    use std::process::{Command, Stdio};

    #[test]
    fn a_lock_file_is_held_while_its_owner_lives_and_free_once_it_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("claim-1");
        assert_eq!(life(&path), Life::Missing);
        // Another process holds the lock: it is taken here and handed to the child as its stdin,
        // then this process's copy is closed, so only the child keeps the locked description.
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.lock().unwrap();
        let mut child = Command::new("sh")
            .args(["-c", "exec sleep 30"])
            .stdin(Stdio::from(file)) // the child's fd 0 shares the locked description
            .spawn()
            .unwrap();
        assert_eq!(life(&path), Life::Held);
        child.kill().unwrap();
        // Even before it is reaped (a zombie holds no descriptors), the lock is free.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while life(&path) == Life::Held && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(life(&path), Life::Free);
        child.wait().unwrap();
        assert_eq!(life(&path), Life::Free);
    }

    #[test]
    fn hold_new_makes_the_file_locked_and_refuses_an_existing_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("claim-2");
        assert!(hold_new(&path, b"{\"pid\":1}").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"pid\":1}");
        assert_eq!(life(&path), Life::Held, "held by this process");
        assert!(!hold_new(&path, b"other").unwrap(), "a second claim loses");
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"pid\":1}");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["claim-2"], "no temporary file is left");
    }

    #[test]
    fn hold_refuses_a_lock_another_owner_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("driver.lock");
        let other = File::create(&path).unwrap();
        other.lock().unwrap();
        assert_eq!(
            hold(&path).unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock
        );
        drop(other);
        assert_eq!(life(&path), Life::Free);
        hold(&path).unwrap();
        assert_eq!(life(&path), Life::Held);
    }

    #[test]
    fn only_regular_files_are_read_as_locks() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(life(&fifo), Life::Missing, "a FIFO is never opened");
        assert_eq!(life(dir.path()), Life::Missing);
        let target = dir.path().join("target");
        File::create(&target).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(life(&link), Life::Missing, "a symlink is not followed");
    }

    /// The POSIX pid check that non-Linux unixes use, run here too.
    #[test]
    fn pid_exists_sees_a_live_child_and_not_a_reaped_one() {
        assert!(pid_exists(std::process::id()));
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        assert!(pid_exists(pid));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!pid_exists(pid));
        assert!(!pid_exists(0), "0 is a process group, not a process");
        assert!(!pid_exists(u32::MAX));
    }

    #[test]
    fn pid_alive_tells_a_reused_pid_by_its_start_time() {
        let me = std::process::id();
        let ticks = start_ticks(me);
        assert!(pid_alive(me, ticks));
        assert!(pid_alive(me, 0));
        if cfg!(target_os = "linux") {
            assert!(ticks > 0);
            assert!(
                !pid_alive(me, ticks + 1),
                "another process under the same pid"
            );
        }
    }
}
