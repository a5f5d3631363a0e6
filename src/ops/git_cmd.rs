//! Running the `git` program for the git operations: argv only, never a shell, with
//! git's own words kept for failure messages. Each command and what git said go to the job's stderr
//! log, so `vizier jobs tail` shows what an operation did.
//!
//! Reads of objects that need no work tree live in `crate::git` (libgit2); this module is for what
//! libgit2 does not do the way the `git` program does: worktrees, merges, `apply`, hooks on commit.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

pub use crate::git::command::Out;

/// Whether commands and what git said are written to stderr: on in a job process, whose stderr is
/// the job's log ([`log_to_stderr`]); off elsewhere (`jobs retry`, `cancel`, `clean` run git for a
/// person, whose terminal is no log).
static LOG: AtomicBool = AtomicBool::new(false);

/// Turns on the log lines of [`run`]; the job process calls it before its operation.
pub fn log_to_stderr() {
    LOG.store(true, Ordering::Relaxed);
}

fn log(line: &str) {
    if LOG.load(Ordering::Relaxed) {
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

/// Runs git in `dir`, logging the command and what git said. `Err` only when git cannot be
/// started at all.
pub fn run<I, S>(dir: &Path, args: I) -> Result<Out, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    spawn(dir, args, true)
}

/// Runs a git query in `dir` without logging it: reads are asked often (the scheduler asks them
/// too, in a process whose stderr is a person's terminal) and change nothing worth a log line.
pub fn read<I, S>(dir: &Path, args: I) -> Result<Out, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    spawn(dir, args, false)
}

fn spawn<I, S>(dir: &Path, args: I, logged: bool) -> Result<Out, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    if logged {
        log(&format!("$ {}", crate::git::command::line(&args)));
    }
    let out = crate::git::command::run_in(dir, &args)?;
    if logged && !out.stderr.trim().is_empty() {
        log(out.stderr.trim_end());
    }
    Ok(out)
}

/// Runs git and returns its trimmed stdout, or the failure naming the command and git's reason.
pub fn ok<I, S>(dir: &Path, args: I) -> Result<String, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = run(dir, args)?;
    if out.ok() {
        Ok(out.text())
    } else {
        Err(out.failure())
    }
}

