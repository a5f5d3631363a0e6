//! `vizier run` and the scheduler: real repos, real child processes, real records.

use predicates::prelude::*;
use serde_json::Value;

use crate::support::*;

fn shell(id: &str, command: &str, after: &[&str]) -> String {
    let after = if after.is_empty() {
        String::new()
    } else {
        format!(
            "after = [{}]\n",
            after
                .iter()
                .map(|a| format!("{{ node_id = \"{a}\" }}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!(
        "\n[[nodes]]\nid = \"{id}\"\nkind = \"shell\"\nuses = \"cap.env.shell.command.run\"\nargs = {{ command = {command:?} }}\n{after}"
    )
}

fn terminal(after: &[&str]) -> String {
    format!(
        "\n[[nodes]]\nid = \"done\"\nkind = \"gate\"\nuses = \"control.terminal\"\nafter = [{}]\n",
        after
            .iter()
            .map(|a| format!("{{ node_id = \"{a}\" }}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn template(id: &str, body: &str) -> String {
    format!("id = \"{id}\"\nversion = \"v1\"\n{body}")
}

#[test]
fn a_passing_run_writes_records_and_a_manifest_and_exits_0() {
    let body = shell("a", "echo hello > out.txt", &[])
        + &shell("b", "test -f out.txt", &["a"])
        + &terminal(&["b"]);
    let repo = repo_with("ci", &template("template.ci", &body));
    repo.vizier()
        .args(["run", "ci"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("✔ a succeeded"))
        .stdout(predicate::str::contains("succeeded in"));
    let m = &manifests(&repo)[0];
    assert_eq!(m["outcome"], "succeeded");
    assert_eq!(m["version"], 1);
    assert_eq!(m["template"]["id"], "template.ci");
    assert_eq!(m["trigger"]["kind"], "local");
    assert_eq!(m["trigger"]["ref"], "refs/heads/main");
    assert_eq!(m["trigger"]["sha"], repo.git(&["rev-parse", "HEAD"]).trim());
    let run_id = m["run_id"].as_str().unwrap();
    assert!(run_id.starts_with("run-") && run_id.len() == 20, "{run_id}");
    let b = node(m, "b");
    assert_eq!(b["job_id"], format!("{run_id}-b"));
    assert_eq!(b["after"], serde_json::json!([format!("{run_id}-a")]));
    assert_eq!(b["status"], "succeeded");
    assert_eq!(b["executor_class"], "environment.shell");
    assert_eq!(b["executor_operation"], "command.run");
    assert_eq!(node(m, "done")["control_policy"], "terminal");
    // One job record per node, with the metadata.
    let record: Value = serde_json::from_slice(
        &std::fs::read(repo.join(&format!(".vizier/jobs/{run_id}-a/job.json"))).unwrap(),
    )
    .unwrap();
    let md = &record["metadata"];
    assert_eq!(md["workflow_run_id"], run_id);
    assert_eq!(md["workflow_template_id"], "template.ci");
    assert_eq!(md["workflow_template_version"], "v1");
    assert_eq!(md["workflow_node_id"], "a");
    assert_eq!(md["workflow_node_attempt"], 1);
    assert_eq!(md["workflow_node_outcome"], "succeeded");
    assert_eq!(md["workflow_executor_class"], "environment.shell");
    assert_eq!(md["workflow_executor_operation"], "command.run");
    assert_eq!(md["execution_root"], ".");
    assert!(md["workflow_policy_snapshot_hash"].as_str().unwrap().len() == 64);
    assert_eq!(
        record["command"],
        serde_json::json!([
            "vizier",
            "__workflow-node",
            "--job-id",
            format!("{run_id}-a")
        ])
    );
    assert_eq!(repo.read("out.txt"), "hello\n");
}

#[test]
fn a_failing_node_fails_the_run_and_blocks_what_depends_on_it() {
    let body =
        shell("a", "echo boom >&2; exit 7", &[]) + &shell("b", "true", &["a"]) + &terminal(&["b"]);
    let repo = repo_with("ci", &template("t", &body));
    repo.vizier()
        .args(["run", "ci"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("a failed (exit 7)"));
    let m = &manifests(&repo)[0];
    assert_eq!(m["outcome"], "failed");
    assert_eq!(node(m, "a")["exit_code"], 7);
    assert_eq!(node(m, "b")["status"], "blocked_by_dependency");
    let run_id = m["run_id"].as_str().unwrap();
    let stderr = repo.read(&format!(".vizier/jobs/{run_id}-a/stderr.log"));
    assert!(stderr.contains("boom"), "{stderr}");
}

#[test]
fn an_invalid_template_prints_diagnostics_and_writes_nothing() {
    let repo = repo_with(
        "ci",
        &template(
            "t",
            "\n[[nodes]]\nid = \"a\"\nuses = \"vizier.plan.persist\"\n",
        ),
    );
    repo.vizier()
        .args(["run", "ci"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error[legacy-uses]"));
    assert!(!repo.join(".vizier/jobs").exists());
}

#[test]
fn unknown_aliases_and_params_are_usage_errors() {
    let repo = repo_with(
        "ci",
        &template(
            "t",
            &format!("[params]\ntarget = \"main\"\n{}", shell("a", "true", &[])),
        ),
    );
    repo.vizier()
        .args(["run", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unknown template alias `nope`; known: ci",
        ));
    repo.vizier()
        .args(["run", "ci", "--set", "tagret=x"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("unknown param `tagret`")
                .and(predicate::str::contains("`target`")),
        );
    assert!(!repo.join(".vizier/jobs").exists());
}

#[test]
fn params_and_run_identity_reach_scripts_as_environment_variables() {
    let body = format!(
        "[params]\ntarget = \"main\"\n{}",
        shell(
            "env",
            "printf '%s|%s|%s|%s|%s|%s|%s\\n' \"${target}\" \"$VIZIER_PARAM_TARGET\" \"$VIZIER_RUN_ID\" \"$VIZIER_JOB_ID\" \"$VIZIER_NODE_ID\" \"$VIZIER_SHA\" \"$VIZIER_REF\" > env.txt",
            &[]
        )
    );
    let repo = repo_with("ci", &template("t", &body));
    repo.vizier()
        .args(["run", "ci", "--set", "target=dev"])
        .assert()
        .code(0);
    let m = &manifests(&repo)[0];
    let run_id = m["run_id"].as_str().unwrap();
    let sha = repo.git(&["rev-parse", "HEAD"]);
    assert_eq!(
        repo.read("env.txt").trim(),
        format!(
            "dev|dev|{run_id}|{run_id}-env|env|{}|refs/heads/main",
            sha.trim()
        )
    );
    assert_eq!(m["params"]["target"], "dev");
}

#[test]
fn run_ids_are_the_same_in_another_clone_and_the_next_free_one_in_the_same_store() {
    let body = shell("a", "true", &[]);
    let repo = repo_with("ci", &template("t", &body));
    repo.vizier().args(["run", "ci"]).assert().code(0);
    repo.vizier().args(["run", "ci"]).assert().code(0);
    let ids: Vec<String> = manifests(&repo)
        .iter()
        .map(|m| m["run_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);

    let clone = Repo::bare_dir();
    let out = std::process::Command::new("git")
        .args(["clone", "-q"])
        .arg(repo.path())
        .arg(clone.join("c"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["run", "ci", "--format", "json"])
        .current_dir(clone.join("c"));
    isolate(&mut cmd, clone.home.path());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(ids.contains(&m["run_id"].as_str().unwrap().to_owned()));
    // And a different param gives a different id.
    let dry = repo
        .vizier()
        .args(["run", "ci", "--dry-run", "--format", "json"])
        .output()
        .unwrap();
    let dry: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert!(
        !ids.contains(&dry["run_id"].as_str().unwrap().to_owned()),
        "dry-run picks the next free id"
    );
}

#[test]
fn dry_run_prints_the_jobs_and_writes_nothing() {
    let repo = repo_with(
        "ci",
        &template(
            "t",
            &(shell("a", "true", &[]) + &shell("b", "true", &["a"])),
        ),
    );
    repo.vizier()
        .args(["run", "ci", "--dry-run"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("would create run run-"))
        .stdout(predicate::str::contains(
            "-b  cap.env.shell.command.run  after a",
        ));
    assert!(!repo.join(".vizier/jobs").exists());
}

#[test]
fn handlers_run_on_their_outcome_and_are_skipped_otherwise() {
    let body = template(
        "t",
        r#"
[[nodes]]
id = "work"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "exit 1" }
on = { failed = ["fix"] }

[[nodes]]
id = "fix"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "echo fixed > fixed.txt" }

[[nodes]]
id = "ok"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "true" }
on = { failed = ["never"] }

[[nodes]]
id = "never"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "echo no > never.txt" }
"#,
    );
    let repo = repo_with("h", &body);
    repo.vizier().args(["run", "h"]).assert().code(1);
    let m = &manifests(&repo)[0];
    assert_eq!(node(m, "work")["status"], "failed");
    assert_eq!(node(m, "fix")["status"], "succeeded");
    assert_eq!(node(m, "never")["status"], "skipped");
    assert!(repo.join("fixed.txt").exists());
    assert!(!repo.join("never.txt").exists());
}

#[test]
fn a_loop_back_reruns_within_its_budget_then_blocks() {
    let body = template(
        "t",
        r#"
[[nodes]]
id = "work"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "echo x >> count.txt" }

[[nodes]]
id = "stop"
kind = "gate"
uses = "control.gate.stop_condition"
gates = [{ kind = "script", script = "test $(wc -l < count.txt) -ge ${need}" }]
retry = { mode = "until_gate", budget = 2 }
after = [{ node_id = "work" }]
on = { failed = ["work"] }
"#,
    )
    .replace(
        "version = \"v1\"\n",
        "version = \"v1\"\n[params]\nneed = \"3\"\n",
    );
    let repo = repo_with("loop", &body);
    repo.vizier().args(["run", "loop"]).assert().code(0);
    let m = &manifests(&repo)[0];
    assert_eq!(node(m, "stop")["status"], "succeeded");
    assert_eq!(node(m, "work")["attempts"], 3);
    assert_eq!(repo.read("count.txt").lines().count(), 3);

    std::fs::remove_file(repo.join("count.txt")).unwrap();
    repo.vizier()
        .args(["run", "loop", "--set", "need=9"])
        .assert()
        .code(1);
    let m = manifests(&repo).pop().unwrap();
    let stop = node(&m, "stop");
    assert_eq!(stop["status"], "blocked");
    assert!(
        stop["reason"]
            .as_str()
            .unwrap()
            .contains("retry budget spent"),
        "{stop}"
    );
    // budget 2 → 3 runs in all
    assert_eq!(repo.read("count.txt").lines().count(), 3);
}

#[test]
fn four_concurrent_runs_each_run_every_job_exactly_once() {
    let body = shell("a", "echo \"$VIZIER_JOB_ID\" >> ran.txt", &[])
        + &shell("b", "echo \"$VIZIER_JOB_ID\" >> ran.txt", &["a"])
        + &shell("c", "echo \"$VIZIER_JOB_ID\" >> ran.txt", &["a"])
        + &terminal(&["b", "c"]);
    let repo = repo_with(
        "ci",
        &template("t", &format!("[params]\nn = \"0\"\n{body}")),
    );
    let children: Vec<_> = (0..4)
        .map(|i| {
            let mut cmd = std::process::Command::new(BIN);
            cmd.args(["run", "ci", "--set", &format!("n={i}")])
                .current_dir(repo.path());
            isolate(&mut cmd, repo.home.path());
            cmd.stdout(std::process::Stdio::null()).spawn().unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let ms = manifests(&repo);
    assert_eq!(ms.len(), 4);
    assert!(ms.iter().all(|m| m["outcome"] == "succeeded"));
    let mut ran: Vec<String> = repo.read("ran.txt").lines().map(str::to_owned).collect();
    assert_eq!(ran.len(), 12, "{ran:?}");
    ran.sort();
    ran.dedup();
    assert_eq!(ran.len(), 12, "a job ran twice");
}

/// Runs `vizier run ci` until its node `slow` is running, then kills the driver and the job's
/// whole process group with SIGKILL, and waits until the job process is gone.
fn kill_when_slow_runs(repo: &Repo) {
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["run", "ci"]).current_dir(repo.path());
    isolate(&mut cmd, repo.home.path());
    let mut driver = cmd.stdout(std::process::Stdio::null()).spawn().unwrap();
    wait_until("the node to start", || {
        manifests(repo).first().is_some_and(|m| {
            node(m, "slow")["status"] == "running" && node(m, "slow")["process"].is_object()
        })
    });
    let m = &manifests(repo)[0];
    let pid = node(m, "slow")["process"]["pid"].as_u64().unwrap() as i32;
    unsafe {
        libc::kill(driver.id() as i32, libc::SIGKILL);
        libc::kill(-pid, libc::SIGKILL);
    }
    driver.wait().unwrap();
    wait_until("the job process to be gone", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z"))
    });
}

#[test]
fn a_killed_run_is_marked_failed_on_the_next_tick() {
    let body = shell("slow", "sleep 30", &[]) + &terminal(&["slow"]);
    let repo = repo_with("ci", &template("t", &body));
    kill_when_slow_runs(&repo);
    repo.vizier()
        .args(["jobs", "list"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("failed"));
    let m = &manifests(&repo)[0];
    let slow = node(m, "slow");
    assert_eq!(slow["status"], "failed");
    assert!(
        slow["reason"].as_str().unwrap().contains("vanished"),
        "{slow}"
    );
    assert_eq!(m["outcome"], "failed");
    assert_eq!(node(m, "done")["status"], "blocked_by_dependency");
}

/// Three quick nodes, a join and the terminal gate. The failpoint holds every tick for 400 ms after it started its
/// jobs, so each job has ended before its tick looks: the tick finishes it there (one record
/// write, not a `running` one and then a finished one), and starts the join it frees. Each node's
/// start is still told, right before its end; without that pass every start of a tick would come
/// first, then the ends in the next tick.
#[test]
fn jobs_that_end_while_their_tick_is_still_starting_others_are_finished_in_that_tick() {
    let body = shell("a", "true", &[])
        + &shell("b", "true", &[])
        + &shell("c", "true", &[])
        + &shell("join", "true", &["a", "b", "c"])
        + &terminal(&["join"]);
    let repo = repo_with("ci", &template("t", &body));
    let out = repo
        .vizier()
        .args(["run", "ci"])
        .env("VIZIER_FAILPOINT", "tick-before-absorb")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    // `done` is a builtin gate: no exit code, and its start is told all the same.
    for id in ["a", "b", "c", "join", "done"] {
        let at = lines
            .iter()
            .position(|l| *l == format!("▶ {id} started"))
            .unwrap_or_else(|| panic!("no start of {id}:\n{stdout}"));
        assert_eq!(
            lines.get(at + 1).copied(),
            Some(format!("✔ {id} succeeded").as_str()),
            "{stdout}"
        );
    }
    let m = &manifests(&repo)[0];
    for id in ["a", "b", "c", "join", "done"] {
        assert_eq!(node(m, id)["status"], "succeeded", "{id}: {m}");
    }
    let run_id = m["run_id"].as_str().unwrap();
    let record: Value =
        serde_json::from_str(&repo.read(&format!(".vizier/jobs/{run_id}-join/job.json"))).unwrap();
    assert_eq!(record["status"], "succeeded");
    assert_eq!(record["exit_code"], 0);
}

/// A node whose process cannot be started (here its log is a FIFO, which vizier never writes
/// through) fails without ever having started: no start line, no start time.
#[test]
fn a_node_that_cannot_be_started_is_failed_without_a_start() {
    let body = shell(
        "a",
        "rm .vizier/jobs/$VIZIER_RUN_ID-b/stdout.log && mkfifo .vizier/jobs/$VIZIER_RUN_ID-b/stdout.log",
        &[],
    ) + &shell("b", "true", &["a"]);
    let repo = repo_with("ci", &template("t", &body));
    let out = repo.vizier().args(["run", "ci"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("✘ b failed"), "{stdout}");
    assert!(!stdout.contains("▶ b started"), "{stdout}");
    let b = node(&manifests(&repo)[0], "b").clone();
    assert_eq!(b["status"], "failed", "{b}");
    assert!(b["started_at"].is_null(), "{b}");
}

/// What a crash of the machine can leave: the job record of `a` says it succeeded (the driver
/// fsynced it), but the manifest, which may lag its records, still says running, and `a`'s
/// outcome file (left unsynced by a job with a foreground driver) came back empty. The next tick
/// finishes `a` from its record instead of calling it vanished.
#[test]
fn a_job_whose_outcome_file_was_lost_is_finished_from_its_record() {
    let body = shell("a", "true", &[]) + &shell("slow", "sleep 30", &["a"]) + &terminal(&["slow"]);
    let repo = repo_with("ci", &template("t", &body));
    let record = |id: &str| -> Value {
        let run_id = manifests(&repo)[0]["run_id"].as_str().unwrap().to_owned();
        std::fs::read_to_string(repo.join(&format!(".vizier/jobs/{run_id}-{id}/job.json")))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    };
    kill_when_slow_runs(&repo);
    assert_eq!(record("a")["status"], "succeeded");
    let run_id = manifests(&repo)[0]["run_id"].as_str().unwrap().to_owned();
    std::fs::write(
        repo.join(&format!(".vizier/jobs/{run_id}-a/outcome.json")),
        "",
    )
    .unwrap();
    let path = repo.join(&format!(".vizier/jobs/runs/{run_id}.json"));
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let metadata = node(&m, "a")["metadata"].clone();
    for n in m["nodes"].as_array_mut().unwrap() {
        if n["node_id"] == "a" {
            n["status"] = "running".into();
            for key in ["outcome", "exit_code", "finished_at"] {
                n[key] = Value::Null;
            }
        }
    }
    std::fs::write(&path, serde_json::to_string(&m).unwrap()).unwrap();
    repo.vizier().args(["jobs", "list"]).assert().code(0);
    let m = &manifests(&repo)[0];
    let a = node(m, "a");
    assert_eq!(a["status"], "succeeded", "{a}");
    assert_eq!(a["exit_code"], 0, "{a}");
    // What the record adds from the plan stays out of the node's own metadata.
    assert_eq!(a["metadata"], metadata);
    let slow = node(m, "slow");
    assert_eq!(slow["status"], "failed");
    assert!(
        slow["reason"].as_str().unwrap().contains("vanished"),
        "{slow}"
    );
}

/// A job with a foreground driver writes its outcome without an fsync (the driver's record of it
/// is synced); a job of a detached run, which records its own outcome, still syncs it. Seen
/// through strace (`.ci/run` installs it; a missing strace fails the test).
#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs strace"]
fn only_a_job_without_a_driver_waits_for_its_outcome_to_reach_the_disk() {
    let body = shell("a", "true", &[]) + &terminal(&["a"]);
    let repo = repo_with("ci", &template("t", &body));
    let calls = "fsync,fdatasync";
    let (out, driven) = strace(&repo, repo.path(), BIN, &["run", "ci"], calls);
    assert!(out.status.success(), "{out:?}");
    let jobs: Vec<_> = driven
        .iter()
        .filter(|p| p.exec.contains("__workflow-node"))
        .collect();
    assert_eq!(jobs.len(), 2, "{driven:?}"); // `a` and the terminal
    for job in jobs {
        assert!(!job.calls.contains("sync("), "{}", job.calls);
    }
    // The driver syncs the records.
    let driver = driven.iter().find(|p| p.exec.contains("\"run\"")).unwrap();
    assert!(driver.calls.contains("fdatasync("), "{}", driver.calls);

    let (out, detached) = strace(
        &repo,
        repo.path(),
        BIN,
        &["run", "ci", "--detach", "--format", "json"],
        calls,
    );
    assert!(out.status.success(), "{out:?}");
    let run_id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_until("the detached run to end", || {
        run_manifest(&repo, &run_id)["outcome"] == "succeeded"
    });
    // strace has returned only when every traced process ended.
    let jobs: Vec<_> = detached
        .iter()
        .filter(|p| p.exec.contains("__workflow-node"))
        .collect();
    assert_eq!(jobs.len(), 2, "{detached:?}");
    for job in jobs {
        assert!(job.calls.contains("fdatasync("), "{}", job.calls);
    }
}

/// a → b (fails) and a → c → e; d waits for b and e. `c` runs until the test creates `go`, which it
/// does once `b` is recorded failed: `e` is then the one new start the failure mode decides about.
fn diamond(mode: &str) -> String {
    let body = shell("a", "true", &[])
        + &shell("b", "exit 1", &["a"])
        + &shell("c", "while [ ! -e go ]; do sleep 0.05; done", &["a"])
        + &shell("e", "echo e > e.txt", &["c"])
        + &shell("d", "true", &["b", "e"]);
    template(
        "diamond",
        &format!("[policy]\nfailure_mode = \"{mode}\"\n{body}"),
    )
}

/// Runs the diamond in the foreground; creates `go` (letting `c` finish) once `b` is recorded
/// failed while `c` still runs. The run fails (exit 1).
fn run_diamond(repo: &Repo) {
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["run", "d"]).current_dir(repo.path());
    isolate(&mut cmd, repo.home.path());
    let mut driver = cmd.stdout(std::process::Stdio::null()).spawn().unwrap();
    wait_until("b to fail while c runs", || {
        manifests(repo).first().is_some_and(|m| {
            node(m, "b")["status"] == "failed" && node(m, "c")["status"] == "running"
        })
    });
    repo.write("go", "");
    assert_eq!(driver.wait().unwrap().code(), Some(1));
}

#[test]
fn block_downstream_starts_nothing_new_after_a_failure() {
    let repo = repo_with("d", &diamond("block_downstream"));
    run_diamond(&repo);
    let m = &manifests(&repo)[0];
    assert_eq!(node(m, "b")["status"], "failed");
    assert_eq!(
        node(m, "c")["status"],
        "succeeded",
        "already running: it finishes"
    );
    let e = node(m, "e");
    assert_eq!(e["status"], "blocked_by_dependency");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("failure_mode = block_downstream"),
        "{e}"
    );
    assert_eq!(node(m, "d")["status"], "blocked_by_dependency");
    assert!(!repo.join("e.txt").exists());
}

#[test]
fn continue_independent_runs_what_does_not_depend_on_the_failure() {
    let repo = repo_with("d", &diamond("continue_independent"));
    run_diamond(&repo);
    let m = &manifests(&repo)[0];
    assert_eq!(node(m, "b")["status"], "failed");
    assert_eq!(node(m, "e")["status"], "succeeded");
    assert_eq!(node(m, "d")["status"], "blocked_by_dependency");
    assert!(repo.join("e.txt").exists());
    assert_eq!(m["outcome"], "failed");
}

/// docs/operations.md shows these fixtures verbatim; each validates and runs to success.
#[test]
fn documented_shell_and_control_examples_are_fixtures_that_run() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("docs/operations.md")).unwrap();
    for name in [
        "command-run",
        "cicd-run",
        "gate-stop-condition",
        "gate-cicd",
        "gate-approval",
        "control-terminal",
    ] {
        let text =
            std::fs::read_to_string(root.join(format!("tests/fixtures/ops/{name}.toml"))).unwrap();
        assert!(
            docs.contains(&format!("```toml\n{text}```")),
            "docs/operations.md does not show {name}.toml"
        );
        let repo = repo_with(name, &text);
        repo.write("README.md", "x\n");
        repo.vizier().arg("validate").assert().code(0);
        if name == "gate-approval" {
            repo.vizier()
                .args(["run", name, "--detach"])
                .assert()
                .code(0);
            wait_until("the approval wait", || {
                manifests(&repo)
                    .first()
                    .is_some_and(|m| node(m, "ok")["status"] == "waiting_on_approval")
            });
            let job = node(&manifests(&repo)[0], "ok")["job_id"]
                .as_str()
                .unwrap()
                .to_owned();
            repo.vizier()
                .args(["jobs", "approve", &job])
                .assert()
                .code(0);
            wait_until("the run to end", || {
                manifests(&repo)[0]["outcome"] == "succeeded"
            });
            assert!(repo.join("shipped.txt").exists());
        } else {
            repo.vizier().args(["run", name]).assert().code(0);
        }
    }
}

/// `locks = [{ key = "branch:${branch}" }]` was used literally, so runs for two different branches
/// shut each other out. The key is substituted like args; each run holds its own branch's lock.
#[test]
fn lock_keys_substitute_params_so_two_branches_do_not_share_a_lock() {
    let body = "[params]\nbranch = \"main\"\nother = \"main\"\n\n[[nodes]]\nid = \"hold\"\nkind = \"shell\"\nuses = \"cap.env.shell.command.run\"\nlocks = [{ key = \"branch:${branch}\", mode = \"exclusive\" }]\n# Succeeds only while the other branch's run holds its own lock at the same time.\nargs = { command = \"touch held-${branch}; i=0; while [ ! -f held-${other} ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; [ -f held-${other} ]\" }\n";
    let repo = repo_with("lock", &template("t", body));
    for (branch, other) in [("a", "b"), ("b", "a")] {
        repo.vizier()
            .args(["run", "lock", "--detach"])
            .args(["--set", &format!("branch={branch}")])
            .args(["--set", &format!("other={other}")])
            .assert()
            .code(0);
    }
    wait_until("both runs to end", || {
        let m = manifests(&repo);
        m.len() == 2 && m.iter().all(|m| m["finished_at"].is_string())
    });
    let mut keys = Vec::new();
    for m in manifests(&repo) {
        assert_eq!(node(&m, "hold")["status"], "succeeded", "{m:#}");
        let job_id = node(&m, "hold")["job_id"].as_str().unwrap().to_owned();
        let record: Value =
            serde_json::from_str(&repo.read(&format!(".vizier/jobs/{job_id}/job.json"))).unwrap();
        keys.push(
            record["schedule"]["locks"][0]["key"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    keys.sort();
    assert_eq!(keys, ["branch:a", "branch:b"]);
}

/// The `VIZIER_*` names `docs/ci.md` lists for nodes, read from its table.
pub fn documented_variables() -> Vec<String> {
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ci.md"),
    )
    .unwrap();
    let names: Vec<String> = docs
        .lines()
        .filter_map(|l| l.strip_prefix("| `VIZIER_"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, _)| format!("VIZIER_{name}"))
        .collect();
    assert_eq!(names.len(), 12, "{names:?}");
    names
}

/// A `set -u` script reading every documented variable, and the changed-files file: passes only
/// when each is set and the file exists.
pub fn strict_env_template() -> String {
    let reads: String = documented_variables()
        .iter()
        .map(|n| format!("printf '%s=%s\\n' {n} \"${n}\"; "))
        .collect();
    format!(
        "id = \"template.env\"\nversion = \"v1\"\n\n[[nodes]]\nid = \"env\"\nkind = \"shell\"\nuses = \"cap.env.shell.cicd.run\"\nargs = {{ command = {:?} }}\n",
        format!(
            "set -u; {{ {reads}}} > env.txt; test -f \"$VIZIER_CHANGED_FILES\"; cat \"$VIZIER_CHANGED_FILES\" >> changed.txt"
        )
    )
}

/// Plain `vizier run` left 10 of the 12 documented `VIZIER_*` variables unset, so a `set -u` script
/// that passes on GitHub failed locally. Every one is set (empty where there is no value), and
/// `VIZIER_CHANGED_FILES` names a file.
#[test]
fn a_set_u_script_sees_every_documented_variable_in_a_plain_run() {
    let repo = repo_with("env", &strict_env_template());
    repo.vizier().args(["run", "env"]).assert().code(0);
    let env = repo.read("env.txt");
    let sha = repo.git(&["rev-parse", "HEAD"]);
    for expected in [
        format!("VIZIER_SHA={}", sha.trim()),
        "VIZIER_REF=refs/heads/main".to_owned(),
        "VIZIER_REF_NAME=main".to_owned(),
        "VIZIER_REF_TYPE=branch".to_owned(),
        "VIZIER_EVENT_NAME=local".to_owned(),
        "VIZIER_BEFORE=".to_owned(),
        "VIZIER_COMMIT_MESSAGE=init".to_owned(),
    ] {
        assert!(
            env.lines().any(|l| l == expected),
            "{expected} not in\n{env}"
        );
    }
}
