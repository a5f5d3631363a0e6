//! A failed run leaves its worktree on its branch; the next run of the same template takes the
//! branch back when vizier's records prove the earlier, finished run made that worktree and it is
//! clean, and otherwise names the run and `vizier jobs clean`. `vizier jobs clean <run_id>`.

use predicates::prelude::*;
use serde_json::Value;

use crate::support::*;

/// prepare a worktree on `draft/${slug}` → a step that fails unless `fail` is `no` → cleanup.
const DRAFTISH: &str = r#"id = "template.draftish"
version = "v1"

[params]
slug = "demo"
fail = "no"

[[nodes]]
id = "prepare"
uses = "cap.env.builtin.worktree.prepare"
args = { branch = "draft/${slug}", purpose = "draft" }

[[nodes]]
id = "edit"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "test ${fail} = no || { echo edited > edit.txt; exit 1; }" }
after = [{ node_id = "prepare" }]

[[nodes]]
id = "cleanup"
uses = "cap.env.builtin.worktree.cleanup"
after = [{ node_id = "edit" }]

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "cleanup" }]
"#;

fn repo() -> Repo {
    let repo = Repo::new();
    repo.write(
        ".gitignore",
        ".vizier/jobs/\n.vizier/tmp/\n.vizier/tmp-worktrees/\n",
    )
    .write("README.md", "# demo\n")
    .write(".vizier/workflow/draft.toml", DRAFTISH)
    .write(
        ".vizier/workflow/other.toml",
        &DRAFTISH.replace("template.draftish", "template.other"),
    );
    repo.commit_all("init");
    repo
}

fn run(repo: &Repo, alias: &str, sets: &[&str]) -> (i32, String, Value) {
    let mut cmd = repo.vizier();
    cmd.args(["run", alias]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let m = manifests(repo)
        .into_iter()
        .max_by_key(|m| m["created_at"].as_str().unwrap_or("").to_owned())
        .unwrap();
    (out.status.code().unwrap(), text, m)
}

fn left_worktrees(repo: &Repo) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo.join(".vizier/tmp-worktrees"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn run_id(m: &Value) -> String {
    m["run_id"].as_str().unwrap().to_owned()
}

#[test]
fn the_next_run_reuses_the_branch_a_failed_run_left_in_a_clean_worktree() {
    let repo = repo();
    let (code, _, failed) = run(&repo, "draft", &["fail=yes"]);
    assert_eq!(code, 1);
    let old = run_id(&failed);
    let left = left_worktrees(&repo);
    assert_eq!(left.len(), 1, "{left:?}");
    // The failed step wrote a file the run never committed: the worktree is not clean yet.
    std::fs::remove_file(repo.join(&format!(".vizier/tmp-worktrees/{}/edit.txt", left[0])))
        .unwrap();

    let (code, text, m) = run(&repo, "draft", &[]);
    assert_eq!(code, 0, "{text}");
    let prepare = node(&m, "prepare");
    let note = prepare["metadata"]["worktree_made_way"].as_str().unwrap();
    assert!(note.contains(&old), "{note}");
    // The old worktree is gone, the new run cleaned up its own: nothing is left.
    assert_eq!(left_worktrees(&repo), Vec::<String>::new());
    assert_eq!(repo.git(&["worktree", "list"]).lines().count(), 1);
}

#[test]
fn a_dirty_worktree_is_never_taken_and_the_error_names_its_run_and_the_clean_command() {
    let repo = repo();
    let (code, _, failed) = run(&repo, "draft", &["fail=yes"]);
    assert_eq!(code, 1);
    let old = run_id(&failed);
    let left = left_worktrees(&repo);
    let edit = repo.join(&format!(".vizier/tmp-worktrees/{}/edit.txt", left[0]));
    assert!(edit.is_file());

    let (code, _, m) = run(&repo, "draft", &[]);
    assert_eq!(code, 1);
    let reason = node(&m, "prepare")["reason"].as_str().unwrap().to_owned();
    assert!(
        reason.contains(&format!("the finished run `{old}`")),
        "{reason}"
    );
    assert!(reason.contains("uncommitted changes"), "{reason}");
    assert!(
        reason.contains(&format!("`vizier jobs clean {old}`")),
        "{reason}"
    );
    assert!(edit.is_file(), "the person's file must survive");

    // `jobs clean` refuses too while the worktree holds changes, and removes nothing.
    repo.vizier()
        .args(["jobs", "clean", &old])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("has uncommitted changes"));
    assert!(edit.is_file());
    assert!(
        repo.join(&format!(".vizier/jobs/runs/{old}.json"))
            .is_file()
    );

    std::fs::remove_file(&edit).unwrap();
    repo.vizier()
        .args(["jobs", "clean", &old])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(format!(
            "removed worktree `.vizier/tmp-worktrees/{}`",
            left[0]
        )))
        .stdout(predicate::str::contains(
            "kept branch draft/demo (kept; --delete-branches deletes it)",
        ));
    assert!(!repo.join(&format!(".vizier/jobs/runs/{old}.json")).exists());
    assert!(!repo.join(&format!(".vizier/jobs/{old}-prepare")).exists());
    assert!(
        repo.git(&["branch", "--list", "draft/demo"])
            .contains("draft/demo")
    );
}

