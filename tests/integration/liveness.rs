//! Telling a live job process from a gone one by the lock it holds, not by its pid: what keeps a
//! reused pid (or any other live process named in a record) from keeping a dead job `running`.

use std::process::{Command as StdCommand, Stdio};

use crate::support::*;

const SLOW: &str = r#"id = "slow"
version = "v1"

[[nodes]]
id = "slow"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "sleep 30" }

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "slow" }]
"#;

/// A test-owned process that lives until dropped.
struct Bystander(std::process::Child);

impl Drop for Bystander {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `vizier run slow` in the foreground and waits until its `slow` job runs and has claimed
/// its attempt; returns the driver and the manifest at that moment.
fn run_until_claimed(repo: &Repo) -> (std::process::Child, serde_json::Value) {
    let mut cmd = StdCommand::new(BIN);
    cmd.args(["run", "slow"]).current_dir(repo.path());
    isolate(&mut cmd, repo.home.path());
    let driver = cmd.stdout(Stdio::null()).spawn().unwrap();
    wait_until("the job to claim its attempt", || {
        manifests(repo).first().is_some_and(|m| {
            let slow = node(m, "slow");
            slow["status"] == "running"
                && repo
                    .join(&format!(
                        ".vizier/jobs/{}/claim-1",
                        slow["job_id"].as_str().unwrap()
                    ))
                    .exists()
        })
    });
    (driver, manifests(repo).remove(0))
}

#[test]
fn a_dead_job_is_seen_gone_even_when_its_records_name_a_live_pid() {
    let repo = repo_with("slow", SLOW);
    let (mut driver, m) = run_until_claimed(&repo);
    let run_id = m["run_id"].as_str().unwrap().to_owned();
    let job_id = node(&m, "slow")["job_id"].as_str().unwrap().to_owned();
    let pid = node(&m, "slow")["process"]["pid"].as_u64().unwrap() as i32;
    // SAFETY: kill(2) on processes this test started.
    unsafe {
        libc::kill(driver.id() as i32, libc::SIGKILL);
        libc::kill(-pid, libc::SIGKILL);
    }
    driver.wait().unwrap();

    // The records now name a process that is alive: as if the job's and the driver's pids had been
    // reused. A pid check (with no start time to tell them apart, as on macOS) would say "running".
    let bystander = Bystander(StdCommand::new("sleep").arg("60").spawn().unwrap());
    let live = serde_json::json!({ "pid": bystander.0.id(), "start_ticks": 0 });
    let claim = repo.join(&format!(".vizier/jobs/{job_id}/claim-1"));
    wait_until("the job's lock to be released", || {
        // The claim stays; only its lock goes with the process.
        std::fs::OpenOptions::new()
            .read(true)
            .open(&claim)
            .is_ok_and(|f| f.try_lock_shared().is_ok())
    });
    std::fs::write(&claim, live.to_string()).unwrap();
    let manifest_path = repo.join(&format!(".vizier/jobs/runs/{run_id}.json"));
    let mut edited = m.clone();
    for n in edited["nodes"].as_array_mut().unwrap() {
        if n["node_id"] == "slow" {
            n["process"] = live.clone();
        }
    }
    edited["driver"] = live.clone();
    std::fs::write(&manifest_path, edited.to_string()).unwrap();

    // Any tick sees through it: the job's claim lock is free, and so is the driver's.
    repo.vizier().args(["jobs", "list"]).assert().code(0);
    let m = manifests(&repo).remove(0);
    let slow = node(&m, "slow");
    assert_eq!(slow["status"], "failed", "{slow}");
    assert!(
        slow["reason"].as_str().unwrap().contains("vanished"),
        "{slow}"
    );
    assert!(m.get("driver").is_none(), "the dead driver is dropped: {m}");
    assert_eq!(m["outcome"], "failed");
    drop(bystander);
}

#[test]
fn a_live_job_holds_its_claim_and_a_foreground_run_its_driver_lock() {
    let repo = repo_with("slow", SLOW);
    let (mut driver, m) = run_until_claimed(&repo);
    let job_id = node(&m, "slow")["job_id"].as_str().unwrap().to_owned();
    let run_id = m["run_id"].as_str().unwrap().to_owned();
    let locked = |rel: &str| {
        let file = std::fs::File::open(repo.join(rel)).unwrap();
        file.try_lock_shared().is_err()
    };
    assert!(locked(&format!(".vizier/jobs/{job_id}/claim-1")));
    assert!(locked(&format!(".vizier/jobs/drivers/{run_id}.lock")));
    // Another process's tick leaves the live job running.
    repo.vizier().args(["jobs", "list"]).assert().code(0);
    assert_eq!(node(&manifests(&repo)[0], "slow")["status"], "running");

    driver.kill().unwrap();
    driver.wait().unwrap();
    assert!(!locked(&format!(".vizier/jobs/drivers/{run_id}.lock")));
    let pid = node(&m, "slow")["process"]["pid"].as_u64().unwrap() as i32;
    // SAFETY: kill(2) on the process group this test's run started.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}
