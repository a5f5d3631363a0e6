//! The job store is untrusted input: hostile ids and shapes, links, FIFOs, crash windows, kills,
//! interrupts and concurrent `gc`. Each test reproduces one way the store used to be trusted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use predicates::prelude::*;
use serde_json::Value;

use crate::support::*;

/// build → an approval gate → ship: a detached run stays active, waiting for approval.
use crate::jobs::APPROVAL as WAITING;

/// Waits until `node_id` runs (its command has written `ran.txt` and its process is recorded);
/// returns the job process's pid.
fn started_pid(repo: &Repo, node_id: &str) -> u32 {
    wait_until("the node to start", || {
        repo.join("ran.txt").exists()
            && manifests(repo)
                .first()
                .is_some_and(|m| node(m, node_id)["process"].is_object())
    });
    node(&manifests(repo)[0], node_id)["process"]["pid"]
        .as_u64()
        .unwrap() as u32
}

/// A folder beside the repository (outside it), with a file that must survive.
fn outside(repo: &Repo) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir_in(repo.path().parent().unwrap()).unwrap();
    std::fs::write(dir.path().join("keep.txt"), "precious").unwrap();
    std::fs::write(dir.path().join("stdout.log"), "outside log").unwrap();
    // From `.vizier/jobs/`, three levels up is the repository's parent folder.
    let rel = format!(
        "../../../{}",
        dir.path().file_name().unwrap().to_string_lossy()
    );
    (dir, rel)
}

fn manifest_path(repo: &Repo) -> PathBuf {
    let m = &manifests(repo)[0];
    repo.join(&format!(
        ".vizier/jobs/runs/{}.json",
        m["run_id"].as_str().unwrap()
    ))
}

fn edit_manifest(repo: &Repo, edit: impl FnOnce(&mut Value)) {
    let path = manifest_path(repo);
    let mut m: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut m);
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
}

fn job_id(repo: &Repo, node_id: &str) -> String {
    node(&manifests(repo)[0], node_id)["job_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn detached_waiting(repo: &Repo) {
    repo.vizier()
        .args(["run", "t", "--detach"])
        .assert()
        .code(0);
    wait_until("the gate to wait on approval", || {
        manifests(repo)
            .first()
            .is_some_and(|m| node(m, "ok")["status"] == "waiting_on_approval")
    });
}

fn untouched(dir: &Path) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["keep.txt", "stdout.log"],
        "something was written outside"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("stdout.log")).unwrap(),
        "outside log"
    );
}

#[test]
fn gc_never_deletes_outside_the_repository_for_a_dotdot_job_id() {
    let repo = repo_with("ci", OK_TEMPLATE);
    repo.vizier().args(["run", "ci"]).assert().code(0);
    let (dir, rel) = outside(&repo);
    edit_manifest(&repo, |m| {
        m["nodes"][0]["job_id"] = Value::String(rel.clone())
    });
    let gc = repo
        .vizier()
        .args(["jobs", "gc", "--keep", "0"])
        .assert()
        .code(0);
    assert!(
        dir.path().exists(),
        "gc removed a folder outside the repository"
    );
    untouched(dir.path());
    let stderr = String::from_utf8_lossy(&gc.get_output().stderr).into_owned();
    assert!(
        stderr.contains("runs/run-") && stderr.contains("not a job id"),
        "{stderr}"
    );

    // A run id with `..` is no path either.
    edit_manifest(&repo, |m| m["run_id"] = Value::String(rel.clone()));
    repo.vizier()
        .args(["jobs", "gc", "--keep", "0"])
        .assert()
        .code(0);
    untouched(dir.path());
}

#[test]
fn ticks_approve_and_retry_never_write_through_a_dotdot_job_id() {
    let repo = repo_with("t", WAITING);
    detached_waiting(&repo);
    let ok = job_id(&repo, "ok");
    let (dir, rel) = outside(&repo);
    edit_manifest(&repo, |m| {
        m["nodes"][2]["job_id"] = Value::String(rel.clone())
    });
    repo.vizier()
        .args(["jobs", "list"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("not a job id"));
    repo.vizier()
        .args(["jobs", "approve", &ok])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("corrupt"));
    let run_id = manifests(&repo)[0]["run_id"].as_str().unwrap().to_owned();
    repo.vizier()
        .args(["jobs", "retry", &run_id])
        .assert()
        .code(3);
    untouched(dir.path());
}

