//! The push that triggered a CI job: GitHub's event file (`GITHUB_EVENT_PATH` or `--event-path`) with
//! `GITHUB_SHA` / `GITHUB_REF` filling what it lacks, read into a typed [`PushEvent`].
//!
//! It owns three things: classifying a push (deleted, created, forced, tag), computing
//! the paths it changed (with git, reading through `git2` and fetching through the `git` program with
//! argv, never a shell), and turning event values into environment variables for nodes.
//! Event values are data: a ref named `x$(touch PWNED)` is carried as bytes in a variable, never
//! placed into shell source or template text, and every value is checked on the way in (object ids are
//! hex, refs are valid git ref names, no NUL byte), so nothing that starts with `-` can turn into an
//! option of a git call.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use git2::{ObjectType, Oid, Repository, Tree, TreeWalkMode, TreeWalkResult};
use serde::Deserialize;

use super::CiError;
use crate::error::{Error, Result};

/// Where the event's values come from. Empty variables count as unset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventSource {
    /// The event JSON: `--event-path`, else `GITHUB_EVENT_PATH`.
    pub event_path: Option<PathBuf>,
    /// `GITHUB_EVENT_NAME`; `push` when unset.
    pub event_name: Option<String>,
    /// `GITHUB_SHA`: the commit, when the event file does not name one.
    pub sha: Option<String>,
    /// `GITHUB_REF`: the ref, when the event file does not name one.
    pub git_ref: Option<String>,
}

impl EventSource {
    /// Reads the runner's variables; `event_path` (from `--event-path`) wins over `GITHUB_EVENT_PATH`.
    pub fn from_env(event_path: Option<PathBuf>) -> EventSource {
        EventSource::from_vars(event_path, |name| std::env::var(name).ok())
    }

    /// Like [`EventSource::from_env`] with the variables looked up through `var`.
    pub fn from_vars(
        event_path: Option<PathBuf>,
        var: impl Fn(&str) -> Option<String>,
    ) -> EventSource {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        EventSource {
            event_path: event_path.or_else(|| var("GITHUB_EVENT_PATH").map(PathBuf::from)),
            event_name: var("GITHUB_EVENT_NAME"),
            sha: var("GITHUB_SHA"),
            git_ref: var("GITHUB_REF"),
        }
    }
}

/// The commit at the tip of the push, as GitHub reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadCommit {
    pub id: String,
    pub message: String,
}

/// A push, checked: object ids are lowercase hex, refs are valid ref names, no value holds NUL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushEvent {
    /// Where the values came from, for messages: the event file, or `GITHUB_SHA/GITHUB_REF`.
    pub origin: String,
    /// `push` for pushes; other events keep their name and take `sha`/`ref` from the variables.
    pub event_name: String,
    /// The full ref name, `refs/heads/…` or `refs/tags/…`.
    pub git_ref: String,
    /// The pushed commit (`after`); all zeros when the ref was deleted.
    pub sha: String,
    /// The ref's previous commit; `None` when it did not exist (all zeros) or is unknown.
    pub before: Option<String>,
    pub created: bool,
    pub deleted: bool,
    pub forced: bool,
    /// For a tag push, the branch the tagged commit is on, when GitHub knows it.
    pub base_ref: Option<String>,
    pub head_commit: Option<HeadCommit>,
    pub pusher: Option<String>,
    /// `repository.default_branch`: the branch created and forced pushes are compared with.
    pub default_branch: Option<String>,
}

/// What kind of push this was; decides where the changed paths are counted from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushKind {
    /// The ref was deleted: nothing to run (a no-op success).
    Deleted,
    /// The ref is new (`before` all zeros).
    Created,
    /// History was rewritten: `before` need not be an ancestor.
    Forced,
    /// A fast-forward: `before` is the previous tip.
    Ordinary,
    /// No `before` is known (not a push event, or only `GITHUB_SHA`/`GITHUB_REF` were given).
    Unknown,
}

impl PushKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PushKind::Deleted => "deleted",
            PushKind::Created => "created",
            PushKind::Forced => "forced",
            PushKind::Ordinary => "ordinary",
            PushKind::Unknown => "unknown",
        }
    }
}

/// What the pushed ref is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    Branch,
    Tag,
    Other,
}

