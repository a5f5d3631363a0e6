//! The one manifest model: what other versions wrote survives a rewrite, a newer format is named
//! and skipped, and every view (scheduler, `jobs`, mermaid, the CI summary) reads the same nodes.

use predicates::prelude::*;
use serde_json::{Value, json};

use crate::support::*;

const RETRYABLE: &str = r#"id = "t"
version = "v1"

[[nodes]]
id = "up"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "true" }

[[nodes]]
id = "flaky"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "test -f fixed" }
after = [{ node_id = "up" }]
"#;

fn manifest_path(m: &Value) -> String {
    format!(".vizier/jobs/runs/{}.json", m["run_id"].as_str().unwrap())
}

fn rewrite(repo: &Repo, m: &Value, change: impl FnOnce(&mut Value)) {
    let mut m = m.clone();
    change(&mut m);
    repo.write(&manifest_path(&m), &format!("{m}\n"));
}

#[test]
fn unknown_manifest_fields_at_the_top_and_in_a_node_survive_jobs_retry() {
    let repo = repo_with("ci", RETRYABLE);
    repo.vizier().args(["run", "ci"]).assert().code(1);
    let m = manifests(&repo).remove(0);
    let flaky = node(&m, "flaky")["job_id"].as_str().unwrap().to_owned();
    // As a later vizier might have written it: fields this one does not know.
    rewrite(&repo, &m, |m| {
        m["future_top"] = json!({"kept": [1, 2]});
        m["trigger"]["future_trigger"] = json!("kept");
        m["template"]["future_template"] = json!(7);
        for n in m["nodes"].as_array_mut().unwrap() {
            n["future_node"] = json!(n["node_id"]);
        }
    });
    repo.write("fixed", "");
    repo.vizier()
        .args(["jobs", "retry", &flaky])
        .assert()
        .code(0);
    wait_until("the retried run to finish", || {
        manifests(&repo)[0]["outcome"] == "succeeded"
    });
    let m = &manifests(&repo)[0];
    assert_eq!(m["future_top"], json!({"kept": [1, 2]}), "{m}");
    assert_eq!(m["trigger"]["future_trigger"], "kept", "{m}");
    assert_eq!(m["template"]["future_template"], 7, "{m}");
    assert_eq!(node(m, "up")["future_node"], "up", "{m}");
    assert_eq!(node(m, "flaky")["future_node"], "flaky", "{m}");
    assert_eq!(node(m, "flaky")["attempts"], 2);
}

#[test]
fn a_manifest_of_a_newer_version_is_named_and_skipped_not_misread() {
    let repo = repo_with("ok", OK_TEMPLATE);
    repo.vizier().args(["run", "ok"]).assert().code(0);
    let m = manifests(&repo).remove(0);
    let run_id = m["run_id"].as_str().unwrap().to_owned();
    let job = m["nodes"][0]["job_id"].as_str().unwrap().to_owned();
    let path = manifest_path(&m);
    let warning = format!(
        "warning: skipping run manifest {}: written by a newer vizier (version 2; this vizier reads up to version 1)",
        repo.join(&path).display()
    );
    // A newer format whose nodes do not even read as this version's.
    rewrite(&repo, &m, |m| {
        m["version"] = json!(2);
        m["nodes"] = json!({"by_id": m["nodes"].clone()});
    });
    let newer = repo.read(&path);
    repo.vizier()
        .args(["jobs", "list"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains(&warning));
    // A change to that run is refused with the file and both versions, exit 3.
    repo.vizier()
        .args(["jobs", "retry", &job])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(format!(
            "`{}` was written by a newer vizier: its version is 2, this vizier reads up to version 1",
            repo.join(&path).display()
        )));
    // A tick skips it (named) and leaves the file as it was.
    std::fs::create_dir_all(repo.join(".vizier/jobs/active")).unwrap();
    repo.write(&format!(".vizier/jobs/active/{run_id}"), "");
    repo.vizier()
        .args(["jobs", "schedule"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains(format!(
            "skipping run {run_id}: `{}` was written by a newer vizier",
            repo.join(&path).display()
        )));
    assert_eq!(repo.read(&path), newer, "never rewritten");

    // The same version number with a readable body was misread as version 1 before.
    rewrite(&repo, &m, |m| m["version"] = json!(2));
    repo.vizier()
        .args(["jobs", "list"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains(&warning));
}

#[test]
fn mermaid_and_the_list_draw_every_node_of_a_manifest_with_null_fields() {
    let repo = repo_with("ci", RETRYABLE);
    repo.write("fixed", "");
    repo.vizier().args(["run", "ci"]).assert().code(0);
    let m = manifests(&repo).remove(0);
    let run_id = m["run_id"].as_str().unwrap().to_owned();
    // `null` where a value has a default: the summary's old reader took it, the scheduler's
    // refused the whole run, so `jobs schedule --format mermaid` drew none of its nodes.
    rewrite(&repo, &m, |m| {
        let n = &mut m["nodes"][1];
        n["stdout"] = Value::Null;
        n["stderr"] = Value::Null;
        n["metadata"] = Value::Null;
        n["waited_on"] = Value::Null;
        m["params"] = Value::Null;
    });
    let out = repo
        .vizier()
        .args(["jobs", "schedule", "--run", &run_id, "--format", "mermaid"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("skipping").not())
        .get_output()
        .clone();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.starts_with(&format!("%% {run_id}\nflowchart TD\n")),
        "{text}"
    );
    assert!(
        text.contains("  n0[\"up<br/>succeeded\"]:::succeeded\n"),
        "{text}"
    );
    assert!(
        text.contains("  n1[\"flaky<br/>succeeded\"]:::succeeded\n"),
        "{text}"
    );
    assert!(text.contains("  n0 --> n1\n"), "{text}");
    repo.vizier()
        .args(["jobs", "list", "--run", &run_id])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            node(&m, "flaky")["job_id"].as_str().unwrap(),
        ));
}