/// The commit a revision names, or `None`.
pub fn rev(dir: &Path, rev: &str) -> Option<String> {
    let out = read(
        dir,
        [
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .ok()?;
    out.ok().then(|| out.text())
}

/// The commit a local branch points at, or `None` when there is no such branch.
pub fn branch_sha(dir: &Path, branch: &str) -> Option<String> {
    rev(dir, &format!("refs/heads/{branch}"))
}

/// Refuses a name git would not accept as a branch, with git's verdict.
pub fn check_branch_name(dir: &Path, what: &str, branch: &str) -> Result<(), String> {
    let out = read(dir, ["check-ref-format", "--branch", branch])?;
    if out.ok() && out.text() == branch {
        Ok(())
    } else if out.ok() {
        // `@{-1}` and friends name some other branch; a template names branches plainly.
        Err(format!(
            "`{what}` `{branch}` is not a plain branch name (git reads it as `{}`)",
            out.text()
        ))
    } else {
        Err(format!(
            "`{what}` `{branch}` is not a valid branch name: {}",
            out.reason()
        ))
    }
}

/// The branch checked out in `dir`, or `None` when its HEAD is detached.
pub fn current_branch(dir: &Path) -> Option<String> {
    let out = read(dir, ["symbolic-ref", "--quiet", "--short", "HEAD"]).ok()?;
    out.ok().then(|| out.text()).filter(|b| !b.is_empty())
}

/// Whether commit `a` is an ancestor of (or equal to) `b`.
pub fn is_ancestor(dir: &Path, a: &str, b: &str) -> bool {
    read(dir, ["merge-base", "--is-ancestor", a, b]).is_ok_and(|o| o.ok())
}

/// One entry of `git worktree list`.
#[derive(Debug, Clone)]
pub struct Worktree {
    pub path: PathBuf,
    /// `refs/heads/<name>` stripped to `<name>`; `None` when detached.
    pub branch: Option<String>,
    pub locked: bool,
}

/// The worktrees git knows of (the main one first).
pub fn worktrees(dir: &Path) -> Result<Vec<Worktree>, String> {
    let out = read(dir, ["worktree", "list", "--porcelain", "-z"])?;
    if !out.ok() {
        return Err(out.failure());
    }
    let mut list: Vec<Worktree> = Vec::new();
    for field in out.stdout.split(|b| *b == 0) {
        let field = String::from_utf8_lossy(field);
        if let Some(path) = field.strip_prefix("worktree ") {
            list.push(Worktree {
                path: PathBuf::from(path),
                branch: None,
                locked: false,
            });
        } else if let Some(last) = list.last_mut() {
            if let Some(branch) = field.strip_prefix("branch ") {
                last.branch = Some(branch.strip_prefix("refs/heads/").unwrap_or(branch).into());
            } else if field == "locked" || field.starts_with("locked ") {
                last.locked = true;
            }
        }
    }
    Ok(list)
}

/// Whether two paths name the same place, also when the last part no longer exists.
pub fn same_path(a: &Path, b: &Path) -> bool {
    fn real(p: &Path) -> PathBuf {
        if let Ok(r) = p.canonicalize() {
            return r;
        }
        match (p.parent(), p.file_name()) {
            (Some(parent), Some(name)) => parent
                .canonicalize()
                .unwrap_or_else(|_| parent.to_path_buf())
                .join(name),
            _ => p.to_path_buf(),
        }
    }
    real(a) == real(b)
}

/// The folders vizier itself writes inside a work tree; they never count as a user's changes.
const OWN_FOLDERS: [&str; 3] = [".vizier/jobs", ".vizier/tmp", ".vizier/tmp-worktrees"];

fn is_own(path: &str) -> bool {
    OWN_FOLDERS
        .iter()
        .any(|f| path == *f || path.starts_with(&format!("{f}/")))
}

/// `:(exclude)` pathspecs that keep vizier's own folders out of `git add` in `dir`. A folder the
/// ignore rules already cover is left out: git refuses a pathspec naming an ignored path, and it
/// would not add it anyway.
pub fn exclude_own(dir: &Path) -> Result<Vec<String>, String> {
    let out = read(dir, std::iter::once("check-ignore").chain(OWN_FOLDERS))?;
    if out.code > 1 {
        return Err(out.failure());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let ignored: Vec<&str> = text.lines().collect();
    Ok(OWN_FOLDERS
        .iter()
        .filter(|f| !ignored.contains(f))
        .map(|f| format!(":(exclude){f}"))
        .collect())
}

/// Paths with uncommitted changes in the work tree at `dir` (staged or not), apart from vizier's
/// own folders; untracked files count when `untracked` is set.
pub fn dirty_paths(dir: &Path, untracked: bool) -> Result<Vec<String>, String> {
    let mode = if untracked {
        "--untracked-files=normal"
    } else {
        "--untracked-files=no"
    };
    let out = read(dir, ["status", "--porcelain", "-z", mode])?;
    if !out.ok() {
        return Err(out.failure());
    }
    let mut paths = Vec::new();
    let mut fields = out.stdout.split(|b| *b == 0);
    while let Some(entry) = fields.next() {
        if entry.len() < 4 {
            continue;
        }
        let status = &entry[..2];
        let path = String::from_utf8_lossy(&entry[3..]).into_owned();
        // A rename or copy is followed by its source path.
        if status.contains(&b'R') || status.contains(&b'C') {
            fields.next();
        }
        if !is_own(path.trim_end_matches('/')) {
            paths.push(path);
        }
    }
    Ok(paths)
}

/// Paths with unresolved merge conflicts in the work tree at `dir`.
pub fn unmerged_paths(dir: &Path) -> Result<Vec<String>, String> {
    let out = read(dir, ["diff", "--name-only", "--diff-filter=U", "-z"])?;
    if !out.ok() {
        return Err(out.failure());
    }
    let mut paths: Vec<String> = out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    paths.dedup();
    Ok(paths)
}

/// Whether the index at `dir` differs from its HEAD.
pub fn has_staged_changes(dir: &Path) -> Result<bool, String> {
    let out = read(dir, ["diff", "--cached", "--quiet"])?;
    match out.code {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(out.failure()),
    }
}

/// The path of a file in the git folder of the work tree at `dir` (`MERGE_HEAD`, `SQUASH_MSG`).
pub fn git_path(dir: &Path, name: &str) -> Result<PathBuf, String> {
    let out = read(dir, ["rev-parse", "--git-path", name])?;
    if !out.ok() {
        return Err(out.failure());
    }
    let p = PathBuf::from(out.text());
    Ok(if p.is_absolute() { p } else { dir.join(p) })
}

/// Commits what is staged in the work tree at `dir`. `Ok(None)` when nothing is staged; the new
/// commit otherwise; git's reason when the commit fails (a hook said no, no identity, …).
pub fn commit_staged(dir: &Path, message: &str) -> Result<Option<String>, String> {
    if !has_staged_changes(dir)? {
        return Ok(None);
    }
    let out = run(dir, ["commit", "-q", "-m", message])?;
    if !out.ok() {
        return Err(format!("git commit failed: {}", out.reason()));
    }
    rev(dir, "HEAD")
        .map(Some)
        .ok_or_else(|| "git commit succeeded but HEAD names no commit".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_folders_are_recognised_by_whole_components() {
        assert!(is_own(".vizier/jobs"));
        assert!(is_own(".vizier/tmp/merge-conflicts/x.json"));
        assert!(is_own(".vizier/tmp-worktrees/draft-1"));
        assert!(!is_own(".vizier/jobsx"));
        assert!(!is_own(".vizier/workflow/a.toml"));
    }
}
