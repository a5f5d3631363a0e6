//! Where templates come from: the repository root, and the three places their text can be read —
//! the work tree, the git index (`--staged`), or a commit's tree (`--rev`).
//!
//! Paths handed around are repository-relative with `/` separators; nothing here lets a path leave
//! the root.

use std::path::{Component, Path, PathBuf};

use crate::config::CONFIG_PATH;
use crate::error::{Error, Result};

pub const VIZIER_DIR: &str = ".vizier";
pub const WORKFLOW_DIR: &str = ".vizier/workflow";

/// The folder vizier works in: the nearest ancestor holding `.vizier/` or `.git`.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub root: PathBuf,
}

impl Workspace {
    /// Finds the root from `start`. `None` when no ancestor has `.vizier/` or `.git`.
    pub fn locate(start: &Path) -> Option<Workspace> {
        let start = std::path::absolute(start).ok()?;
        for dir in start.ancestors() {
            if dir.join(VIZIER_DIR).is_dir() || dir.join(".git").exists() {
                return Some(Workspace {
                    root: dir.to_path_buf(),
                });
            }
        }
        None
    }

    pub fn has_vizier(&self) -> bool {
        self.root.join(VIZIER_DIR).is_dir()
    }

    /// Turns a path given on the command line (relative to `cwd`) into a repository-relative one.
    /// A path outside the repository is the caller's mistake: a usage error (exit 2).
    pub fn relative(&self, cwd: &Path, given: &Path) -> Result<String> {
        let absolute = normalize(&cwd.join(given));
        let root = normalize(&self.root);
        let rel = absolute.strip_prefix(&root).map_err(|_| {
            Error::Usage(format!(
                "`{}` is outside the repository at `{}`",
                given.display(),
                self.root.display()
            ))
        })?;
        Ok(to_slash(rel))
    }
}

/// Resolves a repository-relative path (a folder or a file, following symlinks), refusing anything
/// that leaves the root.
pub fn inside_root(root: &Path, rel: &str) -> Result<PathBuf> {
    let joined = root.join(rel);
    let real = joined.canonicalize().map_err(|source| Error::Read {
        path: joined.display().to_string(),
        source,
    })?;
    let real_root = root.canonicalize().map_err(|source| Error::Read {
        path: root.display().to_string(),
        source,
    })?;
    if !real.starts_with(&real_root) {
        return Err(Error::OutsideRoot {
            path: rel.to_owned(),
        });
    }
    Ok(real)
}

/// Joins `rel` onto the folder of `base` (both repository-relative) and normalizes `.` and `..`;
/// `None` when the result would leave the root.
pub fn join_relative(base: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = base.split('/').collect();
    parts.pop(); // the file name
    if rel.starts_with('/') {
        return None;
    }
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// Resolves a relative path a template or record names inside `base`, which may not
/// exist yet: refuses an empty or absolute path, any `..`, and a path whose existing part leads
/// out of `base` through a symlink. Returns `base` joined with the path.
pub fn resolve_inside(base: &Path, rel: &str) -> Result<PathBuf> {
    let outside = || Error::OutsideRoot {
        path: rel.to_owned(),
    };
    let given = Path::new(rel);
    if rel.trim().is_empty()
        || given.is_absolute()
        || given
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(outside());
    }
    let real_base = base.canonicalize().map_err(|source| Error::Read {
        path: base.display().to_string(),
        source,
    })?;
    let joined = real_base.join(given);
    // The longest part that exists decides where the path really goes.
    let mut existing = joined.as_path();
    loop {
        if std::fs::symlink_metadata(existing).is_ok() {
            let real = existing.canonicalize().map_err(|_| outside())?;
            if !real.starts_with(&real_base) {
                return Err(outside());
            }
            break;
        }
        match existing.parent() {
            Some(parent) => existing = parent,
            None => break,
        }
    }
    Ok(joined)
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn to_slash(path: &Path) -> String {
    path.components()
        .filter_map(|c| c.as_os_str().to_str())
        .collect::<Vec<_>>()
        .join("/")
}

/// Where file text is read from.
pub trait Reader {
    /// The text of a repository-relative file; `None` when it does not exist there.
    fn read(&self, rel: &str) -> Result<Option<String>>;
    /// The `*.toml` file names directly inside a repository-relative folder, sorted.
    fn toml_names(&self, dir: &str) -> Result<Vec<String>>;
    /// What the default file set is read from, for messages.
    fn describe(&self) -> String;
}

/// The default set: every `.vizier/workflow/*.toml`, the compositions directly in
/// `.vizier/` (such as `develop.toml`), and `.vizier/config.toml` when it exists.
pub fn default_paths(reader: &dyn Reader) -> Result<Vec<String>> {
    let mut paths: Vec<String> = reader
        .toml_names(WORKFLOW_DIR)?
        .into_iter()
        .map(|n| format!("{WORKFLOW_DIR}/{n}"))
        .collect();
    for name in reader.toml_names(VIZIER_DIR)? {
        paths.push(format!("{VIZIER_DIR}/{name}"));
    }
    paths.sort();
    Ok(paths)
}

pub fn is_config(rel: &str) -> bool {
    rel == CONFIG_PATH
}

fn utf8(rel: &str, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| Error::NotUtf8 {
        path: rel.to_owned(),
    })
}