#[test]
fn retry_never_truncates_a_log_outside_the_repository() {
    let repo = repo_with("ci", OK_TEMPLATE);
    repo.vizier().args(["run", "ci"]).assert().code(0);
    let (dir, rel) = outside(&repo);
    // The record names an outside job; the plan agrees (both edited).
    let m = &manifests(&repo)[0];
    let run_id = m["run_id"].as_str().unwrap().to_owned();
    let check = job_id(&repo, "check");
    for file in [
        format!(".vizier/jobs/runs/{run_id}.json"),
        format!(".vizier/jobs/plans/{run_id}.json"),
    ] {
        let text = repo.read(&file).replace(&check, &rel);
        repo.write(&file, &text);
    }
    repo.vizier().args(["jobs", "retry", &rel]).assert().code(2);
    repo.vizier()
        .args(["jobs", "retry", &run_id])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("not a job id"));
    untouched(dir.path());
}

#[test]
fn a_job_folder_linked_outside_the_repository_is_refused_for_writes() {
    let repo = repo_with("t", WAITING);
    detached_waiting(&repo);
    let ok = job_id(&repo, "ok");
    let ship = job_id(&repo, "ship");
    let (dir, _) = outside(&repo);
    let ship_dir = repo.join(&format!(".vizier/jobs/{ship}"));
    std::fs::remove_dir_all(&ship_dir).unwrap();
    std::os::unix::fs::symlink(dir.path(), &ship_dir).unwrap();
    repo.vizier()
        .args(["jobs", "approve", &ok])
        .assert()
        .stderr(predicate::str::contains("symbolic link"));
    repo.vizier()
        .args(["jobs", "list"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("symbolic link"));
    untouched(dir.path());
    assert!(!repo.join("shipped.txt").exists());
}

#[test]
fn a_job_store_linked_outside_the_repository_is_refused() {
    let repo = repo_with("ci", OK_TEMPLATE);
    let (dir, _) = outside(&repo);
    std::fs::create_dir_all(repo.join(".vizier")).unwrap();
    std::os::unix::fs::symlink(dir.path(), repo.join(".vizier/jobs")).unwrap();
    repo.vizier()
        .args(["run", "ci"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("symbolic link"));
    untouched(dir.path());
}

#[test]
fn ids_on_the_command_line_obey_the_grammar() {
    let repo = repo_with("ci", OK_TEMPLATE);
    repo.vizier().args(["run", "ci"]).assert().code(0);
    repo.write(
        ".vizier/secret/job.json",
        r#"{"job_id":"x","status":"succeeded"}"#,
    );
    repo.write(".vizier/secret/stdout.log", "secret\n");
    for cmd in ["show", "tail", "retry", "cancel", "approve", "reject"] {
        repo.vizier()
            .args(["jobs", cmd, "../secret"])
            .assert()
            .code(2)
            .stdout(predicate::str::contains("secret").not())
            .stderr(predicate::str::contains("not a job id"));
    }
    repo.vizier()
        .args(["jobs", "show", "../../.."])
        .assert()
        .code(2);
}

#[test]
fn a_manifest_with_fewer_nodes_than_its_plan_is_corrupt_not_a_panic() {
    let repo = repo_with("t", WAITING);
    detached_waiting(&repo);
    let ok = job_id(&repo, "ok");
    let build = job_id(&repo, "build");
    edit_manifest(&repo, |m| {
        m["nodes"].as_array_mut().unwrap().truncate(1);
    });
    for args in [
        vec!["jobs", "list"],
        vec!["jobs", "schedule"],
        vec!["jobs", "show", &build],
        vec!["jobs", "tail", &build],
    ] {
        repo.vizier()
            .args(&args)
            .assert()
            .code(0)
            .stderr(predicate::str::contains("panicked").not());
    }
    repo.vizier()
        .args(["jobs", "list"])
        .assert()
        .stderr(predicate::str::contains(
            "1 node(s) but the run's plan has 3",
        ));
    for args in [vec!["jobs", "approve", &ok], vec!["jobs", "retry", &build]] {
        repo.vizier()
            .args(&args)
            .assert()
            .code(predicate::in_iter([2, 3]))
            .stderr(predicate::str::contains("panicked").not());
    }
}

const QUICK: &str = r#"id = "q"
version = "v1"

[[nodes]]
id = "go"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "echo went >> went.txt" }
"#;

#[test]
fn one_corrupt_plan_does_not_stop_other_runs_from_being_scheduled() {
    let repo = repo_with("t", WAITING);
    repo.write(".vizier/workflow/q.toml", QUICK);
    repo.commit_all("q");
    detached_waiting(&repo);
    let run_id = manifests(&repo)[0]["run_id"].as_str().unwrap().to_owned();
    repo.write(&format!(".vizier/jobs/plans/{run_id}.json"), "{ broken");
    repo.vizier()
        .args(["run", "q", "--detach"])
        .assert()
        .code(0);
    wait_until("the other run to finish", || {
        repo.join("went.txt").exists()
            && manifests(&repo)
                .iter()
                .any(|m| m["template"]["id"] == "q" && m["outcome"] == "succeeded")
    });
    repo.vizier()
        .args(["jobs", "list"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains(format!("plans/{run_id}.json")));
}

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

#[test]
fn a_fifo_in_place_of_a_record_is_reported_never_waited_on() {
    let repo = repo_with("ci", OK_TEMPLATE);
    repo.vizier().args(["run", "ci"]).assert().code(0);
    let check = job_id(&repo, "check");
    let manifest = manifest_path(&repo);
    // A legacy-looking job folder whose record is a FIFO, and the run's own job record too.
    std::fs::create_dir_all(repo.join(".vizier/jobs/job-fifo")).unwrap();
    mkfifo(&repo.join(".vizier/jobs/job-fifo/job.json"));
    mkfifo(&repo.join(&format!(".vizier/jobs/{check}/job.json")));
    mkfifo(&repo.join(&format!(".vizier/jobs/{check}/stdout.log")));
    repo.vizier()
        .args(["jobs", "list"])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(0)
        .stderr(predicate::str::contains("job-fifo/job.json"));
    repo.vizier()
        .args(["jobs", "show", &check])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("not a regular file"));
    repo.vizier()
        .args(["jobs", "tail", &check])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(0);
    mkfifo(&manifest);
    for args in [["jobs", "list"], ["jobs", "schedule"]] {
        repo.vizier()
            .args(args)
            .timeout(Duration::from_secs(20))
            .assert()
            .code(0)
            .stderr(predicate::str::contains("not a regular file"));
    }
}

#[test]
fn a_kill_while_claiming_never_leaves_an_empty_claim() {
    let repo = repo_with("ci", OK_TEMPLATE);
    // Every job process dies (as by kill -9) just before its claim would appear.
    repo.vizier()
        .args(["run", "ci"])
        .env("VIZIER_FAILPOINT", "claim-before-link")
        .timeout(Duration::from_secs(60))
        .assert()
        .code(1);
    let check = job_id(&repo, "check");
    let claim = repo.join(&format!(".vizier/jobs/{check}/claim-1"));
    if claim.exists() {
        let text = std::fs::read_to_string(&claim).unwrap();
        let parsed: Value = serde_json::from_str(&text).expect("a claim is whole or absent");
        assert!(parsed["pid"].is_u64());
    }
    let m = &manifests(&repo)[0];
    assert_eq!(node(m, "check")["status"], "failed");
    assert!(
        node(m, "check")["reason"]
            .as_str()
            .unwrap()
            .contains("vanished")
    );
}

#[test]
fn a_crash_before_the_manifest_leaves_no_trace_of_the_run() {
    let repo = repo_with("ci", OK_TEMPLATE);
    repo.vizier()
        .args(["run", "ci"])
        .env("VIZIER_FAILPOINT", "materialize-before-manifest")
        .assert()
        .failure();
    // Whatever the crash left is undone by the next tick, and nothing lists it.
    repo.vizier()
        .args(["jobs", "list", "--format", "json"])
        .assert()
        .code(0)
        .stdout(predicate::str::diff(
            "{\n  \"version\": 1,\n  \"jobs\": []\n}\n",
        ))
        .stderr(predicate::str::contains("corrupt").not());
    let jobs = repo.join(".vizier/jobs");
    let left: Vec<String> = std::fs::read_dir(&jobs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("run-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    for sub in ["active", "plans", "runs"] {
        let n = std::fs::read_dir(jobs.join(sub)).map_or(0, |d| d.count());
        assert_eq!(n, 0, "{sub} still holds the crashed run");
    }
    // And the same run can be made afresh.
    repo.vizier().args(["run", "ci"]).assert().code(0);
    assert_eq!(manifests(&repo).len(), 1);
}

/// The files of the only run of the store: its id, manifest, plan, and (job id, record) pairs.
type RunFiles = (String, String, String, Vec<(String, String)>);

fn run_files(repo: &Repo) -> RunFiles {
    let m = &manifests(repo)[0];
    let run_id = m["run_id"].as_str().unwrap().to_owned();
    let jobs = repo.join(".vizier/jobs");
    let manifest = std::fs::read_to_string(jobs.join(format!("runs/{run_id}.json"))).unwrap();
    let plan = std::fs::read_to_string(jobs.join(format!("plans/{run_id}.json"))).unwrap();
    let records = m["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let j = n["job_id"].as_str().unwrap().to_owned();
            let record = std::fs::read_to_string(jobs.join(&j).join("job.json")).unwrap();
            (j, record)
        })
        .collect();
    (run_id, manifest, plan, records)
}

/// Writes `n` copies of a run under new run ids (records, plan, manifest).
fn clone_runs(repo: &Repo, files: &RunFiles, n: usize) {
    let (run_id, manifest, plan, records) = files;
    let jobs = repo.join(".vizier/jobs");
    for k in 0..n {
        let new = format!("run-{:016x}", 0xa000 + k);
        std::fs::write(
            jobs.join(format!("runs/{new}.json")),
            manifest.replace(run_id, &new),
        )
        .unwrap();
        std::fs::write(
            jobs.join(format!("plans/{new}.json")),
            plan.replace(run_id, &new),
        )
        .unwrap();
        for (j, record) in records {
            let dir = jobs.join(j.replace(run_id, &new));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("job.json"), record.replace(run_id, &new)).unwrap();
        }
    }
}

