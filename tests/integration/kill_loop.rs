//! The crash loop: random `kill -9`s of a foreground run's driver and its job processes, on a
//! diamond, then recovery through `vizier jobs` (and a person's `jobs retry` when the run failed).
//! After every trial: every record parses, no job is left `running`, no attempt of a node ran twice
//! or went on after its job was declared vanished, and no process of the trial is left.
//!
//! Ignored by default (it takes about a minute); `.ci/run` runs it with `--include-ignored`.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::store_defense::live_members;
use crate::support::*;

fn step(id: &str, after: &[&str]) -> String {
    let after: Vec<String> = after
        .iter()
        .map(|a| format!("{{ node_id = \"{a}\" }}"))
        .collect();
    format!(
        "\n[[nodes]]\nid = \"{id}\"\nkind = \"shell\"\nuses = \"cap.env.shell.command.run\"\nargs = {{ command = \"echo start {id} $VIZIER_ATTEMPT >> ran.txt; sleep 0.$(( $$ % 3 + 1 )); echo end {id} $VIZIER_ATTEMPT >> ran.txt\" }}\nafter = [{}]\n",
        after.join(", ")
    )
}

fn diamond() -> String {
    format!(
        "id = \"diamond\"\nversion = \"v1\"\n[policy]\nfailure_mode = \"continue_independent\"\n{}{}{}{}",
        step("a", &[]),
        step("b", &["a"]),
        step("c", &["a"]),
        step("d", &["b", "c"])
    )
}

/// A small deterministic generator (no dependency needed for a test's dice).
struct Dice(u64);

impl Dice {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn kill9(pid: u32) {
    // SAFETY: kill(2) of a process this trial started (or one of its jobs).
    unsafe {
        libc::kill(pid as i32, libc::SIGKILL);
    }
}

/// Ticks the store through `vizier jobs list` until the run has ended; false when there is no run
/// (the driver died before the run was fully written, so it left no trace).
fn settle(repo: &Repo, trial: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = repo.vizier().args(["jobs", "list"]).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        match manifests(repo).first() {
            None => return false,
            Some(m) if m["outcome"].is_string() => return true,
            Some(_) => {}
        }
        assert!(
            Instant::now() < deadline,
            "trial {trial}: the run never ended: {}",
            manifests(repo)[0]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn every_record_parses(jobs: &Path) {
    for entry in walk(jobs) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        // The records: JSON files and claims (logs, locks and nodes' own files are not records).
        let record = name.ends_with(".json") || name.starts_with("claim-");
        if name.starts_with('.') || !record {
            continue;
        }
        let parent = entry
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if parent == "active" {
            continue;
        }
        let bytes = std::fs::read(&entry).unwrap();
        serde_json::from_slice::<Value>(&bytes)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", entry.display()));
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let path = e.path();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Processes whose working folder is inside `dir` (what a trial may have left running).
fn processes_in(dir: &Path) -> Vec<u32> {
    let dir = dir.canonicalize().unwrap();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        });
        if zombie {
            continue;
        }
        if std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(&dir)) {
            out.push(pid);
        }
    }
    out
}

/// The nodes downstream of each node of [`diamond`].
fn downstream(node: &str) -> &'static [&'static str] {
    match node {
        "a" => &["b", "c", "d"],
        "b" | "c" => &["d"],
        _ => &[],
    }
}

