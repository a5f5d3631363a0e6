//! husky repositories. husky points `core.hooksPath` at its own generated folder (`.husky/_`), whose
//! stubs find the user's script (`.husky/<hook>`) by their own file name: chaining one of them (a
//! rename) would silently stop every husky hook. So in a husky repository vizier never touches the
//! hooks folder. `vizier hooks install` refuses and names the lines to add to husky's scripts;
//! with `--husky` it appends those lines itself, each marked as vizier's, and `uninstall` removes
//! exactly what it appended.
//!
//! Both husky layouts are recognised: v9 (`core.hooksPath = .husky/_`, holding husky's `h` runner;
//! scripts are plain shell text in `.husky/`) and v8 (`core.hooksPath = .husky`, holding
//! `_/husky.sh`; scripts there are the hooks git runs, so a new one gets husky's header and is made
//! executable).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{HookName, HooksFolder};
use crate::error::{Error, Result};

/// Ends every line vizier adds to a husky script; `uninstall` removes only lines ending so.
const MARK: &str = "# added by `vizier hooks install --husky`";
/// The same, on a line added to a script whose last line had no newline (so one was added before it).
const MARK_NEWLINE: &str = "# added by `vizier hooks install --husky` (after a newline)";
/// The same, on the line of a script vizier created: `uninstall` removes the file again.
const MARK_CREATED: &str = "# added by `vizier hooks install --husky` (new file)";
/// The header of a v8 husky script vizier creates.
const V8_HEADER: &str = "#!/usr/bin/env sh\n. \"$(dirname -- \"$0\")/_/husky.sh\"\n";

/// A husky set-up: where the user's hook scripts live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Husky {
    /// The folder of the user's scripts (`.husky`).
    pub scripts: PathBuf,
    /// v8: the scripts are the hooks git runs (executable, with husky's header).
    pub v8: bool,
}

/// What `install --husky` / `uninstall` did to one script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HuskyChange {
    /// The line was appended to an existing script.
    Appended,
    /// The script did not exist; vizier created it holding the line.
    Created,
    /// The line was already there.
    Unchanged,
    /// vizier's line was removed (and the script too, when vizier's line was all of it).
    Removed { file_removed: bool },
    /// No line of vizier's was there.
    NotInstalled,
}

/// One husky script and what happened to it.
#[derive(Clone, Debug)]
pub struct HuskyReport {
    pub hook: HookName,
    pub path: PathBuf,
    pub change: HuskyChange,
}

/// The husky set-up whose generated folder git runs hooks from, if any.
pub fn detect(folder: &HooksFolder) -> Option<Husky> {
    let dir = &folder.path;
    if dir.join("h").is_file() && (dir.join("husky.sh").is_file() || dir.ends_with("_")) {
        return Some(Husky {
            scripts: dir.parent()?.to_path_buf(),
            v8: false,
        });
    }
    if dir.join("_").join("husky.sh").is_file() {
        return Some(Husky {
            scripts: dir.clone(),
            v8: true,
        });
    }
    None
}

/// The command vizier's line runs for `hook`. It names no path of this machine (husky's scripts are
/// committed and shared): `$VIZIER_BIN` when set, else `vizier` on `PATH`; when neither is there,
/// the shell's "not found" fails the hook (never a silent pass).
pub fn command(hook: HookName) -> &'static str {
    match hook {
        HookName::PreCommit => "\"${VIZIER_BIN:-vizier}\" hook pre-commit",
        // husky passes git's arguments, and git's stdin reaches the script unread.
        HookName::PrePush => "\"${VIZIER_BIN:-vizier}\" hook pre-push \"$@\"",
    }
}

fn line(hook: HookName, mark: &str) -> String {
    format!("{} {mark}\n", command(hook))
}

/// The script husky runs for `hook`.
pub fn script_path(husky: &Husky, hook: HookName) -> PathBuf {
    husky.scripts.join(hook.file_name())
}

