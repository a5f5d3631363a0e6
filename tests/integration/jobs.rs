//! `vizier jobs …`: retry, approval, cancel, history tolerance, views.

use predicates::prelude::*;
use serde_json::Value;

use crate::support::*;

const RETRYABLE: &str = r#"id = "t"
version = "v1"

[[nodes]]
id = "up"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "echo up >> log.txt" }

[[nodes]]
id = "flaky"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "echo flaky >> log.txt; test -f fixed" }
after = [{ node_id = "up" }]

[[nodes]]
id = "down"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "echo down >> log.txt" }
after = [{ node_id = "flaky" }]

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "down" }]
"#;

#[test]
fn retry_reruns_the_failed_node_and_its_downstream_but_not_its_predecessors() {
    let repo = repo_with("ci", RETRYABLE);
    repo.vizier().args(["run", "ci"]).assert().code(1);
    assert_eq!(repo.read("log.txt"), "up\nflaky\n");
    let m = &manifests(&repo)[0];
    assert_eq!(node(m, "down")["status"], "blocked_by_dependency");
    let flaky = node(m, "flaky")["job_id"].as_str().unwrap().to_owned();

    repo.write("fixed", "");
    repo.vizier()
        .args(["jobs", "retry", &flaky])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("rewound"));
    wait_until("the retried run to finish", || {
        manifests(&repo)[0]["outcome"] == "succeeded"
    });
    assert_eq!(repo.read("log.txt"), "up\nflaky\nflaky\ndown\n");
    let m = &manifests(&repo)[0];
    assert_eq!(node(m, "flaky")["attempts"], 2);
    assert_eq!(node(m, "up")["attempts"], 1);
    assert_eq!(node(m, "done")["status"], "succeeded");
    // The retried node's log starts over.
    let log = repo.read(&format!(".vizier/jobs/{flaky}/stderr.log"));
    assert!(!log.contains("exited with code"), "{log}");
}

pub const APPROVAL: &str = r#"id = "t"
version = "v1"

[[nodes]]
id = "build"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "true" }

[[nodes]]
id = "ok"
kind = "gate"
uses = "control.gate.approval"
gates = [{ kind = "approval" }]
after = [{ node_id = "build" }]

[[nodes]]
id = "ship"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "echo shipped > shipped.txt" }
after = [{ node_id = "ok" }]
"#;