#[test]
fn jobs_list_during_gc_does_not_call_removed_records_corrupt() {
    let repo = repo_with("ci", OK_TEMPLATE);
    repo.vizier().args(["run", "ci"]).assert().code(0);
    let files = run_files(&repo);
    clone_runs(&repo, &files, 20);
    // `jobs list` lists the manifests, then pauses before reading them; `gc` removes them meanwhile.
    let mut list = std::process::Command::new(BIN);
    list.args(["jobs", "list"])
        .current_dir(repo.path())
        .env("VIZIER_FAILPOINT", "read-after-listing")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    isolate(&mut list, repo.home.path());
    let list = list.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(150));
    repo.vizier()
        .args(["jobs", "gc", "--keep", "0"])
        .assert()
        .code(0);
    let listed = list.wait_with_output().unwrap();
    assert!(listed.status.success());
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert!(!stderr.contains("corrupt"), "{stderr}");
}

#[test]
fn gc_never_removes_a_run_whose_driver_still_lives() {
    let repo = repo_with("ci", OK_TEMPLATE);
    repo.vizier().args(["run", "ci"]).assert().code(0);
    // A live driver holds its run's driver lock for as long as it lives; `flock` stands in for it.
    let run_id = manifests(&repo)[0]["run_id"].as_str().unwrap().to_owned();
    let lock = repo.join(&format!(".vizier/jobs/drivers/{run_id}.lock"));
    // `-o`: `sleep` does not inherit the lock, so killing `flock` frees it as a driver's death would.
    let mut driver = std::process::Command::new("flock")
        .arg("-o")
        .arg(&lock)
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    let pid = driver.id();
    std::thread::sleep(Duration::from_millis(200)); // `flock` takes the lock before it runs `sleep`
    edit_manifest(&repo, |m| {
        m["driver"] = serde_json::json!({ "pid": pid, "start_ticks": 0 })
    });
    repo.vizier()
        .args(["jobs", "gc", "--keep", "0"])
        .assert()
        .code(0);
    assert_eq!(
        manifests(&repo).len(),
        1,
        "gc removed a run its driver owns"
    );
    driver.kill().unwrap();
    driver.wait().unwrap();
    repo.vizier()
        .args(["jobs", "gc", "--keep", "0"])
        .assert()
        .code(0);
    assert!(manifests(&repo).is_empty());
}

