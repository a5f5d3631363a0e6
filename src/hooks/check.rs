//! What the hook scripts call back into: `vizier hook pre-commit` validates what is staged (the index,
//! never the work tree: nothing is stashed or checked out, so unstaged work cannot be lost), and
//! `vizier hook pre-push` validates each pushed commit's tree.

use git2::{Oid, Repository};

use crate::error::{Error, Result};
use crate::validate::{Report, validate};
use crate::workspace::{Index, Revision, VIZIER_DIR, default_paths};

/// The outcome of the pre-commit check.
#[derive(Debug)]
pub enum PreCommit {
    /// Nothing under `.vizier/` differs between `HEAD` and the index (the commit brings no template
    /// in), or it is exactly the content this vizier last validated without errors: nothing to check.
    NothingStaged,
    /// The templates and config in the index, validated.
    Checked(Box<Report>),
}

/// Validates the staged templates and config when anything under `.vizier/` is staged. The index is
/// the one git is committing from (`GIT_INDEX_FILE` for `git commit -a` and `git commit <paths>`).
pub fn pre_commit() -> Result<PreCommit> {
    // When the quick look cannot tell, the index is validated: never a silent pass. Under the
    // pre-commit framework (`pre-commit run --all-files` in CI, say) "the same as `HEAD`" is no
    // reason to skip: the index is what that run is asked to check.
    let look = super::staged::look(!under_pre_commit_framework())?;
    if look.changed == Some(false) {
        return Ok(PreCommit::NothingStaged);
    }
    let repo = crate::git::open_from_env()?;
    let reader = Index { repo };
    let paths = default_paths(&reader)?;
    let report = validate(&reader, &paths)?;
    // Only a clean result of this validation is remembered, and only when every file it read is
    // under `.vizier/` (the remembered key covers that folder alone).
    let prefix = format!("{VIZIER_DIR}/");
    if report.errors() == 0 && report.files.iter().all(|f| f.path.starts_with(&prefix)) {
        super::staged::remember_valid(&look.remember);
    }
    Ok(PreCommit::Checked(Box::new(report)))
}

/// Whether the pre-commit framework runs this process (it sets `PRE_COMMIT=1` for its hooks).
pub fn under_pre_commit_framework() -> bool {
    std::env::var_os("PRE_COMMIT").is_some_and(|v| v == "1")
}

/// The pushed ref as the pre-commit framework describes it to a `pre-push` stage hook, in place
/// of git's stdin (which the framework has read): `PRE_COMMIT_TO_REF` (the commit pushed) and
/// `PRE_COMMIT_FROM_REF` (a commit the remote has), or, when it pushes a history from its root
/// commit, only `PRE_COMMIT_LOCAL_BRANCH`; run by hand (`pre-commit run --hook-stage pre-push`),
/// `HEAD`. `None` when not run by the framework.
pub fn framework_push() -> Result<Option<Vec<PushedRef>>> {
    if !under_pre_commit_framework() {
        return Ok(None);
    }
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let repo = crate::git::open_from_env()?;
    let resolve = |rev: &str| -> Result<String> {
        repo.revparse_single(rev)
            .and_then(|o| o.peel_to_commit())
            .map(|c| c.id().to_string())
            .map_err(|e| {
                Error::git(format!(
                    "pre-commit named `{rev}`, which is not a commit here: {}",
                    e.message()
                ))
            })
    };
    let local_ref = var("PRE_COMMIT_LOCAL_BRANCH").unwrap_or_else(|| "HEAD".to_owned());
    let local_sha = match var("PRE_COMMIT_TO_REF") {
        Some(to) => resolve(&to)?,
        None => resolve(&local_ref)?,
    };
    let remote_sha = match var("PRE_COMMIT_FROM_REF") {
        Some(from) => resolve(&from)?,
        None => "0".repeat(local_sha.len()),
    };
    Ok(Some(vec![PushedRef {
        local_ref,
        local_sha,
        remote_ref: var("PRE_COMMIT_REMOTE_BRANCH").unwrap_or_default(),
        remote_sha,
    }]))
}

/// One line git gives a pre-push hook on stdin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedRef {
    pub local_ref: String,
    pub local_sha: String,
    pub remote_ref: String,
    pub remote_sha: String,
}

impl PushedRef {
    /// The remote ref is being deleted: nothing is pushed.
    pub fn is_delete(&self) -> bool {
        is_zero(&self.local_sha)
    }
}

fn is_zero(sha: &str) -> bool {
    sha.bytes().all(|b| b == b'0')
}

