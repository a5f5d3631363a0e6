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

/// Joins `rel` onto the folder of `base` (both repository-relative, or `base` absolute for a file
/// given from outside the repository) and normalizes `.` and `..`; `None` when the result would
/// leave the root (for an absolute `base`, the file system root: [`GivenFiles`] confines it further).
pub fn join_relative(base: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = base.split('/').collect();
    parts.pop(); // the file name
    if rel.starts_with('/') {
        return None;
    }
    // An absolute base splits into a leading empty part, which `..` never removes.
    let keep = usize::from(base.starts_with('/'));
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.len() <= keep {
                    return None;
                }
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
    rel == CONFIG_PATH || (rel.starts_with('/') && rel.ends_with(&format!("/{CONFIG_PATH}")))
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

/// The files given on the command line: repository-relative paths read through `local`, and files
/// from anywhere else (a linter checks any file it is given) under their absolute paths. A file
/// from outside is read inside its own root — the repository (or vizier folder) that contains it,
/// else its own folder — so what it names (imports) stays inside that root.
pub struct GivenFiles {
    pub local: Box<dyn Reader>,
    /// `(absolute root, its files)`, one per root that a given file lives in.
    others: Vec<(String, WorkTree)>,
}

impl GivenFiles {
    pub fn new(local: Box<dyn Reader>) -> GivenFiles {
        GivenFiles {
            local,
            others: Vec::new(),
        }
    }

    /// Adds a file or folder outside the repository (an absolute, symlink-free path) and returns
    /// the path validation knows it by: its absolute path.
    pub fn add_outside(&mut self, real: &Path) -> Result<String> {
        let base = if real.is_dir() {
            real
        } else {
            real.parent().unwrap_or(real)
        };
        let root = Workspace::locate(base)
            .and_then(|w| w.root.canonicalize().ok())
            .filter(|root| real.starts_with(root))
            .unwrap_or_else(|| base.to_path_buf());
        let not_utf8 = || Error::NotUtf8 {
            path: real.display().to_string(),
        };
        let prefix = root.to_str().ok_or_else(not_utf8)?.to_owned();
        let rel = real.strip_prefix(&root).map_err(|_| Error::OutsideRoot {
            path: real.display().to_string(),
        })?;
        let rel = to_slash(rel);
        if !self.others.iter().any(|(p, _)| *p == prefix) {
            self.others.push((prefix.clone(), WorkTree { root }));
        }
        Ok(under(&prefix, &rel))
    }

    /// The root an absolute path belongs to (the longest that holds it) and the path inside it.
    fn outside(&self, path: &str) -> Result<(&WorkTree, String)> {
        self.others
            .iter()
            .filter_map(|(prefix, tree)| {
                let rest = if path == prefix {
                    ""
                } else {
                    path.strip_prefix(prefix.trim_end_matches('/'))?
                        .strip_prefix('/')?
                };
                Some((prefix.len(), tree, rest.to_owned()))
            })
            .max_by_key(|(len, _, _)| *len)
            .map(|(_, tree, rest)| (tree, rest))
            .ok_or_else(|| Error::OutsideRoot {
                path: path.to_owned(),
            })
    }
}

fn under(prefix: &str, rel: &str) -> String {
    match (prefix.trim_end_matches('/'), rel) {
        (p, "") => p.to_owned(),
        (p, r) => format!("{p}/{r}"),
    }
}

impl Reader for GivenFiles {
    fn read(&self, path: &str) -> Result<Option<String>> {
        if !path.starts_with('/') {
            return self.local.read(path);
        }
        let (tree, rel) = self.outside(path)?;
        tree.read(&rel).map_err(|e| match e {
            Error::OutsideRoot { .. } => Error::OutsideRoot {
                path: path.to_owned(),
            },
            other => other,
        })
    }

    fn toml_names(&self, dir: &str) -> Result<Vec<String>> {
        if !dir.starts_with('/') {
            return self.local.toml_names(dir);
        }
        let (tree, rel) = self.outside(dir)?;
        tree.toml_names(&rel)
    }

    fn describe(&self) -> String {
        self.local.describe()
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
        // A file given from outside the repository keeps its absolute path.
        assert_eq!(
            join_relative("/tmp/p/a.toml", "../b.toml").as_deref(),
            Some("/tmp/b.toml")
        );
        assert_eq!(join_relative("/tmp/a.toml", "../../x.toml"), None);
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