/// Pids of live (non-zombie) processes in process group `pgid`.
pub fn live_members(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let state = fields.first().copied().unwrap_or("");
        let pgrp: u32 = fields.get(2).and_then(|f| f.parse().ok()).unwrap_or(0);
        if pgrp == pgid && state != "Z" && state != "X" {
            out.push(pid);
        }
    }
    out
}

const SLOW: &str = r#"id = "s"
version = "v1"

[[nodes]]
id = "slow"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "echo start >> ran.txt; sleep 4; echo end >> ran.txt" }
"#;

#[test]
fn a_vanished_job_has_its_process_group_stopped_before_it_is_failed_or_retried() {
    let repo = repo_with("s", SLOW);
    repo.vizier()
        .args(["run", "s", "--detach"])
        .assert()
        .code(0);
    let pid = started_pid(&repo, "slow");
    // SAFETY: kill(2) of the job process only (not its group).
    unsafe {
        libc::kill(pid as i32, libc::SIGKILL);
    }
    wait_until("the job process to die", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z"))
    });
    repo.vizier()
        .args(["jobs", "list"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("failed"));
    assert!(
        live_members(pid).is_empty(),
        "the job's command still runs: {:?}",
        live_members(pid)
    );
    let slow = job_id(&repo, "slow");
    repo.vizier()
        .args(["jobs", "retry", &slow])
        .assert()
        .code(0);
    wait_until("the retry to finish", || {
        manifests(&repo)[0]["outcome"] == "succeeded"
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        repo.read("ran.txt"),
        "start\nstart\nend\n",
        "the orphan ran on"
    );
}

fn interrupt(signal: i32, code: i32) {
    let repo = repo_with("s", SLOW);
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["run", "s"]).current_dir(repo.path());
    isolate(&mut cmd, repo.home.path());
    let mut driver = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = started_pid(&repo, "slow");
    // SAFETY: kill(2) of the driver we started.
    unsafe {
        libc::kill(driver.id() as i32, signal);
    }
    let status = driver.wait().unwrap();
    assert_eq!(status.code(), Some(code), "{status:?}");
    assert!(
        live_members(pid).is_empty(),
        "the running node was left going"
    );
    let m = &manifests(&repo)[0];
    assert!(m["finished_at"].is_string(), "the run was not marked ended");
    assert_eq!(m["outcome"], "failed");
    let slow = node(m, "slow");
    assert_eq!(slow["status"], "cancelled");
    assert!(
        slow["reason"].as_str().unwrap().contains("interrupted"),
        "{slow}"
    );
    // Nothing resumes it.
    repo.vizier().args(["jobs", "list"]).assert().code(0);
    std::thread::sleep(Duration::from_millis(4500));
    repo.vizier().args(["jobs", "list"]).assert().code(0);
    assert_eq!(repo.read("ran.txt"), "start\n");
    assert_eq!(node(&manifests(&repo)[0], "slow")["status"], "cancelled");
}

