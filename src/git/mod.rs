//! In-process reads of git objects (libgit2 through `git2`, with no network features): the index and
//! commit trees that `--staged`, `--rev` and the hooks validate; and `command`, the one place the
//! `git` program is run.

pub mod command;

use std::path::Path;

use git2::{ObjectType, Repository, Tree};

use crate::error::{Error, Result};

/// Opens the repository that contains `path`. When git has set `GIT_INDEX_FILE` (it does while a
/// hook runs for `git commit -a` or `git commit <paths>`, pointing at a temporary index), that index
/// is the one read: it holds what the commit being made will contain.
pub fn open(path: &Path) -> Result<Repository> {
    let repo = Repository::discover(path).map_err(|_| Error::NotARepo {
        path: path.to_path_buf(),
    })?;
    use_env_index(repo)
}

/// Opens the repository the way git's own commands do when they run a hook: from `GIT_DIR` (and
/// `GIT_COMMON_DIR`, `GIT_INDEX_FILE`, …) when set, else by discovery from the current folder.
pub fn open_from_env() -> Result<Repository> {
    Repository::open_from_env().map_err(|_| Error::NotARepo {
        path: std::env::current_dir().unwrap_or_default(),
    })
}

fn use_env_index(repo: Repository) -> Result<Repository> {
    let Some(file) = std::env::var_os("GIT_INDEX_FILE").filter(|f| !f.is_empty()) else {
        return Ok(repo);
    };
    let mut index = git2::Index::open(Path::new(&file)).map_err(|e| {
        Error::git(format!(
            "cannot read the index `{}`: {}",
            file.to_string_lossy(),
            e.message()
        ))
    })?;
    repo.set_index(&mut index).map_err(Error::git)?;
    Ok(repo)
}

/// The staged content of a file, or `None` when it is not in the index.
pub fn index_file(repo: &Repository, rel: &str) -> Result<Option<Vec<u8>>> {
    let index = repo.index().map_err(Error::git)?;
    let Some(entry) = index.get_path(Path::new(rel), 0) else {
        return Ok(None);
    };
    let blob = repo.find_blob(entry.id).map_err(Error::git)?;
    Ok(Some(blob.content().to_vec()))
}

/// Staged paths under a folder prefix (ending in `/`), sorted.
pub fn index_paths(repo: &Repository, prefix: &str) -> Result<Vec<String>> {
    let index = repo.index().map_err(Error::git)?;
    let mut paths: Vec<String> = index
        .iter()
        .filter(|e| (e.flags >> 12) & 0x3 == 0) // stage 0: not a conflict side
        .filter_map(|e| String::from_utf8(e.path).ok())
        .filter(|p| p.starts_with(prefix))
        .collect();
    paths.sort();
    Ok(paths)
}

/// The tree of the commit `rev` names.
pub fn rev_tree<'r>(repo: &'r Repository, rev: &str) -> Result<Tree<'r>> {
    let object = repo
        .revparse_single(rev)
        .map_err(|e| Error::git(format!("cannot resolve `{rev}`: {}", e.message())))?;
    object
        .peel_to_tree()
        .map_err(|e| Error::git(format!("`{rev}` has no tree: {}", e.message())))
}

/// A file's content in a tree, or `None` when the tree does not hold it.
pub fn tree_file(repo: &Repository, tree: &Tree<'_>, rel: &str) -> Result<Option<Vec<u8>>> {
    let Ok(entry) = tree.get_path(Path::new(rel)) else {
        return Ok(None);
    };
    if entry.kind() != Some(ObjectType::Blob) {
        return Ok(None);
    }
    let blob = repo.find_blob(entry.id()).map_err(Error::git)?;
    Ok(Some(blob.content().to_vec()))
}

/// The blob names directly inside folder `dir` of a tree, sorted.
pub fn tree_names(repo: &Repository, tree: &Tree<'_>, dir: &str) -> Result<Vec<String>> {
    let Ok(entry) = tree.get_path(Path::new(dir)) else {
        return Ok(Vec::new());
    };
    let Some(sub) = entry.to_object(repo).ok().and_then(|o| o.into_tree().ok()) else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = sub
        .iter()
        .filter(|e| e.kind() == Some(ObjectType::Blob))
        .filter_map(|e| e.name().ok().map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

/// The commit `HEAD` points at and the ref it names (`refs/heads/main`, or `HEAD` when detached).
/// An unborn branch gives the all-zero sha. `None` outside a git repository.
pub fn head(path: &Path) -> Option<(String, String)> {
    let repo = Repository::discover(path).ok()?;
    let zero = "0".repeat(40);
    match repo.head() {
        Ok(head) => {
            let sha = head
                .peel_to_commit()
                .map(|c| c.id().to_string())
                .unwrap_or(zero);
            let name = if repo.head_detached().unwrap_or(false) {
                "HEAD".to_owned()
            } else {
                head.name().unwrap_or("HEAD").to_owned()
            };
            Some((sha, name))
        }
        Err(_) => {
            let name = repo
                .find_reference("HEAD")
                .ok()
                .and_then(|r| r.symbolic_target().ok().flatten().map(str::to_owned))
                .unwrap_or_else(|| "HEAD".to_owned());
            Some((zero, name))
        }
    }
}