/// The files as they are on disk.
pub struct WorkTree {
    pub root: PathBuf,
}

impl WorkTree {
    /// The on-disk path of `rel`, refusing symlinks that lead out of the root.
    fn resolve(&self, rel: &str) -> Result<Option<PathBuf>> {
        let path = self.root.join(rel);
        let Ok(real) = path.canonicalize() else {
            return Ok(None);
        };
        let root = self.root.canonicalize().map_err(|source| Error::Read {
            path: self.root.display().to_string(),
            source,
        })?;
        if !real.starts_with(&root) {
            return Err(Error::OutsideRoot {
                path: rel.to_owned(),
            });
        }
        Ok(Some(real))
    }
}

impl Reader for WorkTree {
    fn read(&self, rel: &str) -> Result<Option<String>> {
        let Some(path) = self.resolve(rel)? else {
            return Ok(None);
        };
        match std::fs::read(&path) {
            Ok(bytes) => utf8(rel, bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Read {
                path: rel.to_owned(),
                source,
            }),
        }
    }

    fn toml_names(&self, dir: &str) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(self.root.join(dir)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(Error::Read {
                    path: dir.to_owned(),
                    source,
                });
            }
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| Error::Read {
                path: dir.to_owned(),
                source,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // A folder or a broken link named `*.toml` is not a template; a readable link is.
            if name.ends_with(".toml") && entry.path().is_file() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn describe(&self) -> String {
        "the work tree".to_owned()
    }
}

/// The files as staged in the git index: what the commit being made will hold.
pub struct Index {
    pub repo: git2::Repository,
}

impl Reader for Index {
    fn read(&self, rel: &str) -> Result<Option<String>> {
        crate::git::index_file(&self.repo, rel)?
            .map(|b| utf8(rel, b))
            .transpose()
    }

    fn toml_names(&self, dir: &str) -> Result<Vec<String>> {
        let prefix = format!("{dir}/");
        Ok(crate::git::index_paths(&self.repo, &prefix)?
            .into_iter()
            .filter_map(|p| p.strip_prefix(&prefix).map(str::to_owned))
            .filter(|name| !name.contains('/') && name.ends_with(".toml"))
            .collect())
    }

    fn describe(&self) -> String {
        "the git index".to_owned()
    }
}

/// The files in a commit's tree.
pub struct Revision {
    pub repo: git2::Repository,
    pub rev: String,
    pub tree_id: git2::Oid,
}

impl Revision {
    pub fn new(repo: git2::Repository, rev: &str) -> Result<Revision> {
        let tree_id = crate::git::rev_tree(&repo, rev)?.id();
        Ok(Revision {
            repo,
            rev: rev.to_owned(),
            tree_id,
        })
    }

    fn tree(&self) -> Result<git2::Tree<'_>> {
        self.repo.find_tree(self.tree_id).map_err(Error::git)
    }
}

impl Reader for Revision {
    fn read(&self, rel: &str) -> Result<Option<String>> {
        let tree = self.tree()?;
        crate::git::tree_file(&self.repo, &tree, rel)?
            .map(|b| utf8(rel, b))
            .transpose()
    }

    fn toml_names(&self, dir: &str) -> Result<Vec<String>> {
        let tree = self.tree()?;
        Ok(crate::git::tree_names(&self.repo, &tree, dir)?
            .into_iter()
            .filter(|n| n.ends_with(".toml"))
            .collect())
    }

    fn describe(&self) -> String {
        format!("commit `{}`", self.rev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_resolve_beside_their_file_and_never_above_the_root() {
        assert_eq!(
            join_relative(".vizier/develop.toml", "workflow/draft.toml").as_deref(),
            Some(".vizier/workflow/draft.toml")
        );
        assert_eq!(
            join_relative(".vizier/workflow/a.toml", "../develop.toml").as_deref(),
            Some(".vizier/develop.toml")
        );
        assert_eq!(join_relative(".vizier/a.toml", "../../x.toml"), None);
        assert_eq!(join_relative(".vizier/a.toml", "/etc/passwd"), None);
    }

    #[test]
    fn resolve_inside_refuses_parents_absolute_paths_and_escaping_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("a")).unwrap();
        let real_root = root.canonicalize().unwrap();
        assert_eq!(
            resolve_inside(&root, "a/new/file.md").unwrap(),
            real_root.join("a/new/file.md")
        );
        for bad in ["", "../x", "a/../../x", "/etc/passwd", "a/.."] {
            assert!(
                matches!(resolve_inside(&root, bad), Err(Error::OutsideRoot { .. })),
                "{bad:?} was accepted"
            );
        }
        std::os::unix::fs::symlink(dir.path(), root.join("out")).unwrap();
        assert!(matches!(
            resolve_inside(&root, "out/x/y"),
            Err(Error::OutsideRoot { .. })
        ));
        std::os::unix::fs::symlink(root.join("a"), root.join("in")).unwrap();
        assert!(resolve_inside(&root, "in/x").is_ok());
    }
}