impl RefKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RefKind::Branch => "branch",
            RefKind::Tag => "tag",
            RefKind::Other => "other",
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawEvent {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    before: Option<String>,
    after: Option<String>,
    created: Option<bool>,
    deleted: Option<bool>,
    forced: Option<bool>,
    base_ref: Option<String>,
    head_commit: Option<RawCommit>,
    pusher: Option<RawPusher>,
    repository: Option<RawRepository>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawCommit {
    id: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPusher {
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawRepository {
    default_branch: Option<String>,
}

impl PushEvent {
    /// Reads the event from `source`: the event file when there is one, with `GITHUB_SHA` and
    /// `GITHUB_REF` filling what it lacks; only the variables when there is no file.
    pub fn load(source: &EventSource) -> Result<PushEvent> {
        match &source.event_path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| Error::Read {
                    path: path.display().to_string(),
                    source: e,
                })?;
                PushEvent::parse(&text, &path.display().to_string(), source)
            }
            None => {
                if source.sha.is_none() && source.git_ref.is_none() {
                    return Err(event_error(
                        "(none)",
                        "no push event: pass `--event-path FILE`, or set `GITHUB_EVENT_PATH` (or `GITHUB_SHA` and `GITHUB_REF`)",
                    ));
                }
                PushEvent::parse("{}", "GITHUB_SHA/GITHUB_REF", source)
            }
        }
    }

    /// Parses event JSON `text` (named `origin` in messages), filling gaps from `source`.
    pub fn parse(text: &str, origin: &str, source: &EventSource) -> Result<PushEvent> {
        let raw: RawEvent = serde_json::from_str(text)
            .map_err(|e| event_error(origin, format!("not a valid event: {e}")))?;
        let event_name = source.event_name.clone().unwrap_or_else(|| "push".into());
        let is_push = event_name == "push";
        // Outside a push the event file has other fields; its `ref`/`after` are not the commit.
        let (file_ref, file_after, file_before) = if is_push {
            (raw.git_ref, raw.after, raw.before)
        } else {
            (None, None, None)
        };
        let git_ref = file_ref.or_else(|| source.git_ref.clone()).ok_or_else(|| {
            event_error(
                origin,
                "it names no ref: `ref` is absent and `GITHUB_REF` is not set",
            )
        })?;
        check_ref(origin, "ref", &git_ref)?;
        let sha = file_after.or_else(|| source.sha.clone()).ok_or_else(|| {
            event_error(
                origin,
                "it names no commit: `after` is absent and `GITHUB_SHA` is not set",
            )
        })?;
        let sha = check_oid(origin, "after", &sha)?;
        // GitHub sends all zeros as `before` for a new ref; that alone marks it created.
        let before = match file_before {
            Some(b) => Some(check_oid(origin, "before", &b)?),
            None => None,
        };
        let before_was_zero = before.as_deref().is_some_and(is_zero);
        let before = before.filter(|b| !is_zero(b));
        let base_ref = match raw.base_ref {
            Some(r) if !r.is_empty() => {
                check_ref(origin, "base_ref", &r)?;
                Some(r)
            }
            _ => None,
        };
        let default_branch = match raw.repository.and_then(|r| r.default_branch) {
            Some(b) if !b.is_empty() => {
                check_ref(
                    origin,
                    "repository.default_branch",
                    &format!("refs/heads/{b}"),
                )?;
                Some(b)
            }
            _ => None,
        };
        let head_commit = match raw.head_commit {
            Some(c) => {
                let id = match c.id {
                    Some(id) => check_oid(origin, "head_commit.id", &id)?,
                    None => sha.clone(),
                };
                let message = c.message.unwrap_or_default();
                check_text(origin, "head_commit.message", &message)?;
                Some(HeadCommit { id, message })
            }
            None => None,
        };
        let pusher = raw.pusher.and_then(|p| p.name);
        if let Some(p) = &pusher {
            check_text(origin, "pusher.name", p)?;
        }
        let deleted = raw.deleted.unwrap_or(false) || is_zero(&sha);
        Ok(PushEvent {
            origin: origin.to_owned(),
            event_name,
            git_ref,
            sha,
            before,
            created: raw.created.unwrap_or(false) || before_was_zero,
            deleted,
            forced: raw.forced.unwrap_or(false),
            base_ref,
            head_commit,
            pusher,
            default_branch,
        })
    }

    /// Deleted wins over everything; then created, then forced.
    pub fn kind(&self) -> PushKind {
        if self.deleted {
            PushKind::Deleted
        } else if self.created {
            PushKind::Created
        } else if self.forced {
            PushKind::Forced
        } else if self.before.is_some() {
            PushKind::Ordinary
        } else {
            PushKind::Unknown
        }
    }

    pub fn ref_kind(&self) -> RefKind {
        if self.git_ref.starts_with("refs/heads/") {
            RefKind::Branch
        } else if self.git_ref.starts_with("refs/tags/") {
            RefKind::Tag
        } else {
            RefKind::Other
        }
    }

    /// The ref without `refs/heads/` or `refs/tags/`.
    pub fn ref_name(&self) -> &str {
        self.git_ref
            .strip_prefix("refs/heads/")
            .or_else(|| self.git_ref.strip_prefix("refs/tags/"))
            .unwrap_or(&self.git_ref)
    }

    /// A deleted ref: `vizier ci` succeeds without running anything.
    pub fn is_noop(&self) -> bool {
        self.kind() == PushKind::Deleted
    }

    /// Where the changed paths are counted from.
    pub fn change_base(&self) -> ChangeBase {
        let on_default = self.ref_kind() == RefKind::Branch
            && self.default_branch.as_deref() == Some(self.ref_name());
        match self.kind() {
            PushKind::Deleted => ChangeBase::Nothing,
            PushKind::Ordinary => ChangeBase::Before(self.before.clone().unwrap_or_default()),
            // The default branch compared with itself would show nothing: a rewritten default
            // branch is compared with the fork point of its old and new history, a new one in full.
            PushKind::Forced if on_default => match &self.before {
                Some(before) => ChangeBase::ForkPoint {
                    before: before.clone(),
                },
                None => ChangeBase::WholeTree,
            },
            PushKind::Created | PushKind::Forced | PushKind::Unknown => {
                match &self.default_branch {
                    Some(branch) if !on_default => ChangeBase::MergeBase {
                        default_branch: branch.clone(),
                    },
                    _ => ChangeBase::WholeTree,
                }
            }
        }
    }

    /// The environment a node sees: event values as variables, never as source text.
    /// Every name is always set (empty when unknown) so `set -u` scripts can read them.
    /// `changed_files` is the file written by [`write_changed_files`].
    pub fn env(&self, changed_files: Option<&Path>) -> Vec<(&'static str, OsString)> {
        let s = |v: &str| OsString::from(v);
        let opt = |v: &Option<String>| OsString::from(v.as_deref().unwrap_or(""));
        vec![
            ("VIZIER_EVENT_NAME", s(&self.event_name)),
            ("VIZIER_SHA", s(&self.sha)),
            ("VIZIER_REF", s(&self.git_ref)),
            ("VIZIER_REF_NAME", s(self.ref_name())),
            ("VIZIER_REF_TYPE", s(self.ref_kind().as_str())),
            ("VIZIER_BEFORE", opt(&self.before)),
            ("VIZIER_PUSH_KIND", s(self.kind().as_str())),
            ("VIZIER_BASE_REF", opt(&self.base_ref)),
            ("VIZIER_DEFAULT_BRANCH", opt(&self.default_branch)),
            ("VIZIER_PUSHER", opt(&self.pusher)),
            (
                "VIZIER_COMMIT_MESSAGE",
                s(self.head_commit.as_ref().map_or("", |c| c.message.as_str())),
            ),
            (
                "VIZIER_CHANGED_FILES",
                changed_files.map_or_else(OsString::new, |p| p.as_os_str().to_owned()),
            ),
        ]
    }
}

