//! `vizier init`: the scaffold of a repository — `.vizier/config.toml`, the `draft`,
//! `approve`, `merge` and `ci` templates, and the ignore rules for what vizier writes at run time.
//!
//! Never loses a person's work: an existing file is kept as it is unless `force` is given, and then
//! it is moved aside to `<file>.bak-<UTC time>` before the scaffold takes its place. Running it again
//! changes nothing. `.gitignore` only ever gains the rules it lacks. `inspect` reads and never writes
//! (`vizier init --check`).
//!
//! The scaffold's text lives in `src/init/templates/`, embedded at build time; the three workflow
//! templates are the same files as this repository's own (a test keeps them equal).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A scaffold file: repository-relative path and content.
pub struct ScaffoldFile {
    pub path: &'static str,
    pub content: &'static str,
}

pub const FILES: &[ScaffoldFile] = &[
    ScaffoldFile {
        path: ".vizier/config.toml",
        content: include_str!("init/templates/config.toml"),
    },
    ScaffoldFile {
        path: ".vizier/workflow/draft.toml",
        content: include_str!("init/templates/draft.toml"),
    },
    ScaffoldFile {
        path: ".vizier/workflow/approve.toml",
        content: include_str!("init/templates/approve.toml"),
    },
    ScaffoldFile {
        path: ".vizier/workflow/merge.toml",
        content: include_str!("init/templates/merge.toml"),
    },
    ScaffoldFile {
        path: ".vizier/workflow/ci.toml",
        content: include_str!("init/templates/ci.toml"),
    },
    // The agent prompts of `draft` and `approve`, as files reviewed like code.
    ScaffoldFile {
        path: ".vizier/prompts/draft.md",
        content: include_str!("init/templates/prompts/draft.md"),
    },
    ScaffoldFile {
        path: ".vizier/prompts/approve.md",
        content: include_str!("init/templates/prompts/approve.md"),
    },
    // The composition of the three: `vizier run develop`.
    ScaffoldFile {
        path: ".vizier/develop.toml",
        content: include_str!("init/templates/develop.toml"),
    },
];

/// Scripts the scaffold's templates run. Created (executable) when missing, never replaced: even
/// under `force`, an existing one is the project's own.
pub const STARTER_SCRIPTS: &[ScaffoldFile] = &[ScaffoldFile {
    path: ".ci/run",
    content: include_str!("init/templates/ci-run.sh"),
}];

pub const GITIGNORE: &str = ".gitignore";

/// What vizier writes at run time and git must not track.
pub const IGNORE_RULES: &[&str] = &[
    ".vizier/jobs/",
    ".vizier/tmp/",
    ".vizier/tmp-worktrees/",
    ".vizier/artifacts/",
];

const IGNORE_COMMENT: &str = "# vizier: job records, scratch files, worktrees and CI artifacts";

/// What is there now, per scaffold item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Missing,
    /// The same as the scaffold (for `.gitignore`: every rule present).
    Complete,
    /// A file that differs from the scaffold: the person's own version, kept.
    Customized,
    /// `.gitignore` lacks these rules.
    MissingRules(Vec<String>),
}

