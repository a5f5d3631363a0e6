//! Installing, removing and inspecting vizier's hook scripts. Nothing a user had is ever lost: a
//! foreign hook is moved aside (a rename, so every byte and the mode stay as they were) and chained,
//! or with `--force` kept as a backup, and `uninstall` renames it back.

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::script::{self, BACKUP_SUFFIX};
use super::{HookName, HooksFolder};
use crate::error::{Error, Result};

/// What installing one hook did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstallOutcome {
    /// The script was written where there was no hook.
    Installed,
    /// vizier's script was already there, byte for byte: nothing was written.
    Unchanged,
    /// vizier's script was there from another binary or version and was rewritten.
    Updated,
    /// A foreign hook was there; it was moved to `chained` and runs before vizier's check.
    Chained { chained: PathBuf },
    /// `--force`: a foreign hook was moved to `backup` and no longer runs.
    Replaced { backup: PathBuf },
}

/// What uninstalling one hook did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UninstallOutcome {
    /// vizier's script was removed; nothing had been there before it.
    Removed,
    /// vizier's script was removed and the hook that was there before it put back from `from`.
    Restored { from: PathBuf },
    /// No hook there.
    NotInstalled,
    /// A hook vizier did not write; left alone.
    Foreign,
}

/// The state of one hook in the folder git uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookState {
    /// No hook file.
    NotInstalled,
    /// A hook vizier did not write (vizier's check does not run).
    Foreign,
    /// vizier's script is in place.
    Installed {
        /// The binary path it records, and whether that file is there.
        binary: Option<String>,
        binary_found: bool,
        /// It is what this vizier would write (otherwise re-run install).
        current: bool,
        /// git only runs executable hooks.
        executable: bool,
        /// The foreign hook it runs first, if any.
        chained: Option<PathBuf>,
    },
    /// vizier's script sits in the default folder, but `core.hooksPath` sends git elsewhere.
    Shadowed { at: PathBuf },
}

/// One hook's report.
#[derive(Clone, Debug)]
pub struct HookReport<T> {
    pub hook: HookName,
    pub path: PathBuf,
    pub outcome: T,
    /// Earlier hooks kept by `--force`, left in place.
    pub backups: Vec<PathBuf>,
}

impl<T> HookReport<T> {
    fn new(dir: &Path, hook: HookName, path: PathBuf, outcome: T) -> Result<Self> {
        Ok(HookReport {
            hook,
            backups: backups(dir, hook)?,
            path,
            outcome,
        })
    }
}

enum Existing {
    Missing,
    Managed(Vec<u8>),
    Foreign,
}

fn existing(path: &Path) -> Result<Existing> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Existing::Missing),
        Err(source) => return Err(read_error(path, source)),
    };
    if meta.is_dir() {
        return Err(Error::Usage(format!(
            "`{}` is a folder, not a hook script; move it away first",
            path.display()
        )));
    }
    // A link is someone else's arrangement, even when it leads to a script of ours.
    if meta.file_type().is_symlink() {
        return Ok(Existing::Foreign);
    }
    let bytes = fs::read(path).map_err(|source| read_error(path, source))?;
    Ok(if script::is_managed(&bytes) {
        Existing::Managed(bytes)
    } else {
        Existing::Foreign
    })
}