#[test]
fn another_templates_worktree_is_not_taken() {
    let repo = repo();
    let (code, _, failed) = run(&repo, "other", &["fail=yes"]);
    assert_eq!(code, 1);
    let old = run_id(&failed);
    let left = left_worktrees(&repo);
    std::fs::remove_file(repo.join(&format!(".vizier/tmp-worktrees/{}/edit.txt", left[0])))
        .unwrap();
    let (code, _, m) = run(&repo, "draft", &[]);
    assert_eq!(code, 1);
    let reason = node(&m, "prepare")["reason"].as_str().unwrap().to_owned();
    assert!(reason.contains("of another template"), "{reason}");
    assert!(
        reason.contains(&format!("`vizier jobs clean {old}`")),
        "{reason}"
    );
    assert_eq!(left_worktrees(&repo).len(), 1);
}

#[test]
fn jobs_clean_touches_one_run_and_deletes_only_merged_branches_it_created() {
    let repo = repo();
    let (_, _, a) = run(&repo, "draft", &["fail=yes", "slug=a"]);
    let (_, _, b) = run(&repo, "draft", &["fail=yes", "slug=b"]);
    let (a, b) = (run_id(&a), run_id(&b));
    for w in left_worktrees(&repo) {
        std::fs::remove_file(repo.join(&format!(".vizier/tmp-worktrees/{w}/edit.txt"))).unwrap();
    }
    // `draft/b` gets a commit that is on no other branch.
    let b_tree = left_worktrees(&repo)
        .into_iter()
        .find(|w| w.contains(&b))
        .unwrap();
    let mut git = std::process::Command::new("git");
    git.args(["commit", "-q", "--allow-empty", "-m", "unmerged work"])
        .current_dir(repo.join(&format!(".vizier/tmp-worktrees/{b_tree}")));
    isolate(&mut git, repo.home.path());
    assert!(git.status().unwrap().success());

    // Each run left a merge sentinel; cleaning one run clears its own only.
    for (slug, run) in [("a", &a), ("b", &b)] {
        repo.write(
            &format!(".vizier/tmp/merge-conflicts/{slug}.json"),
            &format!(
                "{{\"version\":1,\"run_id\":\"{run}\",\"job_id\":\"{run}-edit\",\"slug\":\"{slug}\",\"branch\":\"draft/{slug}\"}}"
            ),
        );
    }
    repo.vizier()
        .args(["jobs", "clean", &a, "--delete-branches"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("deleted branch `draft/a`"))
        .stdout(predicate::str::contains(
            "cleared merge sentinel `.vizier/tmp/merge-conflicts/a.json`",
        ));
    assert!(!repo.join(".vizier/tmp/merge-conflicts/a.json").exists());
    assert!(repo.join(".vizier/tmp/merge-conflicts/b.json").exists());
    assert!(repo.git(&["branch", "--list", "draft/a"]).is_empty());
    // Run b is untouched.
    assert!(repo.join(&format!(".vizier/jobs/runs/{b}.json")).is_file());
    assert_eq!(left_worktrees(&repo), std::slice::from_ref(&b_tree));

    repo.vizier()
        .args(["jobs", "clean", &b, "--delete-branches"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("kept branch draft/b (kept:"));
    assert!(
        repo.git(&["branch", "--list", "draft/b"])
            .contains("draft/b")
    );
    assert_eq!(left_worktrees(&repo), Vec::<String>::new());

    repo.vizier()
        .args(["jobs", "clean", "run-0000000000000000"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no run `run-0000000000000000`"));
}

#[test]
fn jobs_clean_refuses_a_run_that_has_not_finished() {
    let repo = repo_with(
        "gated",
        "id = \"t\"\nversion = \"v1\"\n[[nodes]]\nid = \"ok\"\nkind = \"gate\"\nuses = \"control.gate.approval\"\ngates = [{ kind = \"approval\" }]\n",
    );
    repo.vizier()
        .args(["run", "gated", "--detach"])
        .assert()
        .code(0);
    let m = manifests(&repo).pop().unwrap();
    let id = run_id(&m);
    repo.vizier()
        .args(["jobs", "clean", &id])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("has not finished"));
    assert!(repo.join(&format!(".vizier/jobs/runs/{id}.json")).is_file());
}
