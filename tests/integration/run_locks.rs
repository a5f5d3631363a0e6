//! Inferred branch locks, held for the whole run: two merges onto one target take turns.

use serde_json::Value;

use crate::support::*;

const MERGE: &str = include_str!("../../.vizier/workflow/merge.toml");

/// Ticks (`jobs list` does) until `done` says yes.
fn wait_for(repo: &Repo, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        repo.vizier().args(["jobs", "list"]).assert().success();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn branch_with(repo: &Repo, branch: &str, file: &str) {
    repo.git(&["checkout", "-q", "-b", branch]);
    repo.write(file, "work\n");
    repo.commit_all(&format!("work on {branch}"));
    repo.git(&["checkout", "-q", "main"]);
}

#[test]
fn two_concurrent_merges_onto_main_both_succeed_in_turn() {
    let repo = Repo::new();
    repo.write(
        ".gitignore",
        ".vizier/jobs/\n.vizier/tmp/\n.vizier/tmp-worktrees/\n",
    )
    .write("README.md", "# demo\n")
    .write(".vizier/workflow/merge.toml", MERGE);
    repo.commit_all("init");
    branch_with(&repo, "draft/a", "a.txt");
    branch_with(&repo, "draft/b", "b.txt");
    let gate = tempfile::tempdir().unwrap();
    let go = gate.path().join("go");
    // The first merge's CI waits until the test lets it go; the second's passes at once.
    let slow_ci = format!("while [ ! -e '{}' ]; do sleep 0.05; done", go.display());

    let first = detached_run(
        &repo,
        &[
            "merge",
            "--set",
            "slug=a",
            "--set",
            &format!("ci_script={slow_ci}"),
        ],
    );
    let first_integrate = format!("{first}-integrate");
    wait_for(&repo, "the first merge to start", || {
        run_manifest(&repo, &first)["nodes"][0]["status"] == "running"
    });
    let second = detached_run(
        &repo,
        &["merge", "--set", "slug=b", "--set", "ci_script=true"],
    );
    wait_for(&repo, "the second merge to wait on the lock", || {
        run_manifest(&repo, &second)["nodes"][0]["status"] == "waiting_on_locks"
    });
    let m = run_manifest(&repo, &second);
    let detail = m["nodes"][0]["wait_reason"]["detail"].as_str().unwrap();
    assert_eq!(
        detail,
        format!("`branch:main` is held by {first_integrate}")
    );
    // Still waiting while the first run's CI runs.
    std::thread::sleep(std::time::Duration::from_millis(300));
    repo.vizier().args(["jobs", "list"]).assert().success();
    assert_eq!(
        run_manifest(&repo, &second)["nodes"][0]["status"],
        "waiting_on_locks"
    );

    std::fs::write(&go, "").unwrap();
    wait_for(&repo, "both runs to end", || {
        run_manifest(&repo, &first)["outcome"].is_string()
            && run_manifest(&repo, &second)["outcome"].is_string()
    });
    assert_eq!(run_manifest(&repo, &first)["outcome"], "succeeded");
    assert_eq!(
        run_manifest(&repo, &second)["outcome"],
        "succeeded",
        "{}",
        run_manifest(&repo, &second)
    );
    // The second merged on top of the first: main holds both, b's commit after a's.
    let files = repo.git(&["ls-tree", "--name-only", "main"]);
    assert!(
        files.contains("a.txt") && files.contains("b.txt"),
        "{files}"
    );
    let log = repo.git(&["log", "--format=%s", "-3", "main"]);
    let subjects: Vec<&str> = log.lines().collect();
    assert!(
        subjects[0].contains('b') && subjects[1].contains('a'),
        "{log}"
    );
}

#[test]
fn dry_run_and_jobs_show_list_the_effective_locks() {
    let repo = Repo::new();
    repo.write(".gitignore", ".vizier/jobs/\n")
        .write(".vizier/workflow/merge.toml", MERGE)
        .write(
            ".vizier/workflow/optout.toml",
            r#"id = "template.optout"
version = "v1"

[[nodes]]
id = "integrate"
uses = "cap.env.builtin.git.integrate_plan_branch"
args = { branch = "draft/x", target_branch = "main" }
locks = []
"#,
        );
    repo.commit_all("init");
    let out = repo
        .vizier()
        .args(["run", "merge", "--dry-run"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "git.integrate_plan_branch  locks branch:draft/plan (exclusive, run), branch:main (exclusive, run)"
        ),
        "{text}"
    );
    let out = repo
        .vizier()
        .args(["run", "optout", "--dry-run", "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["jobs"][0]["locks"], serde_json::json!([]));

    let out = repo
        .vizier()
        .args(["run", "merge", "--detach", "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let run_id = v["run_id"].as_str().unwrap();
    repo.vizier()
        .args(["jobs", "show", &format!("{run_id}-integrate")])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "locks: branch:draft/plan (exclusive, run), branch:main (exclusive, run)",
        ));
}
