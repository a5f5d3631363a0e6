//! Atomic file replacement: write a temp file in the same folder, fsync it, rename it over the target.
//! A reader sees the old file or the new one, never a mix; after a crash, the same.
//!
//! A [`Batch`] groups the writes of one scheduler tick: every temp file is written, then all are
//! fsynced concurrently (the filesystem commits them in one journal transaction instead of one each),
//! then they are renamed in the order they were added.
//!
//! The temp file is a fixed `.<name>.swap` beside the target, rewritten in place. On Linux it replaces
//! the target with `renameat2(RENAME_EXCHANGE)`: the old content goes to the swap file, so
//! steady-state rewrites allocate and free no inodes. (Creating and deleting an inode per write made
//! ext4's inode allocator the bottleneck of long runs: it skips every recently deleted inode.) On
//! other unixes, and on Linux file systems that refuse the exchange, a plain `rename(2)` after the
//! fsync replaces it: just as atomic, one inode per write. A target is only ever written by one
//! process at a time — under the scheduler lock, or by the job that owns it.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Whether to fsync. On by default; `VIZIER_FSYNC=0` turns it off for throwaway stores (documented in
/// docs/jobs.md: atomicity then relies on the filesystem ordering rename after data).
fn fsync_enabled() -> bool {
    !matches!(std::env::var("VIZIER_FSYNC").as_deref(), Ok("0"))
}

fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.swap"))
}

/// Puts `temp` in place of `target` atomically. On Linux an exchange when the file system allows
/// it; everywhere else, and on Linux when the exchange is refused, `rename(2)`.
fn replace(temp: &Path, target: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        replace_with(exchange, &EXCHANGE_REFUSED, temp, target)
    }
    #[cfg(not(target_os = "linux"))]
    {
        rename_over(temp, target)
    }
}

/// The POSIX replace: `rename(2)` over the target, atomic on every unix file system. The data was
/// fsynced before, so the new name never points at unwritten data. The swap file is consumed, so
/// the next write creates a new one.
fn rename_over(temp: &Path, target: &Path) -> std::io::Result<()> {
    std::fs::rename(temp, target)
}

/// Whether the exchange was refused once already: then later writes go straight to `rename(2)`.
#[cfg(target_os = "linux")]
static EXCHANGE_REFUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Tries `exchange`, and falls back to [`rename_over`] when there is no target yet (`ENOENT`) or
/// the file system (or kernel, or sandbox) refuses the exchange: `EINVAL`, `ENOSYS`, `EOPNOTSUPP`,
/// `EPERM` (some seccomp filters), `EXDEV` (overlay file systems).
#[cfg(target_os = "linux")]
fn replace_with(
    exchange: impl Fn(&Path, &Path) -> std::io::Result<()>,
    refused: &std::sync::atomic::AtomicBool,
    temp: &Path,
    target: &Path,
) -> std::io::Result<()> {
    use std::sync::atomic::Ordering;
    if refused.load(Ordering::Relaxed) {
        return rename_over(temp, target);
    }
    match exchange(temp, target) {
        Ok(()) => Ok(()),
        Err(e) => {
            match e.raw_os_error() {
                Some(libc::ENOENT) => {}
                Some(
                    libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::EPERM | libc::EXDEV,
                ) => {
                    refused.store(true, Ordering::Relaxed);
                }
                _ => return Err(e),
            }
            rename_over(temp, target)
        }
    }
}

/// `renameat2(RENAME_EXCHANGE)`: swaps the two names in one step.
#[cfg(target_os = "linux")]
fn exchange(temp: &Path, target: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (from, to) = (c(temp)?, c(target)?);
    // The raw system call, not libc's wrapper: musl has no `renameat2` function, and the call is the
    // same on every Linux libc.
    // SAFETY: both pointers are valid NUL-terminated paths for the duration of the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Replaces one file atomically.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> Result<()> {
    let mut batch = Batch::default();
    batch.add(target, bytes.to_vec());
    batch.commit()
}

/// Replaces one file atomically for every process, without waiting for its data to reach the
/// disk: for a file that another process makes durable by recording what it says. A job run by a
/// foreground driver writes its outcome this way; the driver copies the outcome into the job's
/// record, which it fsyncs. Stopping or killing any process loses nothing (the data is in the
/// kernel's cache); only a crash of the machine before that record is written can leave the file
/// empty or torn, and its readers take an unreadable file as absent.
pub fn write_atomic_unsynced(target: &Path, bytes: &[u8]) -> Result<()> {
    let mut batch = Batch {
        unsynced: true,
        ..Batch::default()
    };
    batch.add(target, bytes.to_vec());
    batch.commit()
}

/// Writes that become visible together at the end of a tick.
#[derive(Default)]
pub struct Batch {
    entries: Vec<(PathBuf, Vec<u8>)>,
    /// Where each target sits in `entries`: a tick adds hundreds of records, so no linear search.
    index: std::collections::HashMap<PathBuf, usize>,
    /// Skip the fsync (see [`write_atomic_unsynced`]).
    unsynced: bool,
}

