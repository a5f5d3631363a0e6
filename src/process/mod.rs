//! Child processes: starting a job as `vizier __workflow-node --job-id <id>` in its own process
//! group with its logs as stdout/stderr, telling whether a job's process still lives (by the lock it
//! holds on its claim, see [`liveness`]), the per-attempt claim that keeps a job from running
//! twice, and stopping a process group.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::error::{Error, Result};
use crate::store::{ProcessId, Store};

pub mod orphans;

/// Set for jobs started by a foreground `vizier run`: the job does not tick when it ends, because
/// its driver is waiting for it.
pub const DRIVER_ENV: &str = "VIZIER_DRIVER";
pub const ATTEMPT_ENV: &str = "VIZIER_ATTEMPT";
pub const ROOT_ENV: &str = "VIZIER_EXECUTION_ROOT";

pub mod liveness;

pub fn process_id(pid: u32) -> ProcessId {
    ProcessId {
        pid,
        start_ticks: liveness::start_ticks(pid),
    }
}

/// Whether the process is alive and is the one recorded (same start time, where that is known).
/// Only the pid is known here; a job's attempt and a run's driver are watched through their lock
/// files instead ([`attempt_alive`], [`driver_alive`]).
pub fn alive(process: &ProcessId) -> bool {
    liveness::pid_alive(process.pid, process.start_ticks)
}

/// Whether the process running an attempt lives. The claimant holds the claim file locked for its
/// whole life, so the lock answers; before the claim exists (the job is starting), the recorded
/// pid does.
pub fn attempt_alive(
    store: &Store,
    job_id: &str,
    attempt: u32,
    recorded: Option<&ProcessId>,
) -> bool {
    match liveness::life(&store.claim_path(job_id, attempt)) {
        liveness::Life::Held => true,
        liveness::Life::Free => false,
        liveness::Life::Missing => recorded.is_some_and(alive),
    }
}

/// `<store>/drivers/<run_id>.lock`: held by the foreground `vizier run` driving the run.
pub fn driver_lock_path(store: &Store, run_id: &str) -> std::path::PathBuf {
    store.dir.join("drivers").join(format!("{run_id}.lock"))
}

/// Marks this process as the driver of `run_id` for the rest of its life.
pub fn hold_driver(store: &Store, run_id: &str) -> Result<ProcessId> {
    let path = driver_lock_path(store, run_id);
    let made = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| liveness::hold(&path));
    made.map_err(|source| Error::Write { path, source })?;
    Ok(process_id(std::process::id()))
}

/// Whether the run's recorded driver lives: its lock when it has one, else its pid.
pub fn driver_alive(store: &Store, run_id: &str, driver: &ProcessId) -> bool {
    match liveness::life(&driver_lock_path(store, run_id)) {
        liveness::Life::Held => true,
        liveness::Life::Free => false,
        liveness::Life::Missing => alive(driver),
    }
}

/// Claims an attempt of a job for this process: true if it is ours to run, false if another
/// process already claimed it (a duplicate start after a crash). The claim stays locked by this
/// process until it exits, which is how others tell that the attempt's process lives.
pub fn claim(store: &Store, job_id: &str, attempt: u32) -> Result<bool> {
    let path = store.claim_path(job_id, attempt);
    store.check_job_dir(job_id)?;
    let me = process_id(std::process::id());
    let text = serde_json::to_string(&me).expect("pid serializes");
    // The claim appears with its whole content at once (a kill never leaves an empty claim), and
    // the file is also this process's life lock (see [`liveness`]).
    liveness::hold_new(&path, text.as_bytes()).map_err(|source| Error::Write { path, source })
}

