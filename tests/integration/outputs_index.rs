//! The run's outputs index (`.vizier/jobs/artifacts/outputs/<run_id>/`): a job's start reads only
//! the `outputs.json` of upstream jobs the index names, so every way outputs change must keep it
//! right: a retry that publishes other values or none, a run without an index, `jobs gc` and
//! `jobs clean`. (Outputs crossing runners in a fan-out are in `ci_fanout.rs`.)

use std::path::PathBuf;

use serde_json::Value;

use crate::support::*;

/// `first` publishes `v` (from `value.txt`, or nothing when `none` exists); `last`, two nodes
/// further down, appends what it saw to `seen.txt` and fails until `go` exists.
const CHAIN: &str = r#"id = "t"
version = "v1"

[[nodes]]
id = "first"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "test -f none || echo \"v=$(cat value.txt)\" >> \"$VIZIER_OUTPUT\"" }

[[nodes]]
id = "middle"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "true" }
after = [{ node_id = "first" }]

[[nodes]]
id = "last"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "echo \"saw [$VIZIER_OUTPUT_FIRST_V]\" >> seen.txt; test -f go" }
after = [{ node_id = "middle" }]
"#;

fn chain_repo() -> Repo {
    let repo = repo_with("chain", CHAIN);
    repo.write("value.txt", "1\n");
    repo
}

fn job(m: &Value, id: &str) -> String {
    node(m, id)["job_id"].as_str().unwrap().to_owned()
}

fn index_dir(repo: &Repo, m: &Value) -> PathBuf {
    repo.join(&format!(
        ".vizier/jobs/artifacts/outputs/{}",
        m["run_id"].as_str().unwrap()
    ))
}

/// The names in the run's index, sorted.
fn indexed(repo: &Repo, m: &Value) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(index_dir(repo, m))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn retry_and_wait(repo: &Repo, job_id: &str, outcome: &str) {
    let before = manifests(repo)[0]["nodes"].clone();
    repo.vizier()
        .args(["jobs", "retry", job_id])
        .assert()
        .code(0);
    wait_until("the retried run to end", || {
        let m = &manifests(repo)[0];
        m["nodes"] != before && m["outcome"] == outcome
    });
}

#[test]
fn a_retried_upstream_that_publishes_other_values_or_none_reaches_its_downstream() {
    let repo = chain_repo();
    repo.vizier().args(["run", "chain"]).assert().code(1);
    assert_eq!(repo.read("seen.txt"), "saw [1]\n");
    let m = manifests(&repo)[0].clone();
    // Only the job that published is in the index.
    assert_eq!(indexed(&repo, &m), [job(&m, "first")]);

    // A retry publishes another value: the downstream sees the new one.
    repo.write("value.txt", "2\n");
    repo.write("go", "");
    retry_and_wait(&repo, &job(&m, "first"), "succeeded");
    assert_eq!(repo.read("seen.txt"), "saw [1]\nsaw [2]\n");

    // A retry that publishes nothing: the downstream sees no value, not the stale one.
    repo.write("none", "");
    retry_and_wait(&repo, &job(&m, "first"), "succeeded");
    assert_eq!(repo.read("seen.txt"), "saw [1]\nsaw [2]\nsaw []\n");
    let first = job(&m, "first");
    assert!(
        !repo
            .join(&format!(".vizier/jobs/{first}/outputs.json"))
            .exists()
    );
    assert!(indexed(&repo, &m).is_empty(), "{:?}", indexed(&repo, &m));
}

#[test]
fn a_run_without_an_outputs_index_still_passes_outputs_down() {
    let repo = chain_repo();
    repo.vizier().args(["run", "chain"]).assert().code(1);
    let m = manifests(&repo)[0].clone();
    // As a run materialized by a vizier without the index: every upstream folder is looked into.
    std::fs::remove_dir_all(index_dir(&repo, &m)).unwrap();
    repo.write("go", "");
    retry_and_wait(&repo, &job(&m, "last"), "succeeded");
    assert_eq!(repo.read("seen.txt"), "saw [1]\nsaw [1]\n");
    assert!(!index_dir(&repo, &m).exists(), "no index is made mid-run");
}