/// `before_kill` is the log as it was right after the kills. An attempt whose command had already
/// ended then (its job process was killed before it recorded the outcome) is rightly declared
/// vanished. One whose command ends only afterwards is an orphan: it may still end in the moment
/// before the tick that finds its job gone stops it (that tick is what makes the job vanished), but
/// never after: nothing may start beside it, neither a later attempt of its node nor a node
/// downstream of it.
fn check_log(repo: &Repo, vanished: &[(String, u64)], before_kill: &str) {
    let log = std::fs::read_to_string(repo.join("ran.txt")).unwrap_or_default();
    let mut seen: HashMap<String, u32> = HashMap::new();
    for line in log.lines() {
        *seen.entry(line.to_owned()).or_default() += 1;
    }
    for (line, n) in &seen {
        assert_eq!(*n, 1, "`{line}` happened {n} times:\n{log}");
    }
    let lines: Vec<&str> = log.lines().collect();
    for (node, attempt) in vanished {
        let end = format!("end {node} {attempt}");
        if before_kill.lines().any(|l| l == end) {
            continue;
        }
        let Some(ended) = lines.iter().position(|l| *l == end) else {
            continue;
        };
        let started = lines
            .iter()
            .position(|l| *l == format!("start {node} {attempt}"))
            .unwrap_or(0);
        let beside = lines[started..ended].iter().find(|l| {
            let mut words = l.split(' ');
            let (Some("start"), Some(who), Some(n)) = (words.next(), words.next(), words.next())
            else {
                return false;
            };
            let later = who == node && n.parse::<u64>().is_ok_and(|n| n > *attempt);
            later || downstream(node).contains(&who)
        });
        assert!(
            beside.is_none(),
            "{node} attempt {attempt} went on after its job was declared vanished ({} started beside it):\n{log}",
            beside.unwrap_or(&"")
        );
    }
}

fn vanished(m: &Value) -> Vec<(String, u64)> {
    m["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["reason"].as_str().is_some_and(|r| r.contains("vanished")))
        .map(|n| {
            (
                n["node_id"].as_str().unwrap().to_owned(),
                n["attempts"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
#[ignore = "a minute of random kill -9 trials; .ci/run runs it with --include-ignored"]
fn random_kill_9s_never_corrupt_the_store_run_a_node_twice_or_leave_orphans() {
    let mut dice = Dice(0x5eed);
    let trials: u32 = 32;
    for trial in 0..trials {
        let repo = repo_with("diamond", &diamond());
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(["run", "diamond"]).current_dir(repo.path());
        isolate(&mut cmd, repo.home.path());
        let mut driver = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(dice.next(900)));
        // Kill the driver, a running job's process, or both.
        let what = dice.next(3);
        let mut groups = Vec::new();
        if what != 1 {
            kill9(driver.id());
        }
        if what != 0
            && let Some(m) = manifests(&repo).first()
        {
            let running: Vec<u32> = m["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|n| n["process"]["pid"].as_u64())
                .map(|p| p as u32)
                .collect();
            if !running.is_empty() {
                let pid = running[dice.next(running.len() as u64) as usize];
                groups.push(pid);
                kill9(pid);
            }
        }
        let before_kill = std::fs::read_to_string(repo.join("ran.txt")).unwrap_or_default();
        let _ = driver.wait();
        if !settle(&repo, trial) {
            let left: Vec<_> = std::fs::read_dir(repo.join(".vizier/jobs"))
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| n.starts_with("run-"))
                        .collect()
                })
                .unwrap_or_default();
            assert!(
                left.is_empty(),
                "trial {trial}: a half-written run: {left:?}"
            );
            continue;
        }
        let m = manifests(&repo)[0].clone();
        let mut gone = vanished(&m);
        if m["outcome"] != "succeeded" {
            // A person retries; the run must then end (and never run anything twice).
            let run_id = m["run_id"].as_str().unwrap().to_owned();
            let out = repo
                .vizier()
                .args(["jobs", "retry", &run_id])
                .output()
                .unwrap();
            assert!(out.status.success(), "trial {trial}: {out:?}");
            settle(&repo, trial);
            gone.extend(vanished(&manifests(&repo)[0]));
        }
        let m = &manifests(&repo)[0];
        for n in m["nodes"].as_array().unwrap() {
            assert_ne!(n["status"], "running", "trial {trial}: {n}");
        }
        every_record_parses(&repo.join(".vizier/jobs"));
        check_log(&repo, &gone, &before_kill);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !processes_in(repo.path()).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            processes_in(repo.path()).is_empty(),
            "trial {trial}: processes left: {:?}",
            processes_in(repo.path())
        );
        for g in groups {
            assert!(live_members(g).is_empty(), "trial {trial}: group {g} left");
        }
    }
}