#[test]
fn an_approval_gate_waits_until_approved() {
    let repo = repo_with("ship", APPROVAL);
    repo.vizier()
        .args(["run", "ship", "--detach"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("started run"));
    wait_until("the gate to wait on approval", || {
        manifests(&repo)
            .first()
            .is_some_and(|m| node(m, "ok")["status"] == "waiting_on_approval")
    });
    let m = &manifests(&repo)[0];
    let ok = node(m, "ok")["job_id"].as_str().unwrap().to_owned();
    assert_eq!(node(m, "ok")["wait_reason"]["kind"], "approval");
    assert!(!repo.join("shipped.txt").exists());
    repo.vizier()
        .args(["jobs", "list", "--status", "waiting_on_approval"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(&ok));

    repo.vizier()
        .args(["jobs", "approve", &ok])
        .assert()
        .code(0);
    wait_until("the run to finish", || {
        manifests(&repo)[0]["outcome"] == "succeeded"
    });
    assert!(repo.join("shipped.txt").exists());
}

#[test]
fn a_rejected_approval_blocks_the_run_with_the_reason() {
    let repo = repo_with("ship", APPROVAL);
    repo.vizier()
        .args(["run", "ship", "--detach"])
        .assert()
        .code(0);
    wait_until("the gate to wait", || {
        manifests(&repo)
            .first()
            .is_some_and(|m| node(m, "ok")["status"] == "waiting_on_approval")
    });
    let ok = node(&manifests(&repo)[0], "ok")["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    repo.vizier()
        .args(["jobs", "reject", &ok, "--reason", "not today"])
        .assert()
        .code(0);
    wait_until("the run to end", || {
        manifests(&repo)[0]["outcome"] == "failed"
    });
    let m = &manifests(&repo)[0];
    assert_eq!(node(m, "ok")["status"], "blocked_by_approval");
    assert!(
        node(m, "ok")["reason"]
            .as_str()
            .unwrap()
            .contains("not today")
    );
    assert_eq!(node(m, "ship")["status"], "blocked_by_dependency");
}

#[test]
fn cancel_stops_a_running_jobs_process_group() {
    let repo = repo_with(
        "slow",
        "id = \"t\"\nversion = \"v1\"\n[[nodes]]\nid = \"slow\"\nkind = \"shell\"\nuses = \"cap.env.shell.command.run\"\nargs = { command = \"sleep 30; echo late > late.txt\" }\n",
    );
    repo.vizier()
        .args(["run", "slow", "--detach"])
        .assert()
        .code(0);
    wait_until("the job to run", || {
        manifests(&repo)
            .first()
            .is_some_and(|m| node(m, "slow")["status"] == "running")
    });
    let m = &manifests(&repo)[0];
    let job = node(m, "slow")["job_id"].as_str().unwrap().to_owned();
    let pid = node(m, "slow")["process"]["pid"].as_u64().unwrap();
    repo.vizier()
        .args(["jobs", "cancel", &job])
        .assert()
        .code(0);
    let m = &manifests(&repo)[0];
    assert_eq!(node(m, "slow")["status"], "cancelled");
    assert_eq!(m["outcome"], "failed");
    wait_until("the process group to be gone", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z"))
    });
    assert!(!repo.join("late.txt").exists());
}

#[test]
fn legacy_and_corrupt_records_list_and_show_or_are_named_and_skipped() {
    let repo = repo_with("ci", RETRYABLE);
    repo.write("fixed", "");
    repo.vizier().args(["run", "ci"]).assert().code(0);
    // A record from an older version: legacy capability id, no executor fields, extra fields.
    repo.write(
        ".vizier/jobs/job-legacy-1/job.json",
        r#"{"job_id":"job-legacy-1","status":"succeeded","command":["vizier","plan"],"finished_at":"2026-01-02T03:04:05Z",
           "metadata":{"workflow_capability_id":"vizier.plan.persist","workflow_node_id":"persist","workflow_run_id":"old-run"},
           "shiny_new_field":{"x":1}}"#,
    );
    repo.write(
        ".vizier/jobs/job-shell-2/job.json",
        r#"{"job_id":"job-shell-2","status":"failed","metadata":{"workflow_executor_class":"environment_shell","workflow_executor_operation":"command.run"}}"#,
    );
    repo.write(".vizier/jobs/job-broken-3/job.json", "{ not json");
    repo.vizier()
        .args(["jobs", "list"])
        .assert()
        .code(0)
        .stdout(
            predicate::str::contains("job-legacy-1")
                .and(predicate::str::contains("vizier.plan.persist (legacy)")),
        )
        .stdout(predicate::str::contains("job-shell-2"))
        .stdout(predicate::str::contains("-flaky"))
        .stderr(predicate::str::contains("job-broken-3/job.json"));
    repo.vizier()
        .args(["jobs", "show", "job-legacy-1"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("workflow_capability_id (legacy):"))
        .stdout(predicate::str::contains("vizier.plan.persist"))
        .stdout(predicate::str::contains("shiny_new_field:"))
        .stdout(predicate::str::contains("workflow_executor_class").not());
    repo.vizier()
        .args(["jobs", "show", "job-shell-2"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("environment.shell"));
    repo.vizier()
        .args(["jobs", "show", "job-broken-3"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("job-broken-3/job.json"));
    // New records show their identity rows.
    let m = &manifests(&repo)[0];
    let flaky = node(m, "flaky")["job_id"].as_str().unwrap().to_owned();
    repo.vizier()
        .args(["jobs", "show", &flaky])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("workflow_executor_class:"))
        .stdout(predicate::str::contains("environment.shell"))
        .stdout(predicate::str::contains("workflow_executor_operation:"));
    let done = node(m, "done")["job_id"].as_str().unwrap().to_owned();
    repo.vizier()
        .args(["jobs", "show", &done])
        .assert()
        .stdout(predicate::str::contains("workflow_control_policy:"))
        .stdout(predicate::str::contains("workflow_executor_class").not());
}

#[test]
fn schedule_views_and_a_closed_pipe() {
    let repo = repo_with("ci", RETRYABLE);
    repo.write("fixed", "");
    repo.vizier().args(["run", "ci"]).assert().code(0);
    let out = repo
        .vizier()
        .args(["jobs", "schedule", "--format", "mermaid"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("flowchart TD"));
    assert!(text.contains("-->"));
    assert!(text.contains(":::succeeded"));
    let out = repo
        .vizier()
        .args(["jobs", "schedule", "--format", "json"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["runs"][0]["nodes"].as_array().unwrap().len(), 4);
    repo.vizier()
        .args(["jobs", "list", "--format", "yaml"])
        .assert()
        .code(2);
    // `vizier jobs list | head -1` must end quietly when head closes the pipe.
    let script = format!("{BIN} jobs list | head -c 10 > /dev/null; echo \"${{PIPESTATUS[0]}}\"");
    let mut cmd = std::process::Command::new("bash");
    cmd.args(["-c", &script]).current_dir(repo.path());
    isolate(&mut cmd, repo.home.path());
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
}

#[test]
fn tail_prints_a_jobs_logs_and_gc_keeps_the_newest_runs() {
    let repo = repo_with(
        "echo",
        "id = \"t\"\nversion = \"v1\"\n[[nodes]]\nid = \"say\"\nkind = \"shell\"\nuses = \"cap.env.shell.command.run\"\nargs = { command = \"echo out-line; echo err-line >&2\" }\n",
    );
    for _ in 0..3 {
        repo.vizier().args(["run", "echo"]).assert().code(0);
    }
    let all = manifests(&repo);
    assert_eq!(all.len(), 3);
    let job = node(&all[2], "say")["job_id"].as_str().unwrap().to_owned();
    repo.vizier()
        .args(["jobs", "tail", &job])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("out-line").and(predicate::str::contains("err-line")));
    repo.vizier()
        .args(["jobs", "tail", &job, "--follow"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("out-line"));
    repo.vizier()
        .args(["jobs", "gc", "--keep", "1"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "removed 2 finished run(s); kept 1",
        ));
    let left = manifests(&repo);
    assert_eq!(left.len(), 1);
    assert_eq!(
        left[0]["run_id"], all[2]["run_id"],
        "the newest run is kept"
    );
    assert!(repo.join(&format!(".vizier/jobs/{job}/job.json")).exists());
    let gone = node(&all[0], "say")["job_id"].as_str().unwrap().to_owned();
    assert!(!repo.join(&format!(".vizier/jobs/{gone}")).exists());
}
