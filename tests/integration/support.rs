//! A small builder for test repositories: a temp folder with `git init`, files, commits, and a
//! `vizier` command with an isolated environment.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_vizier");

pub struct Repo {
    pub dir: TempDir,
    pub home: TempDir,
}

/// Environment every child gets, so the developer's git config and hooks never leak into a test.
pub fn isolate(cmd: &mut StdCommand, home: &Path) {
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("NO_COLOR", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("VIZIER_SKIP_HOOKS")
        .env_remove("GITHUB_ACTIONS");
}

impl Repo {
    /// An empty git repository on branch `main`.
    pub fn new() -> Repo {
        let repo = Repo::bare_dir();
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// A temp folder that is not a git repository.
    pub fn bare_dir() -> Repo {
        Repo {
            dir: tempfile::tempdir().expect("temp dir"),
            home: tempfile::tempdir().expect("temp home"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) -> &Self {
        let path = self.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.join(rel)).unwrap()
    }

    /// Runs git and asserts it succeeded; returns stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let out = self.git_output(args);
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn git_output(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = StdCommand::new("git");
        cmd.args(args).current_dir(self.path());
        isolate(&mut cmd, self.home.path());
        cmd.output().expect("git runs")
    }

    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    /// The real binary, run in the repository root.
    pub fn vizier(&self) -> Command {
        let mut std = StdCommand::new(BIN);
        std.current_dir(self.path());
        isolate(&mut std, self.home.path());
        Command::from_std(std)
    }
}

/// A repository with one committed template under `.vizier/workflow/<alias>.toml`, its job store
/// ignored by git.
pub fn repo_with(alias: &str, text: &str) -> Repo {
    repo_with_config(alias, text, None, &[])
}

/// As [`repo_with`], with `.vizier/config.toml` when `config` is given and the folders `ignored`
/// (made, and ignored by git beside the job store).
pub fn repo_with_config(alias: &str, text: &str, config: Option<&str>, ignored: &[&str]) -> Repo {
    let repo = Repo::new();
    repo.write(&format!(".vizier/workflow/{alias}.toml"), text);
    if let Some(config) = config {
        repo.write(".vizier/config.toml", config);
    }
    let mut gitignore = String::from(".vizier/jobs/\n");
    for dir in ignored {
        gitignore.push_str(&format!("{dir}/\n"));
        std::fs::create_dir_all(repo.join(dir)).unwrap();
    }
    repo.write(".gitignore", &gitignore);
    repo.commit_all("init");
    repo
}

/// Every run manifest of the repository's job store, oldest first.
pub fn manifests(repo: &Repo) -> Vec<serde_json::Value> {
    let dir = repo.join(".vizier/jobs/runs");
    let mut out: Vec<serde_json::Value> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
                .collect()
        })
        .unwrap_or_default();
    out.sort_by_key(|m: &serde_json::Value| m["created_at"].as_str().unwrap_or("").to_owned());
    out
}

/// The manifest of `run_id`, as JSON.
pub fn run_manifest(repo: &Repo, run_id: &str) -> serde_json::Value {
    serde_json::from_str(&repo.read(&format!(".vizier/jobs/runs/{run_id}.json"))).unwrap()
}

/// `vizier run <args> --detach`: the run id it started.
pub fn detached_run(repo: &Repo, args: &[&str]) -> String {
    let out = repo
        .vizier()
        .arg("run")
        .args(args)
        .args(["--detach", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["run_id"].as_str().unwrap().to_owned()
}

pub fn node<'a>(manifest: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    manifest["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node_id"] == id)
        .unwrap_or_else(|| panic!("no node {id}"))
}

/// Waits (bounded) until `check` holds; panics with `what` otherwise.
pub fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// A minimal valid template with one shell node and a terminal.
pub const OK_TEMPLATE: &str = r#"id = "template.ok"
version = "v1"

[[nodes]]
id = "check"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "true" }

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "check" }]
"#;

/// A template with an unknown `uses` label on line 6.
pub const BAD_TEMPLATE: &str = r#"id = "template.bad"
version = "v1"

[[nodes]]
id = "check"
uses = "my-custom-thing"
"#;

/// Copies an executable for a test to run. `cp` makes the copy, not this process: a file this
/// multi-threaded test binary holds open for writing can leak into another test's child between
/// fork and exec, and running the copy then fails with "Text file busy".
pub fn copy_binary(from: &std::path::Path, to: &std::path::Path) {
    let copied = std::process::Command::new("cp")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp runs");
    assert!(copied.success(), "cp {} {}", from.display(), to.display());
}

/// Runs `vizier run <alias> --set <set>` once per entry of `sets`, all at the same time, and
/// asserts that every one succeeds.
pub fn run_concurrently(repo: &Repo, alias: &str, sets: &[String]) {
    let children: Vec<_> = sets
        .iter()
        .map(|set| {
            let mut cmd = std::process::Command::new(BIN);
            cmd.current_dir(repo.path())
                .args(["run", alias, "--set", set])
                .stdout(std::process::Stdio::null());
            isolate(&mut cmd, repo.home.path());
            cmd.spawn().unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
}

/// One vizier process seen by [`strace`]: the `execve` line that started it (its arguments) and
/// every call it made that was traced.
#[derive(Debug)]
pub struct Traced {
    pub exec: String,
    pub calls: String,
}

/// Runs `program args` in `dir` (with `repo`'s isolated environment) under strace (`-f -ff`: one trace file per process, tracing the
/// system calls named in `calls`, `execve` always) and returns its output and the processes that
/// ran the vizier binary, however deep below `program` they were started. Linux only; needs strace
/// on PATH (`.ci/run` installs it), and fails the test without it.
pub fn strace(
    repo: &Repo,
    dir: &Path,
    program: &str,
    args: &[&str],
    calls: &str,
) -> (std::process::Output, Vec<Traced>) {
    let strace = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("strace"))
        .find(|p| p.is_file())
        .expect("needs strace on PATH (`.ci/run` installs it: apt-get install strace)");
    let traces = tempfile::tempdir().unwrap();
    let mut cmd = StdCommand::new(strace);
    cmd.args([
        "-f",
        "-ff",
        "-qq",
        "-e",
        &format!("trace=execve,{calls}"),
        "-o",
    ])
    .arg(traces.path().join("t"))
    .arg(program)
    .args(args)
    .current_dir(dir);
    isolate(&mut cmd, repo.home.path());
    let out = cmd.output().unwrap();
    let mut seen = Vec::new();
    for e in std::fs::read_dir(traces.path()).unwrap() {
        let calls = std::fs::read_to_string(e.unwrap().path()).unwrap();
        // The last program the process ran; threads and other programs are left out.
        let exec = calls
            .lines()
            .rev()
            .find(|l| l.starts_with("execve(") && !l.contains("= -1"));
        if let Some(exec) = exec.filter(|l| l.contains(BIN)) {
            seen.push(Traced {
                exec: exec.to_owned(),
                calls: calls.clone(),
            });
        }
    }
    (out, seen)
}