/// The process that claimed an attempt, if any.
pub fn claimant(store: &Store, job_id: &str, attempt: u32) -> Option<ProcessId> {
    let bytes = crate::store::guard::read_regular(&store.claim_path(job_id, attempt)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Starts a job's process. Its stdout/stderr append to the job's logs.
pub fn spawn_job(
    store: &Store,
    job_id: &str,
    run_id: &str,
    attempt: u32,
    execution_root: &str,
    driven: bool,
) -> Result<Child> {
    let exe = std::env::current_exe().map_err(|source| Error::Read {
        path: "the vizier executable".into(),
        source,
    })?;
    let open_log = |stream: &str| {
        let path = store.job_dir(job_id).join(format!("{stream}.log"));
        // Readable too: an agent step reads back what it appended to stdout (src/agent.rs).
        crate::store::guard::create_nofollow(&path, true)
            .map_err(|source| Error::Write { path, source })
    };
    let mut cmd = Command::new(exe);
    cmd.args(["__workflow-node", "--job-id", job_id])
        .current_dir(&store.root)
        .stdin(Stdio::null())
        .stdout(Stdio::from(open_log("stdout")?))
        .stderr(Stdio::from(open_log("stderr")?))
        .env("VIZIER_RUN_ID", run_id)
        .env(ATTEMPT_ENV, attempt.to_string())
        .env(ROOT_ENV, execution_root)
        .process_group(0);
    if driven {
        cmd.env(DRIVER_ENV, std::process::id().to_string());
    } else {
        cmd.env_remove(DRIVER_ENV);
    }
    cmd.spawn().map_err(|source| Error::Spawn {
        what: format!("job {job_id}"),
        source,
    })
}

/// Sends a signal to a whole process group.
pub fn signal_group(pgid: u32, signal: i32) {
    // SAFETY: kill(2) with a negative pid signals a process group; it touches no memory of ours.
    unsafe {
        libc::kill(-(pgid as i32), signal);
    }
}

/// Stops a job's process group: TERM, then KILL if it is still there after `grace`.
pub fn stop_group(process: &ProcessId, grace: std::time::Duration) {
    if !alive(process) {
        // The leader is gone, but what it started may still run in its group.
        orphans::stop_orphans(&[process.pid]);
        return;
    }
    signal_group(process.pid, libc::SIGTERM);
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline {
        if !alive(process) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    signal_group(process.pid, libc::SIGKILL);
}

/// Runs shell text with `sh -c` in `dir`, with extra environment; stdout/stderr are this process's
/// (the job's logs). Returns the exit code (128 + signal when killed by one).
pub fn run_shell(text: &str, dir: &Path, env: &[(String, String)]) -> Result<i32> {
    let status = shell_command(text, dir, env).status().map_err(spawn_sh)?;
    Ok(exit_code(status))
}

/// As [`run_shell`], but stdout is captured and returned instead of going to the log (stderr still
/// goes to this process's stderr).
pub fn run_shell_capture(
    text: &str,
    dir: &Path,
    env: &[(String, String)],
) -> Result<(i32, Vec<u8>)> {
    let out = shell_command(text, dir, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(spawn_sh)?;
    Ok((exit_code(out.status), out.stdout))
}

fn shell_command(text: &str, dir: &Path, env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(shell_path());
    cmd.arg("-c")
        .arg(text)
        .current_dir(dir)
        .stdin(Stdio::null())
        .envs(env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// The shell, found once per process: `/bin/sh` where it exists (every POSIX system has it), else
/// the first `sh` along `PATH`. An absolute path spares each spawn the search along `PATH`, which
/// costs one failed program start per folder before the one holding `sh`.
fn shell_path() -> &'static std::path::Path {
    static SH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    SH.get_or_init(|| {
        let standard = std::path::PathBuf::from("/bin/sh");
        if is_executable(&standard) {
            return standard;
        }
        std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|dir| dir.join("sh"))
            .find(|p| p.is_absolute() && is_executable(p))
            .unwrap_or_else(|| "sh".into())
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn spawn_sh(source: std::io::Error) -> Error {
    Error::Spawn {
        what: "sh".into(),
        source,
    }
}

pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    crate::exit::of_status(status)
}