#[test]
fn gc_and_clean_remove_the_index_and_a_later_run_starts_a_fresh_one() {
    let repo = chain_repo();
    repo.write("go", "");
    repo.vizier().args(["run", "chain"]).assert().code(0);
    let old = manifests(&repo)[0].clone();
    assert_eq!(indexed(&repo, &old), [job(&old, "first")]);
    repo.vizier()
        .args(["jobs", "gc", "--keep", "0"])
        .assert()
        .code(0);
    assert!(!index_dir(&repo, &old).exists());

    // The next run (which may get the same run id back) publishes through a fresh index.
    repo.write("value.txt", "3\n");
    repo.vizier().args(["run", "chain"]).assert().code(0);
    let m = manifests(&repo)[0].clone();
    assert_eq!(repo.read("seen.txt"), "saw [1]\nsaw [3]\n");
    assert_eq!(indexed(&repo, &m), [job(&m, "first")]);

    repo.vizier()
        .args(["jobs", "clean", m["run_id"].as_str().unwrap()])
        .assert()
        .code(0);
    assert!(!index_dir(&repo, &m).exists());
}

/// With nothing in the index the job process never reads the plan for outputs; a prompt file
/// still gets the run's params (read from the plan only when asked for).
#[test]
fn a_prompt_file_gets_its_params_in_a_run_where_no_node_published_outputs() {
    let repo = repo_with(
        "notes",
        r#"id = "template.notes"
version = "v1"

[params]
version = "1.2.3"

[[artifact_contracts]]
id = "prompt_text"
version = "v1"

[[nodes]]
id = "first"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "true" }

[[nodes]]
id = "prompt"
uses = "cap.env.builtin.prompt.resolve"
args = { prompt_file = "prompts/notes.md" }
after = [{ node_id = "first" }]
produces = { succeeded = [{ custom = { type_id = "prompt_text", key = "main" } }] }
"#,
    );
    repo.write("prompts/notes.md", "Release ${version}.\n");
    repo.commit_all("prompt");
    let out = repo
        .vizier()
        .args(["run", "notes", "--set", "version=2.0.0", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(indexed(&repo, &m).is_empty());
    let refs = &node(&m, "prompt")["metadata"]["workflow_payload_refs"];
    let payload: Value = serde_json::from_str(&repo.read(refs[0].as_str().unwrap())).unwrap();
    assert_eq!(payload["text"], "Release 2.0.0.\n");
}

/// A job killed between its marker and its `outputs.json` leaves a marker without a file: the
/// index then names a job with no outputs, which only costs a look. Its retry publishes nothing,
/// and the node downstream starts without a value (and without the marker).
#[test]
fn a_kill_between_the_marker_and_the_outputs_leaves_nothing_for_the_downstream() {
    let repo = chain_repo();
    repo.vizier()
        .args(["run", "chain"])
        .env("VIZIER_FAILPOINT", "outputs-after-mark")
        .assert()
        .code(1);
    let m = manifests(&repo)[0].clone();
    let first = job(&m, "first");
    assert_eq!(node(&m, "first")["status"], "failed", "{m:#}");
    assert_eq!(indexed(&repo, &m), std::slice::from_ref(&first));
    assert!(
        !repo
            .join(&format!(".vizier/jobs/{first}/outputs.json"))
            .exists()
    );
    assert!(!repo.join("seen.txt").exists(), "nothing ran after it");

    repo.write("none", "");
    repo.write("go", "");
    retry_and_wait(&repo, &first, "succeeded");
    assert_eq!(repo.read("seen.txt"), "saw []\n");
    assert!(indexed(&repo, &m).is_empty());
}