fn event_error(origin: &str, message: impl Into<String>) -> Error {
    CiError::Event {
        origin: origin.to_owned(),
        message: message.into(),
    }
    .into()
}

fn is_zero(oid: &str) -> bool {
    !oid.is_empty() && oid.bytes().all(|b| b == b'0')
}

/// A full object id (SHA-1 or SHA-256), lowercased.
fn check_oid(origin: &str, field: &str, value: &str) -> Result<String> {
    let ok = matches!(value.len(), 40 | 64) && value.bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return Err(event_error(
            origin,
            format!("`{field}` is not a full commit id: {value:?}"),
        ));
    }
    Ok(value.to_ascii_lowercase())
}

fn check_ref(origin: &str, field: &str, value: &str) -> Result<()> {
    check_text(origin, field, value)?;
    if !value.starts_with("refs/") || !git2::Reference::is_valid_name(value) {
        return Err(event_error(
            origin,
            format!("`{field}` is not a valid git ref name: {value:?}"),
        ));
    }
    Ok(())
}

/// Values become environment variables, which cannot hold NUL.
fn check_text(origin: &str, field: &str, value: &str) -> Result<()> {
    if value.contains('\0') {
        return Err(event_error(
            origin,
            format!("`{field}` contains a NUL byte"),
        ));
    }
    Ok(())
}

