//! A foreground driver ticks after each of its children ends and looks only at what that changed
//! (`schedule::wake`). These runs are unblocked by something outside the run — a person's
//! approval, retry or cancel, a lock another run releases, the run `--after` names ending — and
//! must still move on. `VIZIER_FAILPOINT=driver-no-fallback-pass` turns off the driver's
//! safety-net full passes (on a quiet poll, and once a second), so a change the driver fails to
//! notice hangs the run here instead of being picked up late.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::jobs::APPROVAL;
use crate::support::*;

/// `vizier run <args>` in the foreground, without the fallback passes.
fn foreground(repo: &Repo, args: &[&str]) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(repo.path())
        .arg("run")
        .args(args)
        .env("VIZIER_FAILPOINT", "driver-no-fallback-pass")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    isolate(&mut cmd, repo.home.path());
    cmd.spawn().unwrap()
}

/// The exit code of `child`, which must end within a minute.
fn exit_of(mut child: Child, what: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the foreground run never noticed {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The manifest of the run whose template has `id`.
fn run_of(repo: &Repo, template: &str) -> Option<Value> {
    manifests(repo)
        .into_iter()
        .find(|m| m["template"]["id"] == template)
}

fn job_of(m: &Value, node_id: &str) -> String {
    node(m, node_id)["job_id"].as_str().unwrap().to_owned()
}

#[test]
fn a_foreground_run_notices_an_approval() {
    let repo = repo_with("ship", APPROVAL);
    let child = foreground(&repo, &["ship"]);
    wait_until("the gate to wait", || {
        run_of(&repo, "t").is_some_and(|m| node(&m, "ok")["status"] == "waiting_on_approval")
    });
    let ok = job_of(&run_of(&repo, "t").unwrap(), "ok");
    repo.vizier()
        .args(["jobs", "approve", &ok])
        .assert()
        .code(0);
    assert_eq!(exit_of(child, "the approval"), 0);
    assert!(repo.join("shipped.txt").exists());
}

#[test]
fn a_foreground_run_notices_a_cancel() {
    let repo = repo_with("ship", APPROVAL);
    let child = foreground(&repo, &["ship"]);
    wait_until("the gate to wait", || {
        run_of(&repo, "t").is_some_and(|m| node(&m, "ok")["status"] == "waiting_on_approval")
    });
    let ok = job_of(&run_of(&repo, "t").unwrap(), "ok");
    repo.vizier().args(["jobs", "cancel", &ok]).assert().code(0);
    assert_eq!(exit_of(child, "the cancel"), 1);
    let m = run_of(&repo, "t").unwrap();
    assert_eq!(node(&m, "ship")["status"], "blocked_by_dependency");
}

/// `flaky` fails while `hold` keeps the run going; the retry runs it and its downstream again.
const HELD_RETRY: &str = r#"id = "t"
version = "v1"

[[nodes]]
id = "flaky"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "test -f fixed" }

[[nodes]]
id = "down"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "echo down > down.txt" }
after = [{ node_id = "flaky" }]

[[nodes]]
id = "hold"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "while [ ! -f release ]; do sleep 0.05; done" }
"#;

#[test]
fn a_foreground_run_notices_a_retry() {
    let repo = repo_with("held", HELD_RETRY);
    let child = foreground(&repo, &["held"]);
    wait_until("flaky to fail", || {
        run_of(&repo, "t").is_some_and(|m| node(&m, "flaky")["status"] == "failed")
    });
    let flaky = job_of(&run_of(&repo, "t").unwrap(), "flaky");
    repo.write("fixed", "");
    repo.vizier()
        .args(["jobs", "retry", &flaky])
        .assert()
        .code(0);
    wait_until("the retried downstream to run", || {
        repo.join("down.txt").exists()
    });
    repo.write("release", "");
    assert_eq!(exit_of(child, "the retry"), 0);
}

/// One node holding lock `k` until `go` exists.
const HOLDER: &str = r#"id = "holder"
version = "v1"

[[nodes]]
id = "hold"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "while [ ! -f go ]; do sleep 0.05; done" }
locks = [{ key = "k", mode = "exclusive" }]
"#;

const WAITER: &str = r#"id = "waiter"
version = "v1"

[[nodes]]
id = "take"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "echo took > took.txt" }
locks = [{ key = "k", mode = "exclusive" }]
"#;

#[test]
fn a_foreground_run_notices_a_lock_another_run_releases() {
    let repo = repo_with("holder", HOLDER);
    repo.write(".vizier/workflow/waiter.toml", WAITER);
    repo.commit_all("waiter");
    detached_run(&repo, &["holder"]);
    wait_until("the holder to run", || {
        run_of(&repo, "holder").is_some_and(|m| node(&m, "hold")["status"] == "running")
    });
    let child = foreground(&repo, &["waiter"]);
    wait_until("the waiter to wait on the lock", || {
        run_of(&repo, "waiter").is_some_and(|m| node(&m, "take")["status"] == "waiting_on_locks")
    });
    repo.write("go", "");
    assert_eq!(exit_of(child, "the released lock"), 0);
    assert!(repo.join("took.txt").exists());
}

#[test]
fn a_foreground_run_notices_the_run_it_waits_for_ending() {
    let repo = repo_with("holder", HOLDER);
    repo.write(".vizier/workflow/waiter.toml", WAITER);
    repo.commit_all("waiter");
    let first = detached_run(&repo, &["holder"]);
    let child = foreground(&repo, &["waiter", "--after", &first]);
    wait_until("the waiter to wait on the other run", || {
        run_of(&repo, "waiter")
            .is_some_and(|m| node(&m, "take")["wait_reason"]["kind"] == "after_run")
    });
    repo.write("go", "");
    assert_eq!(exit_of(child, "the other run's end"), 0);
    assert!(repo.join("took.txt").exists());
}
