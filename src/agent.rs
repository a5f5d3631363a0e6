//! Running the configured agent (`agent.invoke`): its argv — never through a shell —
//! in the execution root, with the prompt on stdin and its stdout/stderr on this process's (the job's
//! log files, written live, so `vizier jobs tail --follow` shows the agent as it works).
//!
//! The agent gets a process group of its own, so a timeout stops everything it started (TERM, then
//! KILL), not just the first process. Because that group is not the job's, a `vizier jobs cancel`
//! (which signals the job's group) would miss it; so while the agent runs, this process catches
//! TERM/INT/HUP and stops the agent's group before it ends itself.
//!
//! What the agent printed is also kept as the run's `agent_output` payload, so a later node (such as
//! `plan.persist`) can use it: it is the byte range the agent appended to the stdout log.
//!
//! Not here: finding the prompt and the config (the `agent.invoke` operation does that) or anything
//! about what the agent does to the files.

pub mod claude;
pub mod codex;
pub mod format;
pub mod gemini;
pub mod preset;
pub mod stream;

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::process;

/// The exit code recorded for an agent stopped by its timeout (as `timeout(1)` uses).
pub const TIMEOUT_EXIT: i32 = 124;
/// Used when `timeout_secs` is not configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
/// The artifact type of the payload that keeps what the agent printed.
pub const OUTPUT_TYPE: &str = "agent_output";
/// At most this much of the agent's stdout is kept in the payload (the log keeps all of it).
const OUTPUT_LIMIT: u64 = 16 * 1024 * 1024;
/// How long a stopped agent gets between TERM and KILL.
const TIMEOUT_GRACE: Duration = Duration::from_secs(2);
/// Shorter when the job itself is being stopped: `jobs cancel` KILLs the job after 3 s.
const CANCEL_GRACE: Duration = Duration::from_secs(1);

/// One invocation.
pub struct Invocation<'a> {
    /// argv; the first element is the program.
    pub command: &'a [String],
    pub dir: &'a Path,
    pub env: Vec<(String, String)>,
    pub prompt: &'a str,
    pub timeout: Duration,
    /// Where the agent's process group is noted while it runs (the job's [`GROUP_FILE`]).
    pub group_file: Option<PathBuf>,
}

/// The file in a job's folder that names its agent's process group while the agent runs. The agent
/// has a group of its own, so a timeout or a cancel stops it and its children without stopping the
/// job process; but a `kill -9` of the job process would then leave the agent running, outside the
/// job's group. The tick that finds the job vanished reads this file and stops that group too. The
/// note is removed as soon as the agent has ended, so it never names a group that could be reused.
pub const GROUP_FILE: &str = "agent.pgid";

/// Removes the group note when the agent has ended.
pub(crate) struct GroupNote(Option<PathBuf>);

impl Drop for GroupNote {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Starts the agent in a process group of its own, in the execution root, with the prompt's pipe on
/// stdin (and stdout piped when `piped_stdout`), and notes its group for the job.
pub(crate) fn spawn_agent(inv: &Invocation<'_>, piped_stdout: bool) -> Result<(Child, GroupNote)> {
    let Some((program, args)) = inv.command.split_first() else {
        return Err(Error::Usage("the agent command is empty".into()));
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(inv.dir)
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .process_group(0);
    if piped_stdout {
        cmd.stdout(Stdio::piped());
    }
    let child = cmd.spawn().map_err(|source| Error::Spawn {
        what: format!("the agent `{program}`"),
        source,
    })?;
    let note = GroupNote(inv.group_file.clone().filter(|path| {
        crate::store::write_atomic(path, child.id().to_string().as_bytes()).is_ok()
    }));
    Ok((child, note))
}

/// The agent group a job noted, if its note is there and names a plausible group.
pub fn noted_group(job_dir: &Path) -> Option<u32> {
    let bytes = crate::store::guard::read_regular(&job_dir.join(GROUP_FILE)).ok()?;
    let pgid: u32 = std::str::from_utf8(&bytes).ok()?.trim().parse().ok()?;
    (pgid > 1).then_some(pgid)
}

/// How the agent ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It exited by itself (or died of a signal: 128 + signal).
    Exited(i32),
    /// Stopped after `timeout`.
    TimedOut,
    /// Stopped because this job was told to stop (`vizier jobs cancel`).
    Stopped,
}

impl Ending {
    /// The code recorded in the job: the agent's own, 124 for a timeout, 143 (TERM) when stopped.
    pub fn exit_code(self) -> i32 {
        match self {
            Ending::Exited(code) => code,
            Ending::TimedOut => TIMEOUT_EXIT,
            Ending::Stopped => 128 + libc::SIGTERM,
        }
    }
}

#[derive(Debug)]
pub struct Report {
    pub ending: Ending,
    pub duration: Duration,
    /// What the agent wrote to stdout, when stdout is a file that could be read back.
    pub output: Option<String>,
}

/// Runs the agent to its end (or its timeout).
pub fn invoke(inv: &Invocation<'_>) -> Result<Report> {
    let log = StdoutLog::open();
    let _signals = StopSignals::install();
    let started = Instant::now();
    let (mut child, _note) = spawn_agent(inv, false)?;
    feed_stdin(&mut child, inv.prompt);
    let ending = wait(&mut child, started + inv.timeout)?;
    let duration = started.elapsed();
    Ok(Report {
        ending,
        duration,
        output: log.and_then(|l| l.appended()),
    })
}

/// Writes the prompt on a thread of its own (an agent may write before it reads, and a large prompt
/// would otherwise fill the pipe and deadlock), then closes stdin. An agent that never reads its
/// stdin is not an error: the write fails with a broken pipe, which is ignored.
fn feed_stdin(child: &mut Child, prompt: &str) {
    if let Some(mut stdin) = child.stdin.take() {
        let prompt = prompt.as_bytes().to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&prompt);
        });
    }
}