fn read(path: &Path) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Error::NotUtf8 {
                path: path.display().to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Whether a script already holds vizier's line for `hook`.
fn holds(text: &str, hook: HookName) -> bool {
    text.lines().any(|l| {
        [MARK, MARK_NEWLINE, MARK_CREATED]
            .iter()
            .find_map(|mark| l.strip_suffix(mark))
            .is_some_and(|rest| rest.trim_end() == command(hook))
    })
}

/// Appends vizier's line to each husky script (creating the ones that do not exist).
pub fn install(husky: &Husky, hooks: &[HookName]) -> Result<Vec<HuskyReport>> {
    let mut reports = Vec::new();
    for &hook in hooks {
        let path = script_path(husky, hook);
        let change = match read(&path)? {
            Some(text) if holds(&text, hook) => HuskyChange::Unchanged,
            Some(text) => {
                let added = if text.is_empty() || text.ends_with('\n') {
                    line(hook, MARK)
                } else {
                    format!("\n{}", line(hook, MARK_NEWLINE))
                };
                // Appending keeps the file's mode, owner and every byte before it.
                use std::io::Write;
                let mut file = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .map_err(|source| Error::Write {
                        path: path.clone(),
                        source,
                    })?;
                file.write_all(added.as_bytes())
                    .map_err(|source| Error::Write {
                        path: path.clone(),
                        source,
                    })?;
                HuskyChange::Appended
            }
            None => {
                std::fs::create_dir_all(&husky.scripts).map_err(|source| Error::Write {
                    path: husky.scripts.clone(),
                    source,
                })?;
                let header = if husky.v8 { V8_HEADER } else { "" };
                write(&path, &format!("{header}{}", line(hook, MARK_CREATED)))?;
                if husky.v8 {
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                        .map_err(|source| Error::Write {
                            path: path.clone(),
                            source,
                        })?;
                }
                HuskyChange::Created
            }
        };
        reports.push(HuskyReport { hook, path, change });
    }
    Ok(reports)
}

/// Removes exactly the lines `install` appended; a script vizier created and nothing else was added
/// to is removed.
pub fn uninstall(husky: &Husky, hooks: &[HookName]) -> Result<Vec<HuskyReport>> {
    let mut reports = Vec::new();
    for &hook in hooks {
        let path = script_path(husky, hook);
        let Some(text) = read(&path)?.filter(|t| holds(t, hook)) else {
            reports.push(HuskyReport {
                hook,
                path,
                change: HuskyChange::NotInstalled,
            });
            continue;
        };
        let created = text.contains(&line(hook, MARK_CREATED));
        let mut kept = text
            .replace(&format!("\n{}", line(hook, MARK_NEWLINE)), "")
            .replace(&line(hook, MARK), "")
            .replace(&line(hook, MARK_CREATED), "");
        // A line that lost its newline by hand is still vizier's.
        for mark in [MARK_NEWLINE, MARK, MARK_CREATED] {
            let bare = format!("{} {mark}", command(hook));
            if let Some(rest) = kept.strip_suffix(&bare) {
                kept = rest.to_owned();
            }
        }
        let header = if husky.v8 { V8_HEADER } else { "" };
        let file_removed = created && (kept.is_empty() || kept == header);
        if file_removed {
            std::fs::remove_file(&path).map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
        } else {
            write(&path, &kept)?;
        }
        reports.push(HuskyReport {
            hook,
            path,
            change: HuskyChange::Removed { file_removed },
        });
    }
    Ok(reports)
}

/// Whether each husky script holds vizier's line.
pub fn status(husky: &Husky, hooks: &[HookName]) -> Result<Vec<(HookName, PathBuf, bool)>> {
    hooks
        .iter()
        .map(|&hook| {
            let path = script_path(husky, hook);
            let on = read(&path)?.is_some_and(|t| holds(&t, hook));
            Ok((hook, path, on))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn husky(dir: &Path, v8: bool) -> Husky {
        Husky {
            scripts: dir.to_path_buf(),
            v8,
        }
    }

    #[test]
    fn install_then_uninstall_gives_back_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let h = husky(dir.path(), false);
        let with_newline = "npm test\n";
        let without = "npm run lint";
        for original in [with_newline, without, ""] {
            let path = script_path(&h, HookName::PreCommit);
            std::fs::write(&path, original).unwrap();
            install(&h, &[HookName::PreCommit]).unwrap();
            let installed = std::fs::read_to_string(&path).unwrap();
            assert!(installed.starts_with(original));
            assert!(holds(&installed, HookName::PreCommit), "{installed:?}");
            let again = install(&h, &[HookName::PreCommit]).unwrap();
            assert_eq!(again[0].change, HuskyChange::Unchanged);
            uninstall(&h, &[HookName::PreCommit]).unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
        }
        // A created script goes again.
        let created = install(&h, &[HookName::PrePush]).unwrap();
        assert_eq!(created[0].change, HuskyChange::Created);
        uninstall(&h, &[HookName::PrePush]).unwrap();
        assert!(!script_path(&h, HookName::PrePush).exists());
    }

    #[test]
    fn a_v8_script_vizier_creates_is_executable_with_husky_header() {
        let dir = tempfile::tempdir().unwrap();
        let h = husky(dir.path(), true);
        install(&h, &[HookName::PrePush]).unwrap();
        let path = script_path(&h, HookName::PrePush);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(V8_HEADER));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111);
        uninstall(&h, &[HookName::PrePush]).unwrap();
        assert!(!path.exists());
    }
}