#[test]
fn ctrl_c_stops_a_foreground_run_records_it_cancelled_and_exits_130() {
    interrupt(libc::SIGINT, 130);
}

#[test]
fn sigterm_stops_a_foreground_run_and_exits_143() {
    interrupt(libc::SIGTERM, 143);
}

#[test]
fn sighup_stops_a_foreground_run_and_exits_129() {
    interrupt(libc::SIGHUP, 129);
}

fn fan(mode: &str) -> String {
    let mut t = format!("id = \"f\"\nversion = \"v1\"\n[policy]\nfailure_mode = \"{mode}\"\n");
    t.push_str(
        "\n[[nodes]]\nid = \"top\"\nkind = \"shell\"\nuses = \"cap.env.shell.command.run\"\nargs = { command = \"true\" }\n",
    );
    for k in 0..6 {
        t.push_str(&format!(
            "\n[[nodes]]\nid = \"w{k}\"\nkind = \"shell\"\nuses = \"cap.env.shell.command.run\"\nargs = {{ command = \"echo w{k} >> ran.txt; test -f fixed\" }}\nafter = [{{ node_id = \"top\" }}]\n"
        ));
    }
    let after: Vec<String> = (0..6)
        .map(|k| format!("{{ node_id = \"w{k}\" }}"))
        .collect();
    t.push_str(&format!(
        "\n[[nodes]]\nid = \"join\"\nkind = \"shell\"\nuses = \"cap.env.shell.command.run\"\nargs = {{ command = \"echo join >> ran.txt\" }}\nafter = [{}]\n",
        after.join(", ")
    ));
    t
}