/// Installs `hooks` into the folder git uses, recording `binary` (absolute) in each script.
/// Every hook is checked before anything is written, so a refusal leaves the folder as it was.
pub fn install(
    folder: &HooksFolder,
    hooks: &[HookName],
    binary: &Path,
    force: bool,
) -> Result<Vec<HookReport<InstallOutcome>>> {
    let binary = binary.to_str().ok_or_else(|| {
        Error::Usage(format!(
            "the vizier binary's path `{}` is not valid UTF-8; move it and install again",
            binary.display()
        ))
    })?;
    let dir = &folder.path;
    let mut plans = Vec::new();
    for &hook in hooks {
        let path = dir.join(hook.file_name());
        let state = existing(&path)?;
        let chained = script::chained_path(dir, hook);
        if matches!(state, Existing::Foreign) && !force && exists(&chained)? {
            return Err(Error::Usage(format!(
                "`{}` is a hook vizier did not write, and `{}` already holds an earlier one that \
                 vizier chains; move one of them away, or pass --force to replace `{}` (it is kept \
                 as a backup)",
                path.display(),
                chained.display(),
                hook.file_name()
            )));
        }
        plans.push((hook, path, state, chained));
    }

    fs::create_dir_all(dir).map_err(|source| write_error(dir, source))?;
    let mut reports = Vec::new();
    for (hook, path, state, chained) in plans {
        let text = script::render(hook, binary);
        let outcome = match state {
            Existing::Missing => {
                write_script(&path, &text)?;
                InstallOutcome::Installed
            }
            Existing::Managed(bytes) if bytes == text.as_bytes() => {
                make_executable(&path)?;
                InstallOutcome::Unchanged
            }
            Existing::Managed(_) => {
                write_script(&path, &text)?;
                InstallOutcome::Updated
            }
            Existing::Foreign if force => {
                let backup = free_backup(dir, hook)?;
                move_aside_and_write(&path, &backup, &text)?;
                InstallOutcome::Replaced { backup }
            }
            Existing::Foreign => {
                move_aside_and_write(&path, &chained, &text)?;
                InstallOutcome::Chained { chained }
            }
        };
        reports.push(HookReport::new(dir, hook, path, outcome)?);
    }
    Ok(reports)
}

/// Removes vizier's scripts and puts back what each replaced: the chained hook, else the newest
/// `--force` backup. Scripts left in the default folder while `core.hooksPath` points elsewhere are
/// removed too.
pub fn uninstall(
    folder: &HooksFolder,
    hooks: &[HookName],
) -> Result<Vec<HookReport<UninstallOutcome>>> {
    let mut reports = Vec::new();
    for dir in folders(folder) {
        for &hook in hooks {
            let path = dir.join(hook.file_name());
            let outcome = match existing(&path)? {
                Existing::Missing => UninstallOutcome::NotInstalled,
                Existing::Foreign => UninstallOutcome::Foreign,
                Existing::Managed(_) => {
                    let chained = script::chained_path(dir, hook);
                    let earlier = if exists(&chained)? {
                        Some(chained)
                    } else {
                        backups(dir, hook)?.pop()
                    };
                    match earlier {
                        Some(from) => {
                            // A rename over the script: the hook is never missing in between.
                            fs::rename(&from, &path)
                                .map_err(|source| write_error(&path, source))?;
                            UninstallOutcome::Restored { from }
                        }
                        None => {
                            fs::remove_file(&path).map_err(|source| write_error(&path, source))?;
                            UninstallOutcome::Removed
                        }
                    }
                }
            };
            // The shadowed default folder is only reported where vizier had a script in it.
            let untouched = matches!(
                outcome,
                UninstallOutcome::NotInstalled | UninstallOutcome::Foreign
            );
            if dir != &folder.path && untouched {
                continue;
            }
            reports.push(HookReport::new(dir, hook, path, outcome)?);
        }
    }
    Ok(reports)
}

/// Each hook's state in the folder git uses.
pub fn status(folder: &HooksFolder, hooks: &[HookName]) -> Result<Vec<HookReport<HookState>>> {
    let dir = &folder.path;
    let mut reports = Vec::new();
    for &hook in hooks {
        let path = dir.join(hook.file_name());
        let state = match existing(&path)? {
            Existing::Managed(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let binary = script::recorded_binary(&text);
                let current = binary
                    .as_deref()
                    .is_some_and(|b| script::render(hook, b).as_bytes() == bytes.as_slice());
                let chained = script::chained_path(dir, hook);
                HookState::Installed {
                    binary_found: binary.as_deref().is_some_and(|b| Path::new(b).is_file()),
                    binary,
                    current,
                    executable: is_executable(&path)?,
                    chained: exists(&chained)?.then_some(chained),
                }
            }
            found => {
                let shadowed = folder.default_is_shadowed()
                    && matches!(
                        existing(&folder.default.join(hook.file_name()))?,
                        Existing::Managed(_)
                    );
                if shadowed {
                    HookState::Shadowed {
                        at: folder.default.join(hook.file_name()),
                    }
                } else if matches!(found, Existing::Foreign) {
                    HookState::Foreign
                } else {
                    HookState::NotInstalled
                }
            }
        };
        reports.push(HookReport::new(dir, hook, path, state)?);
    }
    Ok(reports)
}