/// Waits for the agent, stopping its group at the deadline or when this job is told to stop.
fn wait(child: &mut Child, deadline: Instant) -> Result<Ending> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait().map_err(wait_error)? {
            return Ok(Ending::Exited(process::exit_code(status)));
        }
        if STOP.load(Ordering::SeqCst) {
            stop(child, CANCEL_GRACE)?;
            return Ok(Ending::Stopped);
        }
        let now = Instant::now();
        if now >= deadline {
            stop(child, TIMEOUT_GRACE)?;
            return Ok(Ending::TimedOut);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// TERM to the agent's group, KILL to whatever of it is left after `grace`, then reap the agent.
fn stop(child: &mut Child, grace: Duration) -> Result<()> {
    let group = child.id();
    process::signal_group(group, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if child.try_wait().map_err(wait_error)?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Also when the leader is gone: its children may have ignored TERM.
    process::signal_group(group, libc::SIGKILL);
    child.wait().map_err(wait_error)?;
    Ok(())
}

fn wait_error(source: std::io::Error) -> Error {
    Error::Spawn {
        what: "the agent (waiting for it)".into(),
        source,
    }
}

/// This process's stdout when it is a regular file (the job's log), with its length before the agent
/// started: what the agent appends after that is its output.
struct StdoutLog {
    file: File,
    start: u64,
}

impl StdoutLog {
    fn open() -> Option<StdoutLog> {
        Self::of(std::io::stdout().as_fd())
    }

    /// The job's stdout log is opened for reading too (`process::spawn_job`), so a duplicate of the
    /// descriptor reads it back with `pread`: plain POSIX, no `/proc/self/fd`. A stdout that is not
    /// readable (opened write-only by someone else) gives `None`, as a pipe or a terminal does.
    fn of(fd: std::os::fd::BorrowedFd<'_>) -> Option<StdoutLog> {
        // SAFETY: F_GETFL reads the descriptor's flags; the descriptor is borrowed, so open.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
        if flags < 0 || flags & libc::O_ACCMODE == libc::O_WRONLY {
            return None;
        }
        let file = File::from(fd.try_clone_to_owned().ok()?);
        let meta = file.metadata().ok()?;
        meta.is_file().then(|| StdoutLog {
            file,
            start: meta.len(),
        })
    }

    fn appended(&self) -> Option<String> {
        let end = self.file.metadata().ok()?.len();
        let len = end.saturating_sub(self.start).min(OUTPUT_LIMIT);
        let mut buf = vec![0; usize::try_from(len).ok()?];
        self.file.read_exact_at(&mut buf, self.start).ok()?;
        Some(String::from_utf8_lossy(&buf).into_owned())
    }
}

#[cfg(test)]
mod stdout_log_tests {
    use super::*;
    use std::fs::OpenOptions;

    /// The POSIX read-back of stdout, on a log opened as `process::spawn_job` opens it.
    #[test]
    fn a_readable_append_log_gives_back_what_was_appended_and_a_write_only_one_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stdout.log");
        std::fs::write(&path, "earlier output\n").unwrap();
        let mut log = OpenOptions::new()
            .append(true)
            .read(true)
            .open(&path)
            .unwrap();
        let reader = StdoutLog::of(log.as_fd()).expect("a readable regular file");
        log.write_all(b"the agent's answer").unwrap();
        assert_eq!(reader.appended().as_deref(), Some("the agent's answer"));

        let write_only = OpenOptions::new().append(true).open(&path).unwrap();
        assert!(StdoutLog::of(write_only.as_fd()).is_none());
        let (read_end, _write_end) = std::io::pipe().unwrap();
        assert!(
            StdoutLog::of(read_end.as_fd()).is_none(),
            "a pipe is no log"
        );
    }
}

/// Set by the signal handler; read by [`wait`].
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_signal: libc::c_int) {
    // Only an atomic store: the one thing a signal handler may safely do here.
    STOP.store(true, Ordering::SeqCst);
}

