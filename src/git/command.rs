//! The one place vizier runs the `git` program: argv only, never a shell, stdin closed, stdout and
//! stderr captured (never the caller's terminal), and failures that name the command.
//!
//! Two ways, by whose repository git must see:
//! - [`run_in`]: an operation on a named work dir. `GIT_DIR`, `GIT_WORK_TREE` and `GIT_INDEX_FILE`
//!   are cleared, since a calling hook may have set them to point git somewhere else.
//! - [`run_here`]: a hook's read of the repository git is committing or pushing in. The variables
//!   git set for the hook are kept: `git commit <path>` names a temporary index in
//!   `GIT_INDEX_FILE`, and that index is what the commit will hold.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Command, Stdio};

/// What a finished git command left.
pub struct Out {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// The command line, for messages: `git worktree add …`.
    pub line: String,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == 0
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim().to_owned()
    }

    /// Git's own reason: its `fatal:` / `error:` lines when it printed any (not the progress
    /// and `hint:` lines around them), else its stderr, else its stdout, else the exit code.
    pub fn reason(&self) -> String {
        let lines: Vec<&str> = self.stderr.lines().map(str::trim_end).collect();
        if let Some(first) = lines
            .iter()
            .position(|l| l.starts_with("fatal:") || l.starts_with("error:"))
        {
            return lines[first..]
                .iter()
                .filter(|l| !l.starts_with("hint:") && !l.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("\n");
        }
        let err = self.stderr.trim();
        if !err.is_empty() {
            return err.to_owned();
        }
        let out = self.text();
        if !out.is_empty() {
            return out;
        }
        format!("exit code {}", self.code)
    }

    /// `` `git …` failed: <git's reason> ``.
    pub fn failure(&self) -> String {
        format!("`{}` failed: {}", self.line, self.reason())
    }
}
/// `git a b c`, for messages and logs.
pub fn line(args: &[OsString]) -> String {
    format!(
        "git {}",
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// Runs git in the work dir `dir`, with the variables that would point it elsewhere cleared.
/// `Err` (naming the command) only when git cannot be started at all.
pub fn run_in<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Result<Out, String> {
    let mut cmd = Command::new("git");
    cmd.env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    spawn(cmd, dir, args)
}

/// Runs git in `dir` with the environment git gave this process (a hook's reads).
pub fn run_here<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Result<Out, String> {
    spawn(Command::new("git"), dir, args)
}

fn spawn<S: AsRef<OsStr>>(mut cmd: Command, dir: &Path, args: &[S]) -> Result<Out, String> {
    let args: Vec<OsString> = args.iter().map(|a| a.as_ref().to_owned()).collect();
    let line = line(&args);
    let output = cmd
        .args(&args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| format!("cannot run `{line}`: {e}"))?;
    Ok(Out {
        code: crate::exit::of_status(output.status),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        line,
    })
}
