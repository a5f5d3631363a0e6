//! Defences of the job store against what it finds on disk. The store is untrusted input: records
//! can be edited, or arrive from another machine as CI artifacts. So:
//!
//! - a record is read only when it is a regular file, opened without following a final symlink and
//!   without blocking (a FIFO in place of `job.json` is reported, never waited on);
//! - nothing is written through a symlink that leaves the repository root: the store's own folders
//!   and each job folder are checked before writes, and files are created with `O_NOFOLLOW`;
//! - a claim appears with its whole content at once (written aside, then hard-linked into place).

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Opens an existing file for reading: no final symlink, never blocking on a FIFO or a device,
/// and only a regular file.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                std::io::Error::other("it is a symbolic link, not a record")
            } else {
                e
            }
        })?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other(
            "it is not a regular file (a FIFO, a device or a folder)",
        ));
    }
    Ok(file)
}

/// Reads a whole record (see [`open_regular`]).
pub fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Creates (or truncates) a file for writing without following a symlink in its place.
pub fn create_nofollow(path: &Path, append: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options
        .create(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    if append {
        // Readable as well: a job's stdout log is read back by the agent step that appended to it.
        options.append(true).read(true);
    } else {
        options.write(true).truncate(true);
    }
    let file = options.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            std::io::Error::other("refusing to write through a symbolic link")
        } else {
            e
        }
    })?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other(
            "refusing to write: not a regular file",
        ));
    }
    Ok(file)
}

/// Whether `path` exists and is a symlink that resolves outside `root` (a dangling link counts as
/// leaving: nothing can be proved about where it points).
pub fn link_leaves_root(root: &Path, path: &Path) -> bool {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
            match path.canonicalize() {
                Ok(target) => !target.starts_with(&root),
                Err(_) => true,
            }
        }
        _ => false,
    }
}

/// Refuses `path` when it is a symlink leaving `root`.
pub fn refuse_outside_link(root: &Path, path: &Path) -> Result<()> {
    if link_leaves_root(root, path) {
        return Err(Error::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other(
                "it is a symbolic link that leaves the repository; refusing to write through it",
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_reported_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("job.json");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let err = read_regular(&fifo).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert!(create_nofollow(&fifo, true).is_err());
    }
}