/// Parses git's pre-push input: `<local ref> <local sha> <remote ref> <remote sha>` per line.
pub fn parse_push_input(input: &str) -> Result<Vec<PushedRef>> {
    let mut refs = Vec::new();
    for (n, line) in input.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        let [local_ref, local_sha, remote_ref, remote_sha] = fields.as_slice() else {
            return Err(Error::Usage(format!(
                "pre-push input line {}: expected `<local ref> <local sha> <remote ref> <remote sha>`, got `{line}`",
                n + 1
            )));
        };
        for sha in [local_sha, remote_sha] {
            if sha.is_empty() || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::Usage(format!(
                    "pre-push input line {}: `{sha}` is not an object id",
                    n + 1
                )));
            }
        }
        refs.push(PushedRef {
            local_ref: (*local_ref).to_owned(),
            local_sha: (*local_sha).to_owned(),
            remote_ref: (*remote_ref).to_owned(),
            remote_sha: (*remote_sha).to_owned(),
        });
    }
    Ok(refs)
}

/// What the pre-push check did for one pushed ref.
#[derive(Debug)]
pub enum PushOutcome {
    /// The remote ref is deleted; nothing to check.
    Deleted,
    /// The pushed object is not a commit or tag of one (a tag of a blob, say); nothing to check.
    NoTree,
    /// `.vizier/` is the same as in the commit the remote already has.
    Unchanged,
    /// The same commit as an earlier ref in this push, checked there.
    SameAs,
    /// The templates and config in the pushed commit's tree, validated.
    Checked(Box<Report>),
}

/// One pushed ref and what its check found.
#[derive(Debug)]
pub struct PushCheck {
    pub pushed: PushedRef,
    pub outcome: PushOutcome,
}

/// Validates the templates and config in the tree of each pushed commit.
pub fn pre_push(refs: Vec<PushedRef>) -> Result<Vec<PushCheck>> {
    let mut repo = crate::git::open_from_env()?;
    let mut checked: Vec<String> = Vec::new(); // shas already validated
    let mut results = Vec::new();
    for pushed in refs {
        let outcome = if pushed.is_delete() {
            PushOutcome::Deleted
        } else if checked.contains(&pushed.local_sha) {
            PushOutcome::SameAs
        } else {
            let Some(tree_id) = tree_of(&repo, &pushed.local_sha)? else {
                results.push(PushCheck {
                    pushed,
                    outcome: PushOutcome::NoTree,
                });
                continue;
            };
            if vizier_unchanged(&repo, tree_id, &pushed.remote_sha)? {
                PushOutcome::Unchanged
            } else {
                let reader = Revision {
                    repo,
                    rev: short(&pushed.local_sha).to_owned(),
                    tree_id,
                };
                let paths = default_paths(&reader)?;
                let report = validate(&reader, &paths)?;
                repo = reader.repo;
                checked.push(pushed.local_sha.clone());
                PushOutcome::Checked(Box::new(report))
            }
        };
        results.push(PushCheck { pushed, outcome });
    }
    Ok(results)
}

/// The short form of an object id, for messages.
pub fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

fn tree_of(repo: &Repository, sha: &str) -> Result<Option<Oid>> {
    let oid = Oid::from_str(sha).map_err(Error::git)?;
    let object = repo.find_object(oid, None).map_err(|e| {
        Error::git(format!(
            "pushed object `{sha}` is not in this repository: {}",
            e.message()
        ))
    })?;
    Ok(object.peel_to_tree().ok().map(|t| t.id()))
}

/// Whether the remote's current commit is known here and has the same `.vizier/` tree: then the
/// push changes no template, and what the remote already holds is not this push's to refuse.
fn vizier_unchanged(repo: &Repository, local_tree: Oid, remote_sha: &str) -> Result<bool> {
    if is_zero(remote_sha) {
        return Ok(false);
    }
    let Some(remote_tree) = Oid::from_str(remote_sha)
        .ok()
        .and_then(|oid| repo.find_object(oid, None).ok())
        .and_then(|o| o.peel_to_tree().ok())
    else {
        return Ok(false);
    };
    let local_tree = repo.find_tree(local_tree).map_err(Error::git)?;
    let entry_id = |tree: &git2::Tree<'_>| {
        tree.get_path(std::path::Path::new(VIZIER_DIR))
            .ok()
            .map(|e| e.id())
    };
    Ok(entry_id(&local_tree) == entry_id(&remote_tree))
}