const STOP_SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// Catches the stop signals while alive; restores the previous dispositions when dropped.
struct StopSignals {
    previous: Vec<(libc::c_int, libc::sigaction)>,
}

impl StopSignals {
    fn install() -> StopSignals {
        STOP.store(false, Ordering::SeqCst);
        let mut previous = Vec::new();
        for signal in STOP_SIGNALS {
            // SAFETY: a zeroed sigaction is a valid value; the handler only performs an atomic
            // store, which is async-signal-safe; the pointers are to live locals.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut action.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(signal, &action, &mut old) == 0 {
                    previous.push((signal, old));
                }
            }
        }
        StopSignals { previous }
    }
}

impl Drop for StopSignals {
    fn drop(&mut self) {
        for (signal, old) in &self.previous {
            // SAFETY: restores a disposition that sigaction itself returned.
            unsafe {
                libc::sigaction(*signal, old, std::ptr::null_mut());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    fn run(command: &[String], prompt: &str, timeout: Duration) -> Report {
        let dir = tempfile::tempdir().unwrap();
        invoke(&Invocation {
            command,
            dir: dir.path(),
            env: vec![("AGENT_TEST".into(), "yes".into())],
            prompt,
            timeout,
            group_file: None,
        })
        .unwrap()
    }

    #[test]
    fn the_agent_group_is_noted_while_it_runs_and_the_note_removed_after() {
        let dir = tempfile::tempdir().unwrap();
        let note = dir.path().join(GROUP_FILE);
        // The note is written right after the start: wait for it, then compare it with our pid.
        let script = format!(
            "n='{}'; i=0; while [ ! -s \"$n\" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done; \
             test \"$(cat \"$n\")\" = \"$$\"",
            note.display()
        );
        let command = vec!["sh".to_owned(), "-c".to_owned(), script];
        let report = invoke(&Invocation {
            command: &command,
            dir: dir.path(),
            env: Vec::new(),
            prompt: "",
            timeout: Duration::from_secs(30),
            group_file: Some(note.clone()),
        })
        .unwrap();
        assert_eq!(
            report.ending,
            Ending::Exited(0),
            "the note names the agent's group"
        );
        assert!(!note.exists(), "the note is gone once the agent ended");
        assert_eq!(noted_group(dir.path()), None);
    }

    #[test]
    fn the_prompt_arrives_on_stdin_and_the_code_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("seen");
        let script = format!(
            "cat > '{}'; test \"$AGENT_TEST\" = yes && exit 7",
            out.display()
        );
        let report = run(&sh(&script), "hello agent", Duration::from_secs(30));
        assert_eq!(report.ending, Ending::Exited(7));
        assert_eq!(std::fs::read_to_string(out).unwrap(), "hello agent");
    }

    #[test]
    fn a_large_prompt_to_an_agent_that_ignores_stdin_does_not_deadlock() {
        let prompt = "x".repeat(1 << 20);
        let report = run(&sh("exit 0"), &prompt, Duration::from_secs(30));
        assert_eq!(report.ending, Ending::Exited(0));
    }

    #[test]
    fn a_timeout_stops_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        // A grandchild that ignores TERM: only the KILL to the group stops it.
        let script = format!(
            "sh -c 'trap \"\" TERM; echo $$ > \"{}\"; while :; do sleep 1; done' & wait",
            pidfile.display()
        );
        let started = Instant::now();
        let report = run(&sh(&script), "", Duration::from_millis(300));
        assert_eq!(report.ending, Ending::TimedOut);
        assert_eq!(report.ending.exit_code(), TIMEOUT_EXIT);
        assert!(started.elapsed() < Duration::from_secs(10));
        let pid: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while process::alive(&process::process_id(pid)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !process::alive(&process::process_id(pid)),
            "grandchild {pid} survived"
        );
    }

    #[test]
    fn a_missing_program_is_a_spawn_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = invoke(&Invocation {
            command: &["no-such-agent-program".to_owned()],
            dir: dir.path(),
            env: Vec::new(),
            prompt: "",
            timeout: Duration::from_secs(5),
            group_file: None,
        })
        .unwrap_err();
        assert!(err.to_string().contains("no-such-agent-program"), "{err}");
    }
}