fn folders(folder: &HooksFolder) -> Vec<&PathBuf> {
    let mut dirs = vec![&folder.path];
    if folder.default_is_shadowed() {
        dirs.push(&folder.default);
    }
    dirs
}

/// `--force` backups of `hook` in `dir`, oldest first: `<hook>.vizier-backup`, then `….2`, `….3`, ….
fn backups(dir: &Path, hook: HookName) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut n = 1;
    loop {
        let path = backup_path(dir, hook, n);
        if !exists(&path)? {
            return Ok(found);
        }
        found.push(path);
        n += 1;
    }
}

fn backup_path(dir: &Path, hook: HookName, n: usize) -> PathBuf {
    let base = format!("{}{BACKUP_SUFFIX}", hook.file_name());
    if n == 1 {
        dir.join(base)
    } else {
        dir.join(format!("{base}.{n}"))
    }
}

fn free_backup(dir: &Path, hook: HookName) -> Result<PathBuf> {
    Ok(backup_path(dir, hook, backups(dir, hook)?.len() + 1))
}

fn exists(path: &Path) -> Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(source) => Err(read_error(path, source)),
    }
}

fn is_executable(path: &Path) -> Result<bool> {
    let meta = fs::metadata(path).map_err(|source| read_error(path, source))?;
    Ok(meta.permissions().mode() & 0o111 != 0)
}

fn make_executable(path: &Path) -> Result<()> {
    if is_executable(path)? {
        return Ok(());
    }
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .map_err(|source| write_error(path, source))
}

/// Moves the foreign hook at `path` to `aside`, then puts vizier's script at `path`. If the script
/// cannot be written, the foreign hook is moved back.
fn move_aside_and_write(path: &Path, aside: &Path, text: &str) -> Result<()> {
    let temp = write_temp(path, text)?;
    fs::rename(path, aside).map_err(|source| {
        let _ = fs::remove_file(&temp);
        write_error(aside, source)
    })?;
    if let Err(source) = fs::rename(&temp, path) {
        let _ = fs::rename(aside, path);
        let _ = fs::remove_file(&temp);
        return Err(write_error(path, source));
    }
    Ok(())
}

/// Writes an executable script atomically: a temp file in the same folder, fsync, rename.
/// (`store::write_atomic` keeps a `.swap` file beside its target and writes no mode; a hooks folder
/// must be left with nothing of vizier's but the scripts, and those must be executable.)
fn write_script(path: &Path, text: &str) -> Result<()> {
    let temp = write_temp(path, text)?;
    fs::rename(&temp, path).map_err(|source| {
        let _ = fs::remove_file(&temp);
        write_error(path, source)
    })
}

fn write_temp(path: &Path, text: &str) -> Result<PathBuf> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = path.with_file_name(format!(".{name}.vizier-tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o755)
            .open(&temp)?;
        file.write_all(text.as_bytes())?;
        // The umask may have narrowed the mode given at creation; git needs the x bits.
        file.set_permissions(fs::Permissions::from_mode(0o755))?;
        file.sync_all()
    })();
    result.map_err(|source| {
        let _ = fs::remove_file(&temp);
        write_error(&temp, source)
    })?;
    Ok(temp)
}

fn read_error(path: &Path, source: std::io::Error) -> Error {
    Error::Read {
        path: path.display().to_string(),
        source,
    }
}

fn write_error(path: &Path, source: std::io::Error) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        source,
    }
}