impl State {
    pub fn is_missing(&self) -> bool {
        matches!(self, State::Missing | State::MissingRules(_))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub state: State,
}

/// What `init` did to one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Created,
    Unchanged,
    /// Differs from the scaffold and `force` was not given.
    Kept,
    /// Replaced under `force`; the old file was moved to `backup` (repository-relative).
    Replaced {
        backup: String,
    },
    /// Rules appended to `.gitignore`.
    Appended(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub action: Action,
}

/// The state of every scaffold item under `root`. Writes nothing.
pub fn inspect(root: &Path) -> Result<Vec<Entry>> {
    check_inside(root)?;
    let mut entries = Vec::new();
    for file in FILES {
        let state = match read_optional(&root.join(file.path))? {
            None => State::Missing,
            Some(text) if text == file.content => State::Complete,
            Some(_) => State::Customized,
        };
        entries.push(Entry {
            path: file.path.to_owned(),
            state,
        });
    }
    for file in STARTER_SCRIPTS {
        let state = match read_optional(&root.join(file.path))? {
            None => State::Missing,
            Some(text) if text == file.content => State::Complete,
            Some(_) => State::Customized,
        };
        entries.push(Entry {
            path: file.path.to_owned(),
            state,
        });
    }
    let text = read_optional(&root.join(GITIGNORE))?;
    let missing = missing_rules(text.as_deref().unwrap_or(""));
    entries.push(Entry {
        path: GITIGNORE.to_owned(),
        state: if missing.is_empty() {
            State::Complete
        } else {
            State::MissingRules(missing)
        },
    });
    Ok(entries)
}

/// Creates what is missing; with `force`, also replaces files that differ (after a backup).
pub fn init(root: &Path, force: bool) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    let mut starters = Vec::new();
    let entries = inspect(root)?;
    for (entry, file) in entries.iter().skip(FILES.len()).zip(STARTER_SCRIPTS) {
        let action = if entry.state == State::Missing {
            create_new(&root.join(file.path), file.content)?;
            make_executable(&root.join(file.path))?;
            Action::Created
        } else {
            Action::Unchanged
        };
        starters.push(Change {
            path: entry.path.clone(),
            action,
        });
    }
    for (entry, file) in entries.into_iter().zip(FILES) {
        let path = root.join(file.path);
        let action = match entry.state {
            State::Missing => {
                create_new(&path, file.content)?;
                Action::Created
            }
            State::Customized if force => {
                let backup = backup_path(&path);
                std::fs::rename(&path, &backup).map_err(|source| Error::Write {
                    path: backup.clone(),
                    source,
                })?;
                create_new(&path, file.content)?;
                Action::Replaced {
                    backup: relative(root, &backup),
                }
            }
            State::Customized => Action::Kept,
            State::Complete | State::MissingRules(_) => Action::Unchanged,
        };
        changes.push(Change {
            path: entry.path,
            action,
        });
    }
    changes.extend(starters);
    changes.push(Change {
        path: GITIGNORE.to_owned(),
        action: add_ignore_rules(root)?,
    });
    Ok(changes)
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|source| {
        Error::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<()> {
    Ok(())
}

/// Refuses a `.vizier/` (or its `workflow/`) that is a symlink leading out of the repository.
fn check_inside(root: &Path) -> Result<()> {
    let real_root = root.canonicalize().map_err(|source| Error::Read {
        path: root.display().to_string(),
        source,
    })?;
    for dir in [".vizier", ".vizier/workflow"] {
        if let Ok(real) = root.join(dir).canonicalize()
            && !real.starts_with(&real_root)
        {
            return Err(Error::OutsideRoot { path: dir.into() });
        }
    }
    Ok(())
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Writes a file that must not exist yet: if one appeared since it was inspected, it is left alone
/// and the write fails.
fn create_new(path: &Path, content: &str) -> Result<()> {
    let write_err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_err)?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(write_err)?;
    file.write_all(content.as_bytes()).map_err(write_err)?;
    file.sync_all().map_err(write_err)
}

/// `<file>.bak-<YYYYMMDDTHHMMSSZ>`, with `-2`, `-3`… when that name is taken.
fn backup_path(path: &Path) -> PathBuf {
    let stamp: String = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut candidate = path.with_file_name(format!("{name}.bak-{stamp}"));
    let mut n = 2;
    while candidate.symlink_metadata().is_ok() {
        candidate = path.with_file_name(format!("{name}.bak-{stamp}-{n}"));
        n += 1;
    }
    candidate
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// The rules `text` lacks. `/x/`, `x/`, `/x` and `x` all count as the rule for folder `x`.
fn missing_rules(text: &str) -> Vec<String> {
    let present: Vec<&str> = text
        .lines()
        .map(|l| l.trim().trim_start_matches('/').trim_end_matches('/'))
        .collect();
    IGNORE_RULES
        .iter()
        .filter(|rule| !present.contains(&rule.trim_end_matches('/')))
        .map(|rule| (*rule).to_owned())
        .collect()
}

fn add_ignore_rules(root: &Path) -> Result<Action> {
    let path = root.join(GITIGNORE);
    let text = read_optional(&path)?.unwrap_or_default();
    let missing = missing_rules(&text);
    if missing.is_empty() {
        return Ok(Action::Unchanged);
    }
    let mut addition = String::new();
    if !text.is_empty() && !text.ends_with('\n') {
        addition.push('\n');
    }
    if !text.lines().any(|l| l.trim() == IGNORE_COMMENT) {
        addition.push_str(IGNORE_COMMENT);
        addition.push('\n');
    }
    for rule in &missing {
        addition.push_str(rule);
        addition.push('\n');
    }
    let write_err = |source| Error::Write {
        path: path.clone(),
        source,
    };
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(write_err)?;
    file.write_all(addition.as_bytes()).map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    Ok(Action::Appended(missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_with_or_without_slashes() {
        assert_eq!(missing_rules(""), IGNORE_RULES);
        let text = "/.vizier/jobs/\n  .vizier/tmp\n# .vizier/tmp-worktrees/\n";
        assert_eq!(
            missing_rules(text),
            [".vizier/tmp-worktrees/", ".vizier/artifacts/"]
        );
        assert!(
            missing_rules(
                "/.vizier/jobs\n.vizier/tmp/\n/.vizier/tmp-worktrees/\n.vizier/artifacts\n"
            )
            .is_empty()
        );
    }

    #[test]
    fn backups_never_collide() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("draft.toml");
        let first = backup_path(&file);
        std::fs::write(&first, "").unwrap();
        let second = backup_path(&file);
        assert_ne!(first, second);
        let name = first.file_name().unwrap().to_string_lossy().into_owned();
        // draft.toml.bak-20250102T030405Z
        assert!(
            name.starts_with("draft.toml.bak-") && name.ends_with('Z'),
            "{name}"
        );
        assert_eq!(name.len(), "draft.toml.bak-".len() + 16, "{name}");
    }
}