impl Batch {
    /// Queues a write; a later write to the same path replaces an earlier one.
    pub fn add(&mut self, target: &Path, bytes: Vec<u8>) {
        if let Some(&i) = self.index.get(target) {
            self.entries[i].1 = bytes;
        } else {
            self.index.insert(target.to_path_buf(), self.entries.len());
            self.entries.push((target.to_path_buf(), bytes));
        }
    }

    pub fn commit(self) -> Result<()> {
        self.commit_with(|_| {})
    }

    /// As [`Batch::commit`], calling `before_rename(i)` before the `i`-th rename (crash windows in
    /// tests: see `store::failpoint`).
    pub fn commit_with(self, before_rename: impl Fn(usize)) -> Result<()> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let mut files = Vec::with_capacity(self.entries.len());
        for (target, bytes) in &self.entries {
            let temp = temp_path(target);
            // Truncating an existing swap file reuses its inode; a symlink or FIFO in its place is
            // refused, never written through. The folder is made when it is missing (not before
            // every write: that was a failed `mkdir` and a `stat` per record).
            let mut file = match super::guard::create_nofollow(&temp, false) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if let Some(dir) = target.parent() {
                        std::fs::create_dir_all(dir).map_err(write_err(dir))?;
                    }
                    super::guard::create_nofollow(&temp, false)
                }
                other => other,
            }
            .map_err(write_err(&temp))?;
            file.write_all(bytes).map_err(write_err(&temp))?;
            files.push((temp, file));
        }
        if !self.unsynced && fsync_enabled() {
            if files.len() == 1 {
                files[0].1.sync_data().map_err(write_err(&files[0].0))?;
            } else {
                // Concurrent fsyncs share the file system's journal commits; a few threads get
                // that, where one thread per file cost a thread start per record (a 5,000-job
                // run's first batch started 5,000 threads).
                let threads = files.len().min(FSYNC_THREADS);
                let files = &files;
                let share = move |t: usize| {
                    files
                        .iter()
                        .skip(t)
                        .step_by(threads)
                        .try_for_each(|(path, file)| file.sync_data().map_err(write_err(path)))
                };
                // This thread takes the first share.
                std::thread::scope(|scope| {
                    // Small stacks: each thread only calls fsync. A share whose thread cannot be
                    // started is synced by this thread.
                    let mut mine = Vec::new();
                    let handles: Vec<_> = (1..threads)
                        .filter_map(|t| {
                            let started = std::thread::Builder::new()
                                .stack_size(FSYNC_STACK)
                                .spawn_scoped(scope, move || share(t));
                            started.map_err(|_| mine.push(t)).ok()
                        })
                        .collect();
                    let mine = std::iter::once(0).chain(mine).try_for_each(share);
                    handles
                        .into_iter()
                        .try_for_each(|h| h.join().expect("fsync thread"))
                        .and(mine)
                })?;
            }
        }
        for (i, ((temp, _), (target, _))) in files.iter().zip(&self.entries).enumerate() {
            before_rename(i);
            replace(temp, target).map_err(write_err(target))?;
        }
        Ok(())
    }
}

/// How many threads fsync one batch's files.
const FSYNC_THREADS: usize = 16;
/// The stack of one of them.
const FSYNC_STACK: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    /// The replace that non-Linux unixes use, run here too.
    #[test]
    fn the_posix_rename_replaces_the_target_and_consumes_the_swap_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("job.json");
        for text in ["one", "two, longer", "3"] {
            let temp = temp_path(&target);
            std::fs::write(&temp, text).unwrap();
            rename_over(&temp, &target).unwrap();
            assert_eq!(std::fs::read_to_string(&target).unwrap(), text);
            assert_eq!(names(dir.path()), ["job.json"]);
        }
    }

    /// A file system that refuses `RENAME_EXCHANGE` (EINVAL, as e.g. some FUSE and network file
    /// systems answer) still gets every write, through `rename(2)`.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_refused_exchange_falls_back_to_rename() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("job.json");
        let refuse = |_: &Path, _: &Path| Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        let refused = std::sync::atomic::AtomicBool::new(false);
        for text in ["first", "second"] {
            let temp = temp_path(&target);
            std::fs::write(&temp, text).unwrap();
            replace_with(refuse, &refused, &temp, &target).unwrap();
            assert!(
                refused.load(std::sync::atomic::Ordering::Relaxed),
                "remembered"
            );
            assert_eq!(std::fs::read_to_string(&target).unwrap(), text);
            assert_eq!(names(dir.path()), ["job.json"]);
        }
        // Any other error is reported, not papered over.
        let temp = temp_path(&target);
        std::fs::write(&temp, "third").unwrap();
        let fresh = std::sync::atomic::AtomicBool::new(false);
        let broken = |_: &Path, _: &Path| Err(std::io::Error::from_raw_os_error(libc::EIO));
        let err = replace_with(broken, &fresh, &temp, &target).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EIO));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "second");
    }

    #[test]
    fn replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/job.json");
        write_atomic(&target, b"one").unwrap();
        write_atomic(&target, b"two").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        write_atomic(&target, b"three, longer").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"three, longer");
        let mut names: Vec<_> = std::fs::read_dir(target.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        // Only the target and its (hidden) swap file: nothing half-written is ever visible.
        assert_eq!(names, [".job.json.swap", "job.json"]);
    }
}
