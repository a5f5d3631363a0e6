//! The git operations — worktrees, plan documents, commits, merges with conflict
//! resolution, the patch pipeline, build steps, merge sentinels — and the worktree clean-up of
//! `vizier jobs retry` / `cancel`, each through a real `vizier run` on a real repository.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::*;

const IGNORE: &str = ".vizier/jobs/\n.vizier/tmp/\n.vizier/tmp-worktrees/\n";

/// The repository's own merge template.
const MERGE: &str = include_str!("../../.vizier/workflow/merge.toml");

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ops")
        .join(format!("{name}.toml"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A template whose nodes run one after another and end in a terminal `done`. Each step is
/// `(node id, uses, args)`; `kind` follows from `uses`.
fn chain(id: &str, steps: &[(&str, &str, &str)]) -> String {
    let mut text = format!("id = \"{id}\"\nversion = \"v1\"\n");
    let mut previous: Option<&str> = None;
    for (node, uses, args) in steps
        .iter()
        .copied()
        .chain([("done", "control.terminal", "")])
    {
        let kind = if uses.starts_with("cap.env.builtin.") {
            "builtin"
        } else if uses.starts_with("cap.env.shell.") {
            "shell"
        } else {
            "gate"
        };
        text.push_str(&format!(
            "\n[[nodes]]\nid = \"{node}\"\nkind = \"{kind}\"\nuses = \"{uses}\"\n"
        ));
        if !args.is_empty() {
            text.push_str(&format!("args = {args}\n"));
        }
        if let Some(p) = previous {
            text.push_str(&format!("after = [{{ node_id = \"{p}\" }}]\n"));
        }
        previous = Some(node);
    }
    text
}

const PREPARE: &str = "cap.env.builtin.worktree.prepare";
const CLEANUP: &str = "cap.env.builtin.worktree.cleanup";
const COMMIT: &str = "cap.env.builtin.git.stage_commit";
const COMMAND: &str = "cap.env.shell.command.run";

/// `main` with a README, a notes file and the ignore rules for vizier's own folders.
fn base_repo() -> Repo {
    let repo = Repo::new();
    repo.write(".gitignore", IGNORE)
        .write("README.md", "# demo\n")
        .write("notes.txt", "one\n");
    repo.commit_all("init");
    repo
}

fn install(repo: &Repo, alias: &str, text: &str) {
    repo.write(&format!(".vizier/workflow/{alias}.toml"), text);
    repo.commit_all(&format!("template {alias}"));
}

/// A branch off `main` with one commit writing `file`, then back on `main`.
fn branch_with(repo: &Repo, branch: &str, file: &str, text: &str) {
    repo.git(&["checkout", "-q", "-b", branch]);
    repo.write(file, text);
    repo.commit_all(&format!("work on {branch}"));
    repo.git(&["checkout", "-q", "main"]);
}

struct Ran {
    code: i32,
    stdout: String,
    manifest: Value,
}

fn run(repo: &Repo, alias: &str, sets: &[&str]) -> Ran {
    let mut cmd = repo.vizier();
    cmd.args(["run", alias]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().unwrap();
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        manifest: manifests(repo).pop().expect("a run manifest"),
    }
}

fn reason(m: &Value, id: &str) -> String {
    node(m, id)["reason"].as_str().unwrap_or("").to_owned()
}

fn job_id(m: &Value, id: &str) -> String {
    node(m, id)["job_id"].as_str().unwrap().to_owned()
}

fn manifest_of(repo: &Repo, run_id: &str) -> Value {
    let path = repo.join(&format!(".vizier/jobs/runs/{run_id}.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The paths of the worktrees git knows, the main one first.
fn worktrees(repo: &Repo) -> Vec<String> {
    repo.git(&["worktree", "list", "--porcelain"])
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .map(str::to_owned)
        .collect()
}

fn leftover_worktrees(repo: &Repo) -> Vec<String> {
    std::fs::read_dir(repo.join(".vizier/tmp-worktrees"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn sentinels(repo: &Repo) -> Vec<String> {
    std::fs::read_dir(repo.join(".vizier/tmp/merge-conflicts"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

fn write_executable(repo: &Repo, rel: &str, text: &str) {
    repo.write(rel, text);
    let path = repo.join(rel);
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
}

fn head_subject(repo: &Repo, rev: &str) -> String {
    repo.git(&["log", "-1", "--format=%s", rev])
        .trim()
        .to_owned()
}

fn wait_for_outcome(repo: &Repo, run_id: &str) -> Value {
    wait_until(&format!("run {run_id} to finish"), || {
        manifest_of(repo, run_id)["outcome"].is_string()
    });
    manifest_of(repo, run_id)
}

// ---------------------------------------------------------------------------------------------
// worktree.prepare / worktree.cleanup / git.stage_commit

fn worktree_flow() -> String {
    chain(
        "t.worktree",
        &[
            (
                "prepare",
                PREPARE,
                r#"{ branch = "feature/x", purpose = "draft" }"#,
            ),
            (
                "edit",
                COMMAND,
                r#"{ command = "echo made > made.txt && pwd -P > \"$VIZIER_REPO_ROOT/.vizier/jobs/edit-ran-in\"" }"#,
            ),
            ("commit", COMMIT, r#"{ message = "feat: made" }"#),
            ("again", COMMIT, ""),
            ("cleanup", CLEANUP, ""),
        ],
    )
}

#[test]
fn a_worktree_is_made_used_committed_in_and_removed_leaving_the_users_work_tree_alone() {
    let repo = base_repo();
    install(&repo, "wt", &worktree_flow());
    // The person's own uncommitted work, tracked and untracked.
    repo.write("notes.txt", "one\nmine, uncommitted\n");
    repo.write("scratch.txt", "untracked\n");
    let main_before = repo.git(&["rev-parse", "HEAD"]);

    let r = run(&repo, "wt", &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);

    assert_eq!(repo.read("notes.txt"), "one\nmine, uncommitted\n");
    assert_eq!(repo.read("scratch.txt"), "untracked\n");
    assert!(!repo.join("made.txt").exists());
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), main_before);
    assert_eq!(
        repo.git(&["symbolic-ref", "--short", "HEAD"]).trim(),
        "main"
    );

    // The work was committed on the branch, made from HEAD.
    assert_eq!(repo.git(&["show", "feature/x:made.txt"]), "made\n");
    assert_eq!(head_subject(&repo, "feature/x"), "feat: made");
    assert_eq!(repo.git(&["rev-parse", "feature/x~1"]), main_before);
    let listed = repo.git(&["show", "--name-only", "--format=", "feature/x"]);
    assert_eq!(
        listed.trim(),
        "made.txt",
        "vizier's folders are never committed"
    );

    let m = &r.manifest;
    let prepare = job_id(m, "prepare");
    let md = &node(m, "prepare")["metadata"];
    let path = format!(".vizier/tmp-worktrees/draft-{prepare}");
    assert_eq!(md["worktree_path"], path.as_str());
    assert_eq!(md["worktree_name"], format!("draft-{prepare}").as_str());
    assert_eq!(md["worktree_owned"], true);
    assert_eq!(md["worktree_job"], prepare.as_str());
    assert_eq!(md["execution_root"], path.as_str());
    // The context flowed to the successors, which ran inside the worktree.
    assert_eq!(node(m, "edit")["metadata"]["execution_root"], path.as_str());
    let ran_in = std::fs::read_to_string(repo.join(".vizier/jobs/edit-ran-in")).unwrap();
    assert!(ran_in.trim().ends_with(&path), "{ran_in}");
    assert_eq!(node(m, "commit")["metadata"]["commit_branch"], "feature/x");
    assert_eq!(node(m, "commit")["metadata"]["committed"], true);
    assert_eq!(node(m, "again")["metadata"]["committed"], false);
    assert_eq!(node(m, "cleanup")["metadata"]["worktree_removed"], true);
    assert_eq!(node(m, "cleanup")["metadata"]["execution_root"], ".");

    assert_eq!(worktrees(&repo).len(), 1, "{:?}", worktrees(&repo));
    assert!(leftover_worktrees(&repo).is_empty());
}

#[test]
fn preparing_a_branch_checked_out_elsewhere_fails_with_gits_reason() {
    let repo = base_repo();
    install(
        &repo,
        "wt",
        &chain("t.wt", &[("prepare", PREPARE, r#"{ branch = "main" }"#)]),
    );
    let r = run(&repo, "wt", &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let why = reason(&r.manifest, "prepare");
    assert!(
        why.starts_with("cannot add a worktree on branch `main`: fatal: 'main' is already"),
        "{why}"
    );
    assert!(why.contains(repo.path().to_str().unwrap()), "{why}");
    assert!(
        r.stdout.contains(&why),
        "the run prints the reason: {}",
        r.stdout
    );
    assert!(leftover_worktrees(&repo).is_empty());
    let claim = repo.join(&format!(
        ".vizier/jobs/{}/worktree.json",
        job_id(&r.manifest, "prepare")
    ));
    assert!(!claim.exists(), "a failed add leaves no claim");
}

fn flaky() -> String {
    chain(
        "t.flaky",
        &[
            (
                "prepare",
                PREPARE,
                r#"{ branch = "draft/flaky", purpose = "draft" }"#,
            ),
            (
                "work",
                COMMAND,
                r#"{ command = "echo progress > progress.txt && test -f \"$VIZIER_REPO_ROOT/go\"" }"#,
            ),
            ("commit", COMMIT, ""),
            ("cleanup", CLEANUP, ""),
        ],
    )
}

#[test]
fn a_failed_run_keeps_its_worktree_and_jobs_retry_removes_only_what_the_rewound_jobs_own() {
    let repo = base_repo();
    install(&repo, "flaky", &flaky());
    let first = run(&repo, "flaky", &[]);
    assert_eq!(first.code, 1, "{}", first.stdout);
    let run_id = first.manifest["run_id"].as_str().unwrap().to_owned();
    let path = node(&first.manifest, "prepare")["metadata"]["worktree_path"]
        .as_str()
        .unwrap()
        .to_owned();
    // Kept for inspection, with the failed job's work in it.
    assert_eq!(
        node(&first.manifest, "cleanup")["status"],
        "blocked_by_dependency"
    );
    assert_eq!(repo.read(&format!("{path}/progress.txt")), "progress\n");
    assert_eq!(worktrees(&repo).len(), 2);

    // Running again while the branch is still checked out there, with the failed job's work in
    // it: the worktree is not taken, and the reason names its run and the way out.
    let second = run(&repo, "flaky", &[]);
    assert_eq!(second.code, 1);
    let why = reason(&second.manifest, "prepare");
    assert!(
        why.contains("branch `draft/flaky` is checked out in"),
        "{why}"
    );
    assert!(
        why.contains(&path),
        "names the worktree that holds it: {why}"
    );
    assert!(
        why.contains(&format!("`vizier jobs clean {run_id}`")),
        "{why}"
    );

    // Retrying the failed work node rewinds nothing that owns the worktree: it stays.
    let work = job_id(&first.manifest, "work");
    let out = repo
        .vizier()
        .args(["jobs", "retry", &work])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("removed worktree"));
    let m = wait_for_outcome(&repo, &run_id);
    assert_eq!(m["outcome"], "failed");
    assert!(
        repo.join(&path).is_dir(),
        "prepare, outside the rewound set, still owns it"
    );

    // Retrying prepare rewinds its owner: the worktree goes, and the run starts over and passes.
    repo.write("go", "");
    let prepare = job_id(&first.manifest, "prepare");
    let out = repo
        .vizier()
        .args(["jobs", "retry", &prepare])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("removed worktree `{path}`")),
        "{stdout}"
    );
    assert_no_git_chatter(&out.stderr);
    let m = wait_for_outcome(&repo, &run_id);
    assert_eq!(m["outcome"], "succeeded", "{m:#}");
    assert_eq!(
        node(&m, "prepare")["metadata"]["cleanup"],
        format!("jobs retry: removed worktree `{path}`").as_str()
    );
    assert_eq!(node(&m, "prepare")["attempts"], 2);
    assert_eq!(worktrees(&repo).len(), 1);
    assert!(leftover_worktrees(&repo).is_empty());
    assert_eq!(
        repo.git(&["show", "draft/flaky:progress.txt"]),
        "progress\n"
    );
}

#[test]
fn cancelling_a_prepare_mid_way_removes_the_worktree_it_was_making() {
    let repo = base_repo();
    install(&repo, "flaky", &flaky());
    // git runs post-checkout inside `worktree add`, after the worktree exists: the job is then
    // between making the worktree and recording its outcome.
    let started = repo.join("hook-started");
    write_executable(
        &repo,
        ".git/hooks/post-checkout",
        &format!("#!/bin/sh\ntouch '{}'\nsleep 30\n", started.display()),
    );

    repo.vizier()
        .args(["run", "flaky", "--detach"])
        .assert()
        .success();
    wait_until("the worktree add to reach its hook", || started.exists());
    let m = manifests(&repo).pop().unwrap();
    let prepare = job_id(&m, "prepare");
    let path = format!(".vizier/tmp-worktrees/draft-{prepare}");
    assert!(repo.join(&path).is_dir());

    let out = repo
        .vizier()
        .args(["jobs", "cancel", &prepare])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("removed worktree `{path}`")),
        "{stdout}"
    );
    assert_no_git_chatter(&out.stderr);
    assert!(!repo.join(&path).exists());
    assert_eq!(worktrees(&repo).len(), 1, "{:?}", worktrees(&repo));
    let m = wait_for_outcome(&repo, m["run_id"].as_str().unwrap());
    assert_eq!(node(&m, "prepare")["status"], "cancelled");
    assert!(
        node(&m, "prepare")["metadata"]["cleanup"]
            .as_str()
            .unwrap()
            .starts_with("jobs cancel: removed worktree")
    );
}

// ---------------------------------------------------------------------------------------------
// git.integrate_plan_branch and gate.conflict_resolution

/// `main` and `draft/plan` (one commit adding `feature.txt`), with the repository's merge template.
fn plan_branch_repo() -> Repo {
    let repo = base_repo();
    branch_with(&repo, "draft/plan", "feature.txt", "feature\n");
    install(&repo, "merge", MERGE);
    repo
}

#[test]
fn the_merge_template_squashes_the_plan_branch_onto_main_when_ci_passes() {
    let repo = plan_branch_repo();
    let before = repo.git(&["rev-parse", "main"]);
    let r = run(&repo, "merge", &["ci_script=test -f feature.txt"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(head_subject(&repo, "main"), "feat: merge plan plan");
    // Squashed: one parent, the old main.
    assert_eq!(
        repo.git(&["rev-list", "--parents", "-n1", "main"])
            .split_whitespace()
            .nth(1)
            .unwrap(),
        before.trim()
    );
    assert_eq!(repo.read("feature.txt"), "feature\n");
    assert!(repo.git(&["status", "--porcelain"]).is_empty());
    let md = &node(&r.manifest, "integrate")["metadata"];
    assert_eq!(md["merge_mode"], "squash");
    assert_eq!(md["merge_commit"], repo.git(&["rev-parse", "main"]).trim());
    assert_eq!(md["merge_ci_exit_code"], 0);
    assert_eq!(md["merge_target_before"], before.trim());
    assert_eq!(node(&r.manifest, "resolve")["status"], "skipped");
    assert!(leftover_worktrees(&repo).is_empty());
    repo.git(&["rev-parse", "--verify", "draft/plan"]);
}

/// The merge template integrated onto the target and only then ran `gate.cicd`: a failing CI left
/// the merge commit on `main`. CI now runs on the merged result first; a failure leaves `main`, its
/// checkout and the worktrees exactly as they were, and says so.
#[test]
fn a_failing_ci_leaves_the_target_exactly_where_it_was_and_says_so() {
    let repo = plan_branch_repo();
    let before = repo.git(&["rev-parse", "main"]).trim().to_owned();
    let r = run(&repo, "merge", &["ci_script=test -f feature.txt && exit 3"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(r.manifest["outcome"], "failed");
    let integrate = node(&r.manifest, "integrate");
    assert_eq!(integrate["status"], "failed");
    assert_eq!(integrate["exit_code"], 3);
    let why = reason(&r.manifest, "integrate");
    assert!(
        why.starts_with("CI failed on the merged result ")
            && why.ends_with(&format!(
                "(the `cicd` gate's script exited with code 3); nothing landed: `main` stays at {}",
                &before[..12]
            )),
        "{why}"
    );
    assert_eq!(node(&r.manifest, "done")["status"], "blocked_by_dependency");
    assert_eq!(repo.git(&["rev-parse", "main"]).trim(), before);
    assert!(!repo.join("feature.txt").exists());
    assert!(repo.git(&["status", "--porcelain"]).is_empty());
    assert_eq!(worktrees(&repo).len(), 1);
    assert!(leftover_worktrees(&repo).is_empty());
}

/// The CI script sees the merged result in a temporary worktree, while the target ref has not moved
/// yet; afterwards the target moved and its clean checkout was fast-forwarded.
#[test]
fn ci_runs_on_the_merged_result_before_the_target_ref_moves() {
    let repo = plan_branch_repo();
    let before = repo.git(&["rev-parse", "main"]).trim().to_owned();
    let root = repo.path().canonicalize().unwrap();
    let ci = format!(
        "test -f feature.txt && test \"$(git rev-parse main)\" = {before} && test \"$(git rev-parse HEAD)\" = \"$VIZIER_MERGE_COMMIT\" && test \"$(pwd -P)\" != {} && test ! -f {}/feature.txt && pwd -P > {}/ci-ran-in",
        root.display(),
        root.display(),
        root.display()
    );
    let r = run(&repo, "merge", &[&format!("ci_script={ci}")]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let ran_in = repo.read("ci-ran-in");
    assert!(ran_in.contains(".vizier/tmp-worktrees/merge-"), "{ran_in}");
    assert_ne!(repo.git(&["rev-parse", "main"]).trim(), before);
    assert_eq!(repo.read("feature.txt"), "feature\n");
    assert_eq!(repo.git(&["status", "--porcelain"]), "?? ci-ran-in\n");
    assert!(leftover_worktrees(&repo).is_empty());
}

/// A checkout of the target that got dirty while CI ran is not touched: the node fails naming the
/// files, with the ref unmoved.
#[test]
fn a_target_checkout_dirtied_during_ci_fails_the_node_with_the_ref_unmoved() {
    let repo = plan_branch_repo();
    let before = repo.git(&["rev-parse", "main"]).trim().to_owned();
    let readme = repo.path().canonicalize().unwrap().join("README.md");
    let ci = format!("echo 'edited during CI' >> {}", readme.display());
    let r = run(&repo, "merge", &[&format!("ci_script={ci}")]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let why = reason(&r.manifest, "integrate");
    assert!(
        why.contains("checked out at `.` with uncommitted changes to `README.md`")
            && why.contains("passed CI, but `main` stays at"),
        "{why}"
    );
    assert_eq!(repo.git(&["rev-parse", "main"]).trim(), before);
    assert_eq!(repo.read("README.md"), "# demo\nedited during CI\n");
    assert!(!repo.join("feature.txt").exists());
    assert!(leftover_worktrees(&repo).is_empty());
}

/// The target moving while CI runs is not overwritten (compare-and-swap): the merge does not land.
#[test]
fn a_target_that_moves_during_ci_is_not_overwritten() {
    let repo = plan_branch_repo();
    repo.git(&["branch", "release", "main"]);
    let root = repo.path().canonicalize().unwrap();
    let ci = format!(
        "git -C {} commit-tree -p release -m sneaky release^{{tree}} | xargs git -C {} update-ref refs/heads/release",
        root.display(),
        root.display()
    );
    let r = run(
        &repo,
        "merge",
        &["target=release", &format!("ci_script={ci}")],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    let why = reason(&r.manifest, "integrate");
    assert!(why.contains("`release` moved meanwhile"), "{why}");
    assert_eq!(head_subject(&repo, "release"), "sneaky");
    assert!(leftover_worktrees(&repo).is_empty());
}

#[test]
fn a_dirty_target_work_tree_is_refused_and_left_untouched() {
    let repo = plan_branch_repo();
    repo.write("README.md", "# my edit, not committed\n");
    let before = repo.git(&["rev-parse", "main"]);
    let status_before = repo.git(&["status", "--porcelain"]);
    let r = run(&repo, "merge", &["ci_script=true"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let why = reason(&r.manifest, "integrate");
    assert_eq!(
        why,
        "target branch `main` is checked out at `.` with uncommitted changes to `README.md`; commit or stash them first (nothing was changed)"
    );
    assert_eq!(repo.read("README.md"), "# my edit, not committed\n");
    assert_eq!(repo.git(&["rev-parse", "main"]), before);
    assert_eq!(repo.git(&["status", "--porcelain"]), status_before);
    assert!(!repo.join("feature.txt").exists());
    assert!(sentinels(&repo).is_empty());
}

/// `main` and `draft/<slug>` both changing `notes.txt`.
fn conflict_repo(slug: &str) -> Repo {
    let repo = base_repo();
    branch_with(&repo, &format!("draft/{slug}"), "notes.txt", "theirs\n");
    repo.write("notes.txt", "ours\n");
    repo.commit_all("ours");
    repo
}

#[test]
fn a_conflict_blocks_and_the_script_resolver_completes_the_merge_then_the_checkout_fast_forwards() {
    let repo = conflict_repo("demo");
    install(&repo, "resolve", &fixture("gate_conflict_resolution"));
    let r = run(&repo, "resolve", &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("integrate blocked: merging `draft/demo` into `main` stopped on conflicts in `notes.txt`; the conflicted merge waits in `.vizier/tmp-worktrees/merge-"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("integrate (attempt 2) succeeded"),
        "{}",
        r.stdout
    );
    assert_eq!(repo.read("notes.txt"), "theirs\n");
    assert_eq!(repo.git(&["show", "main:notes.txt"]), "theirs\n");
    assert_eq!(head_subject(&repo, "main"), "feat: merge plan demo");
    assert!(repo.git(&["status", "--porcelain"]).is_empty());
    assert!(sentinels(&repo).is_empty());
    let md = &node(&r.manifest, "integrate")["metadata"];
    assert_eq!(md["merge_note"], "completed by the conflict resolution");
    assert_eq!(md["merge_commit"], repo.git(&["rev-parse", "main"]).trim());
    assert_eq!(node(&r.manifest, "resolve")["status"], "skipped");
    assert!(leftover_worktrees(&repo).is_empty());
}

#[test]
fn a_conflict_in_a_temporary_worktree_is_resolved_and_the_target_ref_moves() {
    let repo = conflict_repo("demo");
    install(&repo, "resolve", &fixture("gate_conflict_resolution"));
    repo.git(&["branch", "release", "main"]);
    let main_before = repo.git(&["rev-parse", "main"]);
    let r = run(&repo, "resolve", &["target=release"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("the conflicted merge waits in `.vizier/tmp-worktrees/merge-"),
        "{}",
        r.stdout
    );
    assert_eq!(repo.git(&["show", "release:notes.txt"]), "theirs\n");
    assert_eq!(head_subject(&repo, "release"), "feat: merge plan demo");
    assert_eq!(repo.git(&["rev-parse", "main"]), main_before);
    assert_eq!(repo.read("notes.txt"), "ours\n");
    assert_eq!(worktrees(&repo).len(), 1);
    assert!(leftover_worktrees(&repo).is_empty());
    assert!(sentinels(&repo).is_empty());
}

/// A conflict resolved by the gate does not skip CI: the resolved merge lands only through the
/// integrate node's re-run, after its `cicd` gate passed on it.
#[test]
fn a_resolved_conflict_is_checked_by_ci_before_it_lands() {
    let repo = conflict_repo("demo");
    let with_ci = |script: &str| {
        fixture("gate_conflict_resolution").replace(
            "on = { blocked = [\"resolve\"] }",
            &format!("gates = [{{ kind = \"cicd\", script = {script:?} }}]\non = {{ blocked = [\"resolve\"] }}"),
        )
    };
    install(
        &repo,
        "resolve",
        &with_ci("test \"$(cat notes.txt)\" = theirs && exit 4"),
    );
    let before = repo.git(&["rev-parse", "main"]).trim().to_owned();
    let r = run(&repo, "resolve", &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(reason(&r.manifest, "integrate").starts_with("CI failed on the merged result"));
    let integrate = node(&r.manifest, "integrate");
    assert_eq!(integrate["status"], "failed");
    assert_eq!(integrate["exit_code"], 4);
    assert_eq!(integrate["attempts"], 2);
    assert_eq!(repo.git(&["rev-parse", "main"]).trim(), before);
    assert_eq!(repo.read("notes.txt"), "ours\n");
    assert!(leftover_worktrees(&repo).is_empty());

    // With a passing CI the resolved merge lands and the checkout follows.
    install(
        &repo,
        "resolve",
        &with_ci("test \"$(cat notes.txt)\" = theirs"),
    );
    let r = run(&repo, "resolve", &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(repo.git(&["show", "main:notes.txt"]), "theirs\n");
    assert_eq!(repo.read("notes.txt"), "theirs\n");
    assert_eq!(
        node(&r.manifest, "integrate")["metadata"]["merge_ci_exit_code"],
        0
    );
    assert!(leftover_worktrees(&repo).is_empty());
}

#[test]
fn without_a_resolver_the_conflict_waits_for_a_person_and_jobs_retry_finishes_the_merge() {
    let repo = conflict_repo("plan");
    install(&repo, "merge", MERGE);
    let r = run(&repo, "merge", &["ci_script=true"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let m = &r.manifest;
    let run_id = m["run_id"].as_str().unwrap().to_owned();
    assert_eq!(node(m, "integrate")["status"], "blocked");
    assert_eq!(node(m, "resolve")["status"], "failed");
    let why = reason(m, "resolve");
    assert!(
        why.starts_with("conflicts remain in `.vizier/tmp-worktrees/merge-")
            && why.contains(
                "(`notes.txt`) and `auto_resolve` is on, but the gate has no resolver `script` gate"
            ),
        "{why}"
    );
    // The sentinel belongs to this run and this job.
    let sentinel: Value =
        serde_json::from_str(&repo.read(".vizier/tmp/merge-conflicts/plan.json")).unwrap();
    assert_eq!(sentinel["run_id"], run_id.as_str());
    assert_eq!(sentinel["job_id"], job_id(m, "integrate").as_str());
    assert_eq!(sentinel["conflicts"], serde_json::json!(["notes.txt"]));
    let waits = sentinel["worktree"].as_str().unwrap().to_owned();
    assert!(waits.starts_with(".vizier/tmp-worktrees/merge-"), "{waits}");
    assert_eq!(sentinel["mode"], "squash");
    // The user's checkout is never where a conflicted merge waits.
    assert_eq!(repo.read("notes.txt"), "ours\n");
    assert!(repo.git(&["status", "--porcelain"]).is_empty());

    // A person resolves it where it waits and retries the gate; the merge then runs CI and lands.
    repo.write(&format!("{waits}/notes.txt"), "ours and theirs\n");
    assert_eq!(
        git_in_dir(&repo.join(&waits), &repo, &["add", "notes.txt"]),
        ""
    );
    let out = repo
        .vizier()
        .args(["jobs", "retry", &job_id(m, "resolve")])
        .output()
        .unwrap();
    assert!(out.status.success());
    let m = wait_for_outcome(&repo, &run_id);
    assert_eq!(m["outcome"], "succeeded", "{m:#}");
    assert_eq!(repo.git(&["show", "main:notes.txt"]), "ours and theirs\n");
    assert_eq!(repo.read("notes.txt"), "ours and theirs\n");
    assert_eq!(head_subject(&repo, "main"), "feat: merge plan plan");
    assert!(repo.git(&["status", "--porcelain"]).is_empty());
    assert!(sentinels(&repo).is_empty());
    assert!(leftover_worktrees(&repo).is_empty());
}

/// git in `dir` (a worktree of `repo`), asserting it succeeded; returns stdout.
fn git_in_dir(dir: &Path, repo: &Repo, args: &[&str]) -> String {
    let mut cmd = std::process::Command::new("git");
    cmd.args(args).current_dir(dir);
    isolate(&mut cmd, repo.home.path());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn retrying_a_blocked_merge_clears_its_sentinel_and_its_worktree_and_merges_afresh() {
    let repo = conflict_repo("plan");
    install(&repo, "merge", MERGE);
    let r = run(&repo, "merge", &["ci_script=true"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let run_id = r.manifest["run_id"].as_str().unwrap().to_owned();
    assert_eq!(sentinels(&repo), ["plan.json"]);
    assert_eq!(leftover_worktrees(&repo).len(), 1);

    let out = repo
        .vizier()
        .args(["jobs", "retry", &job_id(&r.manifest, "integrate")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("cleared merge sentinel `.vizier/tmp/merge-conflicts/plan.json`"),
        "{stdout}"
    );
    let m = wait_for_outcome(&repo, &run_id);
    // The merge ran again from the start and met the same conflict, in a fresh worktree.
    assert_eq!(node(&m, "integrate")["status"], "blocked");
    assert_eq!(node(&m, "integrate")["attempts"], 2);
    assert_eq!(sentinels(&repo), ["plan.json"]);
    assert_eq!(leftover_worktrees(&repo).len(), 1);
    assert_eq!(repo.read("notes.txt"), "ours\n");
    assert!(repo.git(&["status", "--porcelain"]).is_empty());
}

/// A checkout of the target in the middle of a merge of its own is left alone.
#[test]
fn a_target_checkout_in_the_middle_of_its_own_merge_is_refused() {
    let repo = conflict_repo("plan");
    install(&repo, "merge", MERGE);
    let out = repo.git_output(&["merge", "draft/plan"]);
    assert!(!out.status.success());
    let conflicted = repo.read("notes.txt");
    let r = run(&repo, "merge", &["ci_script=true"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(
        reason(&r.manifest, "integrate"),
        "target branch `main` is checked out at `.` in the middle of a merge (conflicts in `notes.txt`); finish it, or undo it with `git reset --merge` there (nothing was changed)"
    );
    assert_eq!(repo.read("notes.txt"), conflicted);
    assert!(sentinels(&repo).is_empty());
}

#[test]
fn a_no_ff_merge_records_both_parents_and_deletes_the_branch() {
    let repo = base_repo();
    branch_with(&repo, "draft/demo", "feature.txt", "feature\n");
    install(&repo, "integrate", &fixture("git_integrate_plan_branch"));
    let r = run(&repo, "integrate", &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(head_subject(&repo, "main"), "Merge draft/demo");
    let parents = repo.git(&["rev-list", "--parents", "-n1", "main"]);
    assert_eq!(parents.split_whitespace().count(), 3, "{parents}");
    assert!(
        !repo
            .git_output(&["rev-parse", "--verify", "--quiet", "refs/heads/draft/demo"])
            .status
            .success()
    );
    assert_eq!(
        node(&r.manifest, "integrate")["metadata"]["branch_deleted"],
        true
    );
}

// ---------------------------------------------------------------------------------------------
// merge sentinels are scoped to their run

const HOLD: &str = r#"id = "t.hold"
version = "v1"
[[nodes]]
id = "hold"
kind = "builtin"
uses = "cap.env.builtin.merge.sentinel.write"
args = { slug = "demo", branch = "draft/demo", target_branch = "main" }
# No inferred branch locks: the second run must reach the sentinel guard, not wait for the first.
locks = []
[[nodes]]
id = "wait"
kind = "gate"
uses = "control.gate.approval"
gates = [{ kind = "approval" }]
after = [{ node_id = "hold" }]
[[nodes]]
id = "resolve"
kind = "gate"
uses = "control.gate.conflict_resolution"
args = { slug = "demo" }
after = [{ node_id = "wait" }]
[[nodes]]
id = "release"
kind = "builtin"
uses = "cap.env.builtin.merge.sentinel.clear"
args = { slug = "demo" }
after = [{ node_id = "resolve" }]
[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "release" }]
"#;

#[test]
fn two_runs_never_take_or_read_each_others_sentinel() {
    let repo = base_repo();
    install(&repo, "hold", HOLD);
    repo.vizier()
        .args(["run", "hold", "--detach"])
        .assert()
        .success();
    let a = manifests(&repo).pop().unwrap();
    let a_id = a["run_id"].as_str().unwrap().to_owned();
    wait_until("run A to wait for approval", || {
        node(&manifest_of(&repo, &a_id), "wait")["status"] == "waiting_on_approval"
    });

    let b = run(&repo, "hold", &[]);
    assert_eq!(b.code, 1, "{}", b.stdout);
    assert_ne!(b.manifest["run_id"], a_id.as_str());
    assert_eq!(
        reason(&b.manifest, "hold"),
        format!(
            "`.vizier/tmp/merge-conflicts/demo.json` belongs to run `{a_id}`, which is still active; two runs cannot hold conflicts of the same slug at once"
        )
    );
    let sentinel: Value =
        serde_json::from_str(&repo.read(".vizier/tmp/merge-conflicts/demo.json")).unwrap();
    assert_eq!(sentinel["run_id"], a_id.as_str());

    repo.vizier()
        .args(["jobs", "approve", &job_id(&a, "wait")])
        .assert()
        .success();
    let a = wait_for_outcome(&repo, &a_id);
    assert_eq!(a["outcome"], "succeeded", "{a:#}");
    // Run A's gate found its own sentinel (with no merge in it) and cleared it.
    assert_eq!(
        node(&a, "resolve")["metadata"]["merge_resolved"],
        serde_json::json!(["demo"])
    );
    assert!(sentinels(&repo).is_empty());
}

// ---------------------------------------------------------------------------------------------
// the patch pipeline

const ADD_GREETING: &str = "diff --git a/greeting.txt b/greeting.txt
new file mode 100644
--- /dev/null
+++ b/greeting.txt
@@ -0,0 +1 @@
+hello
";

const EXTEND_GREETING: &str = "diff --git a/greeting.txt b/greeting.txt
--- a/greeting.txt
+++ b/greeting.txt
@@ -1 +1,2 @@
 hello
+world
";

/// Does not apply: the context line it expects is not there.
const BAD_PATCH: &str = "diff --git a/notes.txt b/notes.txt
--- a/notes.txt
+++ b/notes.txt
@@ -1 +1 @@
-this line is not in notes.txt
+replacement
";

/// The repository the fixtures under `tests/fixtures/ops/` run in: `main` with the patches, and a
/// plan branch `draft/demo`.
fn fixture_repo() -> Repo {
    let repo = base_repo();
    repo.write("patches/01-add-greeting.patch", ADD_GREETING)
        .write("patches/02-extend-greeting.patch", EXTEND_GREETING)
        .write("patches/bad.patch", BAD_PATCH);
    repo.commit_all("patches");
    branch_with(&repo, "draft/demo", "feature.txt", "feature\n");
    repo
}

#[test]
fn the_patch_pipeline_applies_patches_in_order_and_commits_them() {
    let repo = fixture_repo();
    install(&repo, "patches", &fixture("patch_pipeline"));
    let r = run(&repo, "patches", &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(
        repo.git(&["show", "patches/greeting:greeting.txt"]),
        "hello\nworld\n"
    );
    assert_eq!(head_subject(&repo, "patches/greeting"), "feat: greeting");
    assert_eq!(
        repo.git(&["rev-parse", "patches/greeting~1"]),
        repo.git(&["rev-parse", "main"])
    );
    assert_eq!(
        node(&r.manifest, "apply")["metadata"]["patches_applied"],
        serde_json::json!([
            "patches/01-add-greeting.patch",
            "patches/02-extend-greeting.patch"
        ])
    );
    assert!(
        !repo.join("greeting.txt").exists(),
        "the user's work tree is untouched"
    );
}

#[test]
fn a_patch_that_does_not_apply_is_named_and_nothing_is_half_applied() {
    let repo = fixture_repo();
    install(&repo, "patches", &fixture("patch_pipeline"));
    let r = run(
        &repo,
        "patches",
        &[
            r#"files=["patches/01-add-greeting.patch", "patches/bad.patch", "patches/02-extend-greeting.patch"]"#,
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    let why = reason(&r.manifest, "apply");
    assert!(
        why.starts_with(
            "patch `patches/bad.patch` does not apply: error: patch failed: notes.txt:1"
        ),
        "{why}"
    );
    assert!(why.ends_with("; nothing was applied"), "{why}");
    // The failed run keeps its worktree: nothing in it changed, not even the first patch.
    let wt = node(&r.manifest, "prepare")["metadata"]["worktree_path"]
        .as_str()
        .unwrap()
        .to_owned();
    let wt_repo_status = std::process::Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(repo.join(&wt))
        .output()
        .unwrap();
    assert!(wt_repo_status.stdout.is_empty(), "{wt_repo_status:?}");
    assert!(!repo.join(&format!("{wt}/greeting.txt")).exists());
    assert_eq!(
        node(&r.manifest, "finalize")["status"],
        "blocked_by_dependency"
    );
}

// ---------------------------------------------------------------------------------------------
// plan.persist, git.save_worktree_patch, build.materialize_step

#[test]
fn plan_persist_writes_the_plan_document_on_the_draft_branch() {
    let repo = base_repo();
    install(&repo, "plan", &fixture("plan_persist"));
    let r = run(&repo, "plan", &["spec=Greet: the user"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let doc = repo.git(&[
        "show",
        "draft/add-greeting:.vizier/implementation-plans/add-greeting.md",
    ]);
    assert_eq!(
        doc,
        "---\nplan: add-greeting\nbranch: draft/add-greeting\n---\n\n## Operator Spec\n\nGreet: the user\n\n## Implementation Plan\n\n1. Read the name.\n2. Print the greeting.\n"
    );
    assert_eq!(
        node(&r.manifest, "persist")["metadata"]["plan_source"],
        "plan_body"
    );
    assert!(!repo.join(".vizier/implementation-plans").exists());
}

#[test]
fn plan_persist_takes_the_plan_from_the_runs_agent_output() {
    // The agent's output is its job's stdout log. The agent here fails on purpose, so `persist`
    // runs as its failure handler whatever the agent printed; the test then puts a known output in
    // the agent's log and re-runs `persist`, which must prefer it to `plan_body`.
    let repo = base_repo();
    repo.write(
        ".vizier/config.toml",
        "[agent]\ncommand = [\"sh\", \"-c\", \"cat > /dev/null; exit 1\"]\n",
    );
    install(
        &repo,
        "plan",
        r#"id = "t.plan"
version = "v1"
[[artifact_contracts]]
id = "prompt_text"
version = "v1"
[[nodes]]
id = "prompt"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "true" }
produces = { succeeded = [{ custom = { type_id = "prompt_text", key = "p" } }] }
[[nodes]]
id = "agent"
kind = "agent"
uses = "cap.agent.invoke"
needs = [{ custom = { type_id = "prompt_text", key = "p" } }]
after = [{ node_id = "prompt" }]
on = { failed = ["persist"] }
[[nodes]]
id = "persist"
kind = "builtin"
uses = "cap.env.builtin.plan.persist"
args = { spec_text = "the spec", slug = "p", plan_body = "not this" }
[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "persist" }]
"#,
    );
    let r = run(&repo, "plan", &[]);
    assert_eq!(
        node(&r.manifest, "agent")["status"],
        "failed",
        "{}",
        r.stdout
    );
    let agent_job = job_id(&r.manifest, "agent");
    std::fs::write(
        repo.join(&format!(".vizier/jobs/{agent_job}/stdout.log")),
        "1. The agent's plan.\n",
    )
    .unwrap();
    let run_id = r.manifest["run_id"].as_str().unwrap().to_owned();
    repo.vizier()
        .args(["jobs", "retry", &job_id(&r.manifest, "persist")])
        .assert()
        .success();
    let m = wait_for_outcome(&repo, &run_id);
    assert_eq!(node(&m, "persist")["status"], "succeeded", "{m:#}");
    assert_eq!(
        node(&m, "persist")["metadata"]["plan_source"],
        format!("agent:{agent_job}").as_str()
    );
    let doc = repo.read(".vizier/implementation-plans/p.md");
    assert!(
        doc.ends_with("## Implementation Plan\n\n1. The agent's plan.\n"),
        "{doc}"
    );
}

#[test]
fn save_worktree_patch_keeps_the_uncommitted_changes_as_a_patch() {
    let repo = base_repo();
    install(&repo, "patch", &fixture("git_save_worktree_patch"));
    let r = run(&repo, "patch", &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let save = job_id(&r.manifest, "save");
    let rel = format!(".vizier/jobs/{save}/command.patch");
    assert_eq!(
        node(&r.manifest, "save")["metadata"]["patch_path"],
        rel.as_str()
    );
    let patch = repo.read(&rel);
    assert!(
        patch.contains("+++ b/notes.txt\n@@ -1 +1,2 @@\n one\n+changed\n"),
        "{patch}"
    );
    // It applies to main as the change it recorded.
    repo.git(&["apply", "--check", repo.join(&rel).to_str().unwrap()]);
}

#[test]
fn build_materialize_step_records_the_step_and_creates_missing_branches() {
    let repo = base_repo();
    install(&repo, "build", &fixture("build_materialize_step"));
    let r = run(&repo, "build", &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let record: Value = serde_json::from_str(
        &repo.read(".vizier/implementation-plans/builds/build-1/steps/step-1/materialized.json"),
    )
    .unwrap();
    assert_eq!(record["slug"], "greeting");
    assert_eq!(
        record["branches_created"],
        serde_json::json!(["build/build-1/greeting"])
    );
    assert_eq!(
        record["branches"]["build/build-1/greeting"],
        repo.git(&["rev-parse", "main"]).trim()
    );
    assert_eq!(record["run_id"], r.manifest["run_id"]);
}

// ---------------------------------------------------------------------------------------------
// every operation's failure names its cause

fn one_node(uses: &str, args: &str) -> String {
    chain("t.fail", &[("op", uses, args)])
}

fn failure_of(repo: &Repo, template: &str, node_id: &str) -> String {
    install(repo, "fail", template);
    let r = run(repo, "fail", &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(
        node(&r.manifest, node_id)["status"],
        "failed",
        "{}",
        r.stdout
    );
    reason(&r.manifest, node_id)
}

#[test]
fn each_git_operation_names_the_cause_of_its_failure() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "cap.env.builtin.worktree.prepare",
            r#"{ branch = "x", purpose = "a/b" }"#,
            "`purpose` `a/b` is not a safe name",
        ),
        (
            "cap.env.builtin.worktree.prepare",
            r#"{ branch = "bad..name" }"#,
            "`branch` `bad..name` is not a valid branch name",
        ),
        (
            "cap.env.builtin.plan.persist",
            r#"{ spec_text = "s", slug = "../up" }"#,
            "`slug` `../up` is not a safe name",
        ),
        (
            "cap.env.builtin.plan.persist",
            r#"{ spec_file = "nope.md", spec_source = "file", slug = "p" }"#,
            "missing spec: the spec file `nope.md` does not exist",
        ),
        // A literal `../../etc/passwd` spec_file is refused at validation now (`invalid-field`,
        // tests/integration/validate_bombs.rs); the run-time check stays for params.
        (
            "cap.env.builtin.plan.persist",
            r#"{ spec_text = "s", spec_source = "url", slug = "p" }"#,
            "`args.spec_source` must be `inline` or `file`, got `url`",
        ),
        (
            "cap.env.builtin.git.integrate_plan_branch",
            r#"{ branch = "nope" }"#,
            "source branch `nope` does not exist",
        ),
        (
            "cap.env.builtin.git.integrate_plan_branch",
            r#"{ branch = "main", target_branch = "release" }"#,
            "target branch `release` does not exist",
        ),
        (
            "cap.env.builtin.git.integrate_plan_branch",
            r#"{ branch = "x", squash = "maybe" }"#,
            "`args.squash` must be `true` or `false`, got `maybe`",
        ),
        (
            "cap.env.builtin.patch.pipeline_prepare",
            r#"{ files = '["missing.patch"]' }"#,
            "patch file `missing.patch` does not exist",
        ),
        (
            "cap.env.builtin.patch.pipeline_prepare",
            r#"{ files = "a.patch" }"#,
            "`args.files` must be a JSON list of patch paths",
        ),
        // A literal `../x.patch` is refused at validation now (`invalid-field`).
        (
            "cap.env.builtin.patch.execute_pipeline",
            "{}",
            "no `patch.pipeline_prepare` node is upstream of `op` in this run",
        ),
        (
            "cap.env.builtin.patch.pipeline_finalize",
            r#"{ message = "m" }"#,
            "no `patch.pipeline_prepare` node is upstream of `op` in this run",
        ),
        (
            "cap.env.builtin.build.materialize_step",
            r#"{ slug = "s", build_id = "a/b" }"#,
            "`build_id` `a/b` is not a safe name",
        ),
        (
            "cap.env.builtin.build.materialize_step",
            r#"{ slug = "s", branch = "a..b" }"#,
            "`branch` `a..b` is not a valid branch name",
        ),
        (
            "cap.env.builtin.merge.sentinel.write",
            r#"{ slug = "a/b", branch = "x" }"#,
            "`slug` `a/b` is not a safe name",
        ),
        (
            "cap.env.builtin.merge.sentinel.clear",
            r#"{ slug = ".." }"#,
            "`slug` `..` is not a safe name",
        ),
        (
            "control.gate.conflict_resolution",
            r#"{ slug = "../x" }"#,
            "`slug` `../x` is not a safe name",
        ),
    ];
    for (uses, args, expected) in cases {
        let repo = base_repo();
        let why = failure_of(&repo, &one_node(uses, args), "op");
        assert!(
            why.starts_with(expected),
            "{uses} {args}:\n  got      {why}\n  expected {expected}…"
        );
    }
}

#[test]
fn a_commit_refused_by_a_hook_fails_with_the_hooks_words() {
    let repo = base_repo();
    install(
        &repo,
        "fail",
        &chain(
            "t.hook",
            &[
                ("work", COMMAND, r#"{ command = "echo more >> notes.txt" }"#),
                ("commit", COMMIT, ""),
            ],
        ),
    );
    write_executable(
        &repo,
        ".git/hooks/pre-commit",
        "#!/bin/sh\necho 'no commits today' >&2\nexit 1\n",
    );
    let r = run(&repo, "fail", &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(
        reason(&r.manifest, "commit"),
        "git commit failed: no commits today"
    );
}

#[test]
fn cleanup_refuses_a_worktree_with_uncommitted_work_and_keeps_it() {
    let repo = base_repo();
    // The work is never committed, so the worktree still holds it when cleanup runs.
    let template = chain(
        "t.uncommitted",
        &[
            (
                "prepare",
                PREPARE,
                r#"{ branch = "draft/uncommitted", purpose = "draft" }"#,
            ),
            (
                "work",
                COMMAND,
                r#"{ command = "echo progress > progress.txt" }"#,
            ),
            ("cleanup", CLEANUP, ""),
        ],
    );
    install(&repo, "uncommitted", &template);
    let r = run(&repo, "uncommitted", &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let path = node(&r.manifest, "prepare")["metadata"]["worktree_path"]
        .as_str()
        .unwrap()
        .to_owned();
    let why = reason(&r.manifest, "cleanup");
    let root = repo.path().canonicalize().unwrap();
    assert_eq!(
        why,
        format!(
            "cannot remove worktree `{path}`: fatal: '{}' contains modified or untracked files, use --force to delete it",
            root.join(&path).display()
        )
    );
    assert_eq!(repo.read(&format!("{path}/progress.txt")), "progress\n");
}

#[test]
fn a_path_leading_out_of_the_root_through_a_symlink_is_refused() {
    let repo = base_repo();
    let outside = tempfile::tempdir().unwrap();
    install(
        &repo,
        "fail",
        &one_node(
            "cap.env.builtin.plan.persist",
            r#"{ spec_text = "s", slug = "p" }"#,
        ),
    );
    std::fs::create_dir_all(repo.join(".vizier")).unwrap();
    std::os::unix::fs::symlink(outside.path(), repo.join(".vizier/implementation-plans")).unwrap();
    let r = run(&repo, "fail", &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(
        reason(&r.manifest, "op"),
        "`.vizier/implementation-plans/p.md` leaves the repository root"
    );
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
}

// ---------------------------------------------------------------------------------------------
// docs/operations: every example is a fixture that validates and runs

fn ops_fixtures() -> Vec<(String, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ops");
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        // The git operations' fixtures are named after the operation, with underscores; the
        // others (agent, shell, control) have their own tests.
        .filter(|(name, _)| !name.contains('-'))
        .collect();
    out.sort();
    out
}

/// The operations docs (the git sections may still be in their own file).
fn operations_docs() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("operations") && name.ends_with(".md") {
            text.push_str(&std::fs::read_to_string(entry.path()).unwrap());
        }
    }
    text
}

#[test]
fn every_git_operation_is_documented_with_an_example_that_validates_and_runs() {
    let docs = operations_docs();
    for op in [
        "worktree.prepare",
        "worktree.cleanup",
        "plan.persist",
        "git.stage_commit",
        "git.integrate_plan_branch",
        "gate.conflict_resolution",
        "merge.sentinel.write",
        "merge.sentinel.clear",
        "git.save_worktree_patch",
        "patch.pipeline_prepare",
        "patch.execute_pipeline",
        "patch.pipeline_finalize",
        "build.materialize_step",
    ] {
        assert!(docs.contains(&format!("`{op}`")), "no section for `{op}`");
    }
    let fixtures = ops_fixtures();
    assert_eq!(fixtures.len(), 10);
    for (name, path) in fixtures {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            docs.contains(&format!("```toml\n{text}```")),
            "docs do not show tests/fixtures/ops/{name}.toml verbatim"
        );
        let repo = fixture_repo();
        install(&repo, &name, &text);
        repo.vizier()
            .args(["validate", &format!(".vizier/workflow/{name}.toml")])
            .assert()
            .success();
        let r = run(&repo, &name, &[]);
        assert_eq!(r.code, 0, "{name}: {}", r.stdout);
    }
}

#[test]
fn without_a_resolver_script_the_configured_agent_resolves_the_conflict() {
    let repo = conflict_repo("plan");
    install(&repo, "merge", MERGE);
    // The agent reads the prompt (which names the conflicted files) and rewrites them.
    repo.write(
        "agent.sh",
        "#!/bin/sh\ncat > prompt.seen\ngrep -q notes.txt prompt.seen && printf 'ours and theirs\\n' > notes.txt\nrm prompt.seen\n",
    );
    repo.write(
        ".vizier/config.toml",
        &format!(
            "[agent]\ncommand = [\"sh\", \"{}\"]\ntimeout_secs = 30\n",
            repo.join("agent.sh").display()
        ),
    );
    repo.commit_all("agent");
    let r = run(&repo, "merge", &["ci_script=true"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(repo.git(&["show", "main:notes.txt"]), "ours and theirs\n");
    assert_eq!(head_subject(&repo, "main"), "feat: merge plan plan");
    assert!(sentinels(&repo).is_empty());
}

/// `jobs retry` / `cancel` run `git worktree …` for the person; what git says is captured into the
/// cleanup notes, never written to the person's terminal (regression: the job log's `$ git …` lines
/// reached it).
fn assert_no_git_chatter(stderr: &[u8]) {
    let stderr = String::from_utf8_lossy(stderr);
    assert!(
        !stderr.contains("$ git") && !stderr.contains("git worktree"),
        "git wrote to the terminal: {stderr}"
    );
}