/// Where the changed paths of a push are counted from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeBase {
    /// A deleted ref changes nothing that can run.
    Nothing,
    /// An ordinary push: the previous tip.
    Before(String),
    /// A created or forced push (or one with no `before`): the merge-base of the pushed commit and
    /// the default branch, never `before`.
    MergeBase { default_branch: String },
    /// A forced push of the default branch itself: the merge-base of its old and new tip.
    ForkPoint { before: String },
    /// No base can be known (a new default branch, no default branch named, unrelated histories):
    /// every path in the pushed commit.
    WholeTree,
}

/// How [`changed_paths`] may reach for history a shallow clone lacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchPolicy {
    /// The remote to fetch from (`origin` in `actions/checkout`).
    pub remote: String,
    /// `false`: never fetch, report what is missing instead.
    pub fetch: bool,
    /// Depths tried in turn when a merge-base lies below a shallow clone's boundary; after the last
    /// the clone is unshallowed. The first is also the depth a missing default branch is fetched at.
    pub depths: Vec<u32>,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            remote: "origin".into(),
            fetch: true,
            depths: vec![50, 500],
        }
    }
}

impl FetchPolicy {
    fn first_depth(&self) -> u32 {
        self.depths.first().copied().unwrap_or(50)
    }
}

/// The changed paths of a push, and how they were found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedPaths {
    /// What was asked for.
    pub base: ChangeBase,
    /// The commit compared with; `None` for a whole-tree or deleted listing.
    pub base_sha: Option<String>,
    /// Why the base differs from what was asked for (e.g. unrelated histories), if it does.
    pub note: Option<String>,
    /// Repository-relative paths, old and new side of every change (so deletions count), sorted,
    /// each quoted as git quotes names when it holds a control character, `"` or `\`.
    pub paths: Vec<String>,
    /// The git commands run to fetch missing history, for the log.
    pub fetched: Vec<String>,
}

/// Computes the paths `event` changed in the repository at `root`, fetching missing history from
/// `policy.remote` when allowed: the `before` commit alone (`--depth=1`, its tree is all a diff needs),
/// or, for a merge-base, both tips at each of [`FetchPolicy::depths`] and then `--unshallow`. Without
/// fetching, a missing commit is an error naming it and the command that would fetch it.
pub fn changed_paths(root: &Path, event: &PushEvent, policy: &FetchPolicy) -> Result<ChangedPaths> {
    let mut out = ChangedPaths {
        base: event.change_base(),
        base_sha: None,
        note: None,
        paths: Vec::new(),
        fetched: Vec::new(),
    };
    let fetched = &mut out.fetched;
    let head = match &out.base {
        ChangeBase::Nothing => return Ok(out),
        _ => ensure_commit(root, policy, &event.sha, "the pushed commit", fetched)?,
    };
    let base_oid = match &out.base {
        ChangeBase::Nothing | ChangeBase::WholeTree => None,
        ChangeBase::Before(before) => Some(ensure_commit(
            root,
            policy,
            before,
            "the push's `before` commit",
            fetched,
        )?),
        ChangeBase::ForkPoint { before } => {
            let old = ensure_commit(root, policy, before, "the push's `before` commit", fetched)?;
            let refspecs = [before.clone(), event.sha.clone()];
            merge_base_deepening(root, policy, head, old, &refspecs, fetched)?
        }
        ChangeBase::MergeBase { default_branch } => {
            let branch = ensure_branch(root, policy, default_branch, fetched)?;
            let refspecs = [branch_refspec(policy, default_branch), event.sha.clone()];
            merge_base_deepening(root, policy, head, branch, &refspecs, fetched)?
        }
    };
    if base_oid.is_none() && out.base != ChangeBase::WholeTree {
        out.note = Some(
            "the pushed commit shares no history with the base: every path counts as changed"
                .into(),
        );
        out.base = ChangeBase::WholeTree;
    }
    // Opened after any fetch, so the objects it brought are seen.
    let repo = crate::git::open(root)?;
    let head_tree = tree_of(&repo, head)?;
    out.paths = match base_oid {
        Some(oid) => {
            out.base_sha = Some(oid.to_string());
            diff_paths(&repo, &tree_of(&repo, oid)?, &head_tree)?
        }
        None => tree_paths(&head_tree)?,
    };
    Ok(out)
}