#[test]
fn retrying_a_run_rewinds_every_failed_job_and_their_downstream_in_one_step() {
    let repo = repo_with("f", &fan("continue_independent"));
    repo.vizier().args(["run", "f"]).assert().code(1);
    let run_id = manifests(&repo)[0]["run_id"].as_str().unwrap().to_owned();
    repo.write("fixed", "");
    repo.vizier()
        .args(["jobs", "retry", &run_id])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("rewound 7 job(s)"));
    wait_until("the retried run to finish", || {
        manifests(&repo)[0]["outcome"] == "succeeded"
    });
    let m = &manifests(&repo)[0];
    assert_eq!(node(m, "top")["attempts"], 1, "a predecessor was re-run");
    assert_eq!(node(m, "join")["status"], "succeeded");
}

#[test]
fn a_persons_retry_runs_even_while_a_failure_outside_its_chain_stands() {
    let repo = repo_with("f", &fan("block_downstream"));
    repo.vizier().args(["run", "f"]).assert().code(1);
    let m = &manifests(&repo)[0];
    let failed: Vec<String> = (0..6)
        .map(|k| node(m, &format!("w{k}")))
        .filter(|n| n["status"] == "failed")
        .map(|n| n["job_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(failed.len() >= 2, "{m}");
    repo.write("fixed", "");
    repo.vizier()
        .args(["jobs", "retry", &failed[0]])
        .assert()
        .code(0);
    wait_until("the retried job to end", || {
        manifests(&repo)[0]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["job_id"] == failed[0].as_str())
            .is_some_and(|n| n["status"] != "queued" && n["status"] != "running")
    });
    let m = &manifests(&repo)[0];
    let retried = m["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["job_id"] == failed[0].as_str())
        .unwrap();
    assert_eq!(retried["status"], "succeeded", "{retried}");
    // Its downstream still waits on the sibling that failed: blocked by its own dependency.
    assert_eq!(node(m, "join")["status"], "blocked_by_dependency");
}

const CI_SLOW: &str = r#"id = "template.ci"
version = "v1"

[[nodes]]
id = "test"
kind = "shell"
uses = "cap.env.shell.cicd.run"
args = { command = "echo '::error::pwned'; echo start >> ran.txt; sleep 4; echo end >> ran.txt" }
"#;

fn ci_command(repo: &Repo, files: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(BIN);
    cmd.arg("ci").current_dir(repo.path());
    isolate(&mut cmd, repo.home.path());
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", files.join("output"))
        .env("GITHUB_STEP_SUMMARY", files.join("summary"));
    cmd
}

#[test]
fn an_interrupted_ci_run_is_stopped_recorded_cancelled_and_uploaded() {
    let repo = Repo::new();
    repo.write(".vizier/workflow/ci.toml", CI_SLOW);
    repo.write(".gitignore", ".vizier/jobs/\n.vizier/artifacts/\nran.txt\n");
    repo.commit_all("init");
    let files = tempfile::tempdir().unwrap();
    let mut ci = ci_command(&repo, files.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = started_pid(&repo, "test");
    // SAFETY: kill(2) of the process we started.
    unsafe {
        libc::kill(ci.id() as i32, libc::SIGINT);
    }
    assert_eq!(ci.wait().unwrap().code(), Some(130));
    assert!(live_members(pid).is_empty());
    let run_id = manifests(&repo)[0]["run_id"].as_str().unwrap().to_owned();
    let uploaded: Value = serde_json::from_slice(
        &std::fs::read(repo.join(&format!(".vizier/artifacts/runs/{run_id}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(node(&uploaded, "test")["status"], "cancelled");
    assert!(uploaded["finished_at"].is_string());
    let output = std::fs::read_to_string(files.path().join("output")).unwrap();
    assert!(output.contains("run-ids"), "{output}");
    std::thread::sleep(Duration::from_millis(4500));
    repo.vizier().args(["jobs", "list"]).assert().code(0);
    assert_eq!(repo.read("ran.txt"), "start\n", "the run resumed");
}

#[test]
fn ci_text_logs_are_fenced_under_github_actions() {
    let repo = Repo::new();
    repo.write(
        ".vizier/workflow/ci.toml",
        &CI_SLOW.replace("sleep 4", "true"),
    );
    repo.write(".gitignore", ".vizier/jobs/\n.vizier/artifacts/\nran.txt\n");
    repo.commit_all("init");
    let files = tempfile::tempdir().unwrap();
    let mut cmd = ci_command(&repo, files.path());
    cmd.args(["--format", "text"]);
    let out = assert_cmd::Command::from_std(cmd).assert().code(0);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let line = stdout
        .lines()
        .position(|l| l == "::error::pwned")
        .expect("the log is printed");
    let fence = stdout
        .lines()
        .position(|l| l.starts_with("::stop-commands::"))
        .expect("the log is fenced");
    assert!(fence < line, "{stdout}");
}

#[test]
fn a_configured_artifacts_dir_stays_inside_the_repository_but_the_flag_may_go_anywhere() {
    let repo = Repo::new();
    repo.write(
        ".vizier/workflow/ci.toml",
        &CI_SLOW.replace("sleep 4", "true"),
    );
    let (dir, rel) = outside(&repo);
    // From the repository root the outside folder is one level up.
    let up = rel.trim_start_matches("../../");
    repo.write(
        ".vizier/config.toml",
        &format!("[ci]\nartifacts_dir = \"{up}/artifacts\"\n"),
    );
    repo.write(".gitignore", ".vizier/jobs/\nran.txt\n");
    repo.commit_all("init");
    let files = tempfile::tempdir().unwrap();
    let out = ci_command(&repo, files.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("artifacts_dir"));
    untouched(dir.path());
    let mut cmd = ci_command(&repo, files.path());
    cmd.arg("--artifacts-dir").arg(dir.path().join("chosen"));
    assert_cmd::Command::from_std(cmd).assert().code(0);
    assert!(dir.path().join("chosen/summary.md").exists());
}

#[test]
fn an_artifact_named_like_a_path_in_a_plan_is_corrupt() {
    let repo = repo_with("t", WAITING);
    detached_waiting(&repo);
    let run_id = manifests(&repo)[0]["run_id"].as_str().unwrap().to_owned();
    let path = repo.join(&format!(".vizier/jobs/plans/{run_id}.json"));
    let mut plan: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    plan["nodes"][2]["produces"] =
        serde_json::json!([{ "type_id": "x", "key": "../../../../../out" }]);
    std::fs::write(&path, serde_json::to_vec(&plan).unwrap()).unwrap();
    repo.vizier()
        .args(["jobs", "list"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("cannot be a folder name"));
    let ok = job_id(&repo, "ok");
    repo.vizier()
        .args(["jobs", "approve", &ok])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("cannot be a folder name"));
}

#[test]
fn a_driver_finishes_its_run_while_others_list_and_gc() {
    let body = r#"id = "c"
version = "v1"

[[nodes]]
id = "one"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "true" }

[[nodes]]
id = "two"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "true" }
after = [{ node_id = "one" }]

[[nodes]]
id = "three"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "true" }
after = [{ node_id = "two" }]
"#;
    let repo = repo_with("c", body);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spam = {
        let stop = stop.clone();
        let dir = repo.path().to_path_buf();
        let home = repo.home.path().to_path_buf();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                for args in [&["jobs", "list"][..], &["jobs", "gc", "--keep", "0"][..]] {
                    let mut cmd = std::process::Command::new(BIN);
                    cmd.args(args).current_dir(&dir);
                    isolate(&mut cmd, &home);
                    let out = cmd.output().unwrap();
                    assert!(out.status.success(), "{out:?}");
                }
            }
        })
    };
    // The driver pauses before each tick, so the others' ticks and gc have every chance to take its
    // run from under it.
    for _ in 0..3 {
        repo.vizier()
            .args(["run", "c"])
            .env("VIZIER_FAILPOINT", "driver-before-tick")
            .assert()
            .code(0);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    spam.join().unwrap();
}

#[test]
fn a_fifo_in_place_of_an_outcome_or_a_worktree_claim_never_blocks_a_tick_or_a_retry() {
    let repo = repo_with("t", WAITING);
    detached_waiting(&repo);
    let ship = job_id(&repo, "ship");
    let build = job_id(&repo, "build");
    mkfifo(&repo.join(&format!(".vizier/jobs/{ship}/outcome.json")));
    mkfifo(&repo.join(&format!(".vizier/jobs/{build}/worktree.json")));
    let ok = job_id(&repo, "ok");
    repo.vizier()
        .args(["jobs", "approve", &ok])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(0);
    wait_until("the run to finish", || {
        manifests(&repo)[0]["outcome"].is_string()
    });
    repo.vizier()
        .args(["jobs", "retry", &build])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(0);
}