/// A store as the version with string-typed lock modes, failure modes and outcomes left it
/// (`tests/records/v1/`): it lists, shows, and a retry runs its job again from the old plan.
#[test]
fn a_store_written_before_the_enums_lists_shows_and_retries() {
    const RUN: &str = "run-68596fc8aa2771a3";
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/records/v1");
    let fixture = |name: &str| std::fs::read_to_string(fixtures.join(name)).unwrap();
    let repo = repo_with("records", &fixture("records.toml"));
    repo.write(
        &format!(".vizier/jobs/plans/{RUN}.json"),
        &fixture("plan.json"),
    );
    repo.write(
        &format!(".vizier/jobs/runs/{RUN}.json"),
        &fixture("manifest.json"),
    );
    for node in ["work", "stop", "bad"] {
        let dir = format!(".vizier/jobs/{RUN}-{node}");
        repo.write(
            &format!("{dir}/job.json"),
            &fixture(&format!("job-{node}.json")),
        );
        repo.write(
            &format!("{dir}/outcome.json"),
            &fixture(&format!("outcome-{node}.json")),
        );
    }
    repo.vizier()
        .args(["jobs", "list", "--run", RUN])
        .assert()
        .code(0)
        .stderr("")
        .stdout(
            predicate::str::contains(format!("{RUN}-work")).and(predicate::str::contains("failed")),
        );
    repo.vizier()
        .args(["jobs", "show", &format!("{RUN}-work")])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "locks: repo (shared), deploy (exclusive, run)",
        ));
    let out = repo
        .vizier()
        .args(["jobs", "schedule", "--run", RUN, "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["runs"][0]["outcome"], "failed", "{doc}");
    assert_eq!(doc["runs"][0]["nodes"][1]["attempts"], 2, "{doc}");

    repo.vizier()
        .args(["jobs", "retry", &format!("{RUN}-bad")])
        .assert()
        .code(0);
    wait_until("the retried job to end again", || {
        let m = &manifests(&repo)[0];
        node(m, "bad")["attempts"] == 2 && m["outcome"] == "failed"
    });
    let m = &manifests(&repo)[0];
    assert_eq!(node(m, "bad")["outcome"], "failed");
    assert_eq!(node(m, "bad")["exit_code"], 3);
    assert_eq!(node(m, "stop")["status"], "succeeded", "the rest is kept");
    let plan = repo.read(&format!(".vizier/jobs/plans/{RUN}.json"));
    assert_eq!(plan, fixture("plan.json"), "the plan is never rewritten");
}