/// Writes `paths` one per line to `path`: the file `VIZIER_CHANGED_FILES` names.
pub fn write_changed_files(path: &Path, paths: &[String]) -> Result<()> {
    let mut text = String::with_capacity(paths.iter().map(|p| p.len() + 1).sum());
    for p in paths {
        text.push_str(p);
        text.push('\n');
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::Write {
            path: dir.to_path_buf(),
            source: e,
        })?;
    }
    std::fs::write(path, text).map_err(|e| Error::Write {
        path: path.to_path_buf(),
        source: e,
    })
}

fn find_commit(root: &Path, sha: &str) -> Result<Option<Oid>> {
    let repo = crate::git::open(root)?;
    let Ok(oid) = Oid::from_str(sha) else {
        return Ok(None);
    };
    Ok(repo.find_commit(oid).ok().map(|c| c.id()))
}

fn missing(root: &Path, what: String, help: String) -> Error {
    CiError::MissingHistory {
        what,
        shallow: crate::git::open(root).is_ok_and(|r| r.is_shallow()),
        help,
    }
    .into()
}

/// The commit `sha`, fetched alone (`--depth=1`) when it is missing and fetching is allowed.
fn ensure_commit(
    root: &Path,
    policy: &FetchPolicy,
    sha: &str,
    what: &str,
    fetched: &mut Vec<String>,
) -> Result<Oid> {
    if let Some(oid) = find_commit(root, sha)? {
        return Ok(oid);
    }
    let how = format!("git fetch --no-tags --depth=1 {} {sha}", policy.remote);
    if !policy.fetch {
        return Err(missing(
            root,
            format!("{what} `{sha}`"),
            format!("fetch it with `{how}`, or check out with `fetch-depth: 0`"),
        ));
    }
    fetch(root, policy, &["--depth=1"], &[sha], fetched)?;
    find_commit(root, sha)?.ok_or_else(|| {
        missing(
            root,
            format!("{what} `{sha}`"),
            format!("`{how}` ran but did not bring it; was it force-pushed away and collected?"),
        )
    })
}

fn branch_refspec(policy: &FetchPolicy, branch: &str) -> String {
    format!(
        "+refs/heads/{branch}:refs/remotes/{}/{branch}",
        policy.remote
    )
}

/// The default branch's tip: the remote-tracking ref, else a local branch, else fetched.
fn ensure_branch(
    root: &Path,
    policy: &FetchPolicy,
    branch: &str,
    fetched: &mut Vec<String>,
) -> Result<Oid> {
    let resolve = || -> Result<Option<Oid>> {
        let repo = crate::git::open(root)?;
        Ok([
            format!("refs/remotes/{}/{branch}", policy.remote),
            format!("refs/heads/{branch}"),
        ]
        .iter()
        .find_map(|name| {
            let reference = repo.find_reference(name).ok()?;
            reference.peel_to_commit().ok().map(|c| c.id())
        }))
    };
    if let Some(oid) = resolve()? {
        return Ok(oid);
    }
    let refspec = branch_refspec(policy, branch);
    let depth = format!("--depth={}", policy.first_depth());
    let what = format!("the default branch `{branch}`");
    if !policy.fetch {
        return Err(missing(
            root,
            what,
            format!(
                "fetch it with `git fetch --no-tags {depth} {} {refspec}`, or check out with `fetch-depth: 0`",
                policy.remote
            ),
        ));
    }
    fetch(root, policy, &[&depth], &[&refspec], fetched)?;
    resolve()?.ok_or_else(|| {
        missing(
            root,
            what,
            format!("it is still absent after fetching `{refspec}`"),
        )
    })
}

/// The merge-base of `a` and `b`. In a shallow clone a missing one may lie below the boundary, so
/// `refspecs` are fetched deeper step by step ([`FetchPolicy::depths`]), then the clone is unshallowed.
/// `Ok(None)`: the histories are unrelated.
fn merge_base_deepening(
    root: &Path,
    policy: &FetchPolicy,
    a: Oid,
    b: Oid,
    refspecs: &[String],
    fetched: &mut Vec<String>,
) -> Result<Option<Oid>> {
    let mut steps = policy.depths.iter();
    let mut unshallowed = false;
    loop {
        // Opened afresh each round: the shallow boundary and packs change with every fetch.
        let repo = crate::git::open(root)?;
        if let Ok(oid) = repo.merge_base(a, b) {
            return Ok(Some(oid));
        }
        if !repo.is_shallow() || unshallowed {
            return Ok(None);
        }
        if !policy.fetch {
            return Err(missing(
                root,
                format!("the merge-base of `{a}` and `{b}`"),
                format!(
                    "deepen the clone with `git fetch --deepen={} {}` (or `--unshallow`), or check out with `fetch-depth: 0`",
                    policy.first_depth(),
                    policy.remote
                ),
            ));
        }
        let option = match steps.next() {
            Some(depth) => format!("--depth={depth}"),
            None => {
                unshallowed = true;
                "--unshallow".to_owned()
            }
        };
        let refspecs: Vec<&str> = refspecs.iter().map(String::as_str).collect();
        fetch(root, policy, &[&option], &refspecs, fetched)?;
    }
}

/// `git fetch --no-tags --quiet <options> <remote> <refspecs>` with argv, no shell, no prompt. Every
/// refspec is a checked object id or starts with `+refs/`, so none can read as an option.
fn fetch(
    root: &Path,
    policy: &FetchPolicy,
    options: &[&str],
    refspecs: &[&str],
    fetched: &mut Vec<String>,
) -> Result<()> {
    let mut argv: Vec<&str> = vec!["fetch", "--no-tags", "--quiet"];
    argv.extend(options);
    argv.push(&policy.remote);
    argv.extend(refspecs);
    let display = format!("git {}", argv.join(" "));
    let output =
        crate::git::command::run_in(root, &argv).map_err(|stderr| CiError::GitCommand {
            command: display.clone(),
            stderr,
        })?;
    fetched.push(display.clone());
    if !output.ok() {
        return Err(CiError::GitCommand {
            command: display,
            stderr: output.stderr.trim().to_owned(),
        }
        .into());
    }
    Ok(())
}

fn tree_of(repo: &Repository, oid: Oid) -> Result<Tree<'_>> {
    repo.find_commit(oid).and_then(|c| c.tree()).map_err(|e| {
        Error::git(format!(
            "commit `{oid}` has no readable tree: {}",
            e.message()
        ))
    })
}

fn diff_paths(repo: &Repository, old: &Tree<'_>, new: &Tree<'_>) -> Result<Vec<String>> {
    let diff = repo
        .diff_tree_to_tree(Some(old), Some(new), None)
        .map_err(Error::git)?;
    let mut paths: Vec<String> = Vec::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(p) = file.path_bytes() {
                paths.push(quote_path(p));
            }
        }
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}

fn tree_paths(tree: &Tree<'_>) -> Result<Vec<String>> {
    let mut paths = Vec::new();
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() != Some(ObjectType::Tree) {
            let mut full = dir.as_bytes().to_vec();
            full.extend_from_slice(entry.name_bytes());
            paths.push(quote_path(&full));
        }
        TreeWalkResult::Ok
    })
    .map_err(Error::git)?;
    paths.sort();
    Ok(paths)
}

/// A path as one line: as it is, unless it holds a byte that would break the line format (control
/// characters, `"`, `\`, bytes that are not UTF-8); then C-quoted in double quotes with octal escapes,
/// the way git quotes names.
pub fn quote_path(bytes: &[u8]) -> String {
    let plain = std::str::from_utf8(bytes).ok().filter(|s| {
        !s.bytes()
            .any(|b| b < 0x20 || b == 0x7f || b == b'"' || b == b'\\')
    });
    if let Some(s) = plain {
        return s.to_owned();
    }
    let mut out = String::from("\"");
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";
    const Z: &str = "0000000000000000000000000000000000000000";

    fn push(json: &str) -> Result<PushEvent> {
        PushEvent::parse(json, "event.json", &EventSource::default())
    }

    fn event(r: &str, before: &str, after: &str, extra: &str) -> String {
        format!(
            r#"{{"ref":"{r}","before":"{before}","after":"{after}","repository":{{"default_branch":"main"}}{extra}}}"#
        )
    }

    #[test]
    fn an_ordinary_push_counts_from_before() {
        let e = push(&event(
            "refs/heads/feature",
            A,
            B,
            r#","pusher":{"name":"ana"}"#,
        ))
        .unwrap();
        assert_eq!(e.kind(), PushKind::Ordinary);
        assert_eq!(e.ref_kind(), RefKind::Branch);
        assert_eq!(e.ref_name(), "feature");
        assert_eq!(e.pusher.as_deref(), Some("ana"));
        assert_eq!(e.change_base(), ChangeBase::Before(A.into()));
    }

    #[test]
    fn an_all_zero_before_is_a_created_push_even_without_the_flag() {
        let e = push(&event("refs/heads/feature", Z, B, "")).unwrap();
        assert_eq!(e.before, None);
        assert!(e.created);
        assert_eq!(e.kind(), PushKind::Created);
        assert_eq!(
            e.change_base(),
            ChangeBase::MergeBase {
                default_branch: "main".into()
            }
        );
    }

    #[test]
    fn a_forced_push_never_counts_from_before() {
        let e = push(&event("refs/heads/feature", A, B, r#","forced":true"#)).unwrap();
        assert_eq!(e.kind(), PushKind::Forced);
        assert!(matches!(e.change_base(), ChangeBase::MergeBase { .. }));
    }

    #[test]
    fn a_forced_push_of_the_default_branch_counts_from_the_fork_point() {
        let e = push(&event("refs/heads/main", A, B, r#","forced":true"#)).unwrap();
        assert_eq!(e.change_base(), ChangeBase::ForkPoint { before: A.into() });
        let e = push(&event("refs/heads/main", Z, B, r#","created":true"#)).unwrap();
        assert_eq!(e.change_base(), ChangeBase::WholeTree);
    }

    #[test]
    fn a_deleted_ref_is_a_noop_whatever_else_it_says() {
        let e = push(&event(
            "refs/heads/gone",
            A,
            Z,
            r#","deleted":true,"forced":true"#,
        ))
        .unwrap();
        assert_eq!(e.kind(), PushKind::Deleted);
        assert!(e.is_noop());
        assert_eq!(e.change_base(), ChangeBase::Nothing);
        // An all-zero `after` is a deletion even when the flag is missing.
        assert!(push(&event("refs/heads/gone", A, Z, "")).unwrap().is_noop());
    }

    #[test]
    fn a_tag_push_keeps_its_base_ref() {
        let e = push(&event(
            "refs/tags/v1.0",
            Z,
            B,
            r#","created":true,"base_ref":"refs/heads/main""#,
        ))
        .unwrap();
        assert_eq!(e.ref_kind(), RefKind::Tag);
        assert_eq!(e.ref_name(), "v1.0");
        assert_eq!(e.base_ref.as_deref(), Some("refs/heads/main"));
        assert_eq!(e.kind(), PushKind::Created);
    }

    #[test]
    fn runner_variables_fill_what_the_file_lacks() {
        let source = EventSource {
            sha: Some(B.to_uppercase()),
            git_ref: Some("refs/heads/main".into()),
            ..EventSource::default()
        };
        let e = PushEvent::parse("{}", "event.json", &source).unwrap();
        assert_eq!(e.sha, B, "object ids are lowercased");
        assert_eq!(e.git_ref, "refs/heads/main");
        assert_eq!(e.kind(), PushKind::Unknown);
        // No file at all: the variables alone.
        let e = PushEvent::load(&source).unwrap();
        assert_eq!(e.origin, "GITHUB_SHA/GITHUB_REF");
    }

    #[test]
    fn other_events_take_the_commit_from_the_variables() {
        let source = EventSource {
            event_name: Some("workflow_dispatch".into()),
            sha: Some(B.into()),
            git_ref: Some("refs/heads/main".into()),
            ..EventSource::default()
        };
        let json = event("refs/heads/other", A, A, "");
        let e = PushEvent::parse(&json, "event.json", &source).unwrap();
        assert_eq!((e.sha.as_str(), e.git_ref.as_str()), (B, "refs/heads/main"));
        assert_eq!(e.kind(), PushKind::Unknown);
        assert_eq!(e.default_branch.as_deref(), Some("main"));
    }

    #[test]
    fn from_vars_treats_empty_as_unset_and_prefers_the_flag() {
        let vars = |name: &str| match name {
            "GITHUB_EVENT_PATH" => Some("/runner/event.json".to_owned()),
            "GITHUB_SHA" => Some(String::new()),
            _ => None,
        };
        let s = EventSource::from_vars(None, vars);
        assert_eq!(s.event_path, Some(PathBuf::from("/runner/event.json")));
        assert_eq!(s.sha, None);
        let s = EventSource::from_vars(Some("mine.json".into()), vars);
        assert_eq!(s.event_path, Some(PathBuf::from("mine.json")));
    }

    #[test]
    fn bad_values_are_errors_that_name_the_field() {
        let cases = [
            (
                event("refs/heads/x", "--upload-pack=evil", B, ""),
                "`before` is not a full commit id",
            ),
            (
                event("refs/heads/x", A, "abc", ""),
                "`after` is not a full commit id",
            ),
            (event("main", A, B, ""), "`ref` is not a valid git ref name"),
            (
                event("refs/heads/a b", A, B, ""),
                "`ref` is not a valid git ref name",
            ),
            (
                event("refs/heads/x\\u0000y", A, B, ""),
                "`ref` contains a NUL byte",
            ),
            (
                format!(
                    r#"{{"ref":"refs/heads/x","after":"{B}","repository":{{"default_branch":"-x..y"}}}}"#
                ),
                "`repository.default_branch` is not a valid git ref name",
            ),
            (
                format!(r#"{{"ref":"refs/heads/x","after":"{B}","created":"yes"}}"#),
                "not a valid event",
            ),
            (r#"{"after":"x"#.to_owned(), "not a valid event"),
            (
                "{}".to_owned(),
                "`ref` is absent and `GITHUB_REF` is not set",
            ),
        ];
        for (json, expected) in cases {
            let err = push(&json).unwrap_err().to_string();
            assert!(err.starts_with("push event `event.json`: "), "{err}");
            assert!(err.contains(expected), "{json}: {err}");
        }
        let err = PushEvent::load(&EventSource::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("--event-path"), "{err}");
    }

    #[test]
    fn hostile_values_stay_data_in_the_environment() {
        let hostile_ref = "refs/heads/x$(touch${IFS}PWNED)";
        let json = format!(
            r#"{{"ref":"{hostile_ref}","before":"{A}","after":"{B}","head_commit":{{"id":"{B}","message":"line1\n`rm -rf /`; echo $HOME"}},"pusher":{{"name":"a\"b'c"}}}}"#
        );
        let e = push(&json).unwrap();
        let env: std::collections::BTreeMap<_, _> = e
            .env(Some(Path::new("/tmp/changed files.txt")))
            .into_iter()
            .collect();
        assert_eq!(env["VIZIER_REF"], hostile_ref);
        assert_eq!(env["VIZIER_REF_NAME"], "x$(touch${IFS}PWNED)");
        assert_eq!(
            env["VIZIER_COMMIT_MESSAGE"],
            "line1\n`rm -rf /`; echo $HOME"
        );
        assert_eq!(env["VIZIER_PUSHER"], "a\"b'c");
        assert_eq!(env["VIZIER_CHANGED_FILES"], "/tmp/changed files.txt");
        assert_eq!(env["VIZIER_BEFORE"], A);
        assert_eq!(env["VIZIER_PUSH_KIND"], "ordinary");
        assert_eq!(env["VIZIER_BASE_REF"], "", "unknown values are set, empty");
        assert_eq!(env.len(), 12);
    }

    #[test]
    fn paths_that_would_break_a_line_are_quoted() {
        assert_eq!(quote_path(b"src/main.rs"), "src/main.rs");
        assert_eq!(quote_path("dir/ü ñ.txt".as_bytes()), "dir/ü ñ.txt");
        assert_eq!(quote_path(b"a\nb"), r#""a\nb""#);
        assert_eq!(quote_path(b"q\"\\"), r#""q\"\\""#);
        assert_eq!(quote_path(b"bad\xff"), r#""bad\377""#);
    }
}
