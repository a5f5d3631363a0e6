//! Running an agent whose stdout is a JSON-lines stream ([`OutputFormat`] other than text): its
//! stdout comes through a pipe to this process, which writes one readable line per event to its own
//! stdout (the job's log) as each arrives — so `vizier jobs tail --follow` shows progress — keeps
//! the raw stream beside the log, and picks the final answer out of it.
//!
//! The process handling (own group, prompt on stdin, timeout, stop on cancel) is the text mode's.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::format::{OutputFormat, Tracker};
use super::{Ending, Invocation, StopSignals, feed_stdin, spawn_agent, wait};
use crate::error::Result;

/// How long the reader may take after the agent exited (a grandchild may still hold the pipe).
const DRAIN: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct Streamed {
    pub ending: Ending,
    pub duration: Duration,
    /// The final answer, or why there is none.
    pub answer: std::result::Result<String, String>,
    pub events: usize,
    pub malformed: usize,
}

/// Runs the agent to its end (or its timeout), reading its stdout as `format`. `raw` is where the
/// stream itself is kept, line by line.
pub fn invoke_stream(
    inv: &Invocation<'_>,
    format: OutputFormat,
    raw: Option<PathBuf>,
) -> Result<Streamed> {
    let _signals = StopSignals::install();
    let started = Instant::now();
    let (mut child, _note) = spawn_agent(inv, true)?;
    let tracker = Arc::new(Mutex::new(Tracker::new(format)));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    if let Some(stdout) = child.stdout.take() {
        let tracker = Arc::clone(&tracker);
        std::thread::spawn(move || {
            read_stream(stdout, &tracker, raw);
            let _ = done_tx.send(());
        });
    } else {
        drop(done_tx);
    }
    feed_stdin(&mut child, inv.prompt);
    let ending = wait(&mut child, started + inv.timeout)?;
    let _ = done_rx.recv_timeout(DRAIN);
    let duration = started.elapsed();
    let t = tracker.lock().unwrap_or_else(|p| p.into_inner());
    Ok(Streamed {
        ending,
        duration,
        answer: t.finish(),
        events: t.events,
        malformed: t.malformed,
    })
}

fn read_stream(stdout: impl std::io::Read, tracker: &Mutex<Tracker>, raw: Option<PathBuf>) {
    let mut raw = raw.and_then(|path| {
        let _ = std::fs::remove_file(&path);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .ok()
    });
    let mut reader = BufReader::new(stdout);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if let Some(file) = raw.as_mut() {
            let _ = file.write_all(&buf);
        }
        let line = String::from_utf8_lossy(&buf);
        let readable = tracker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .feed(&line);
        if let Some(readable) = readable {
            let mut log = std::io::stdout().lock();
            let _ = writeln!(log, "{readable}").and_then(|()| log.flush());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str, timeout: Duration) -> Streamed {
        let dir = tempfile::tempdir().unwrap();
        let command = vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()];
        invoke_stream(
            &Invocation {
                command: &command,
                dir: dir.path(),
                env: Vec::new(),
                prompt: "the prompt",
                timeout,
                group_file: None,
            },
            OutputFormat::CodexJsonl,
            Some(dir.path().join("raw.jsonl")),
        )
        .unwrap()
    }

    #[test]
    fn the_answer_comes_from_the_stream_and_the_prompt_from_stdin() {
        let s = run(
            r#"read -r p; printf '{"type":"item.completed","item":{"type":"agent_message","text":"%s!"}}\n' "$p""#,
            Duration::from_secs(30),
        );
        assert_eq!(s.ending, Ending::Exited(0));
        assert_eq!(s.answer.as_deref(), Ok("the prompt!"));
        assert_eq!((s.events, s.malformed), (1, 0));
    }

    #[test]
    fn a_timeout_stops_a_streaming_agent() {
        let started = Instant::now();
        let s = run(
            "echo '{\"type\":\"turn.started\"}'; sleep 30",
            Duration::from_millis(300),
        );
        assert_eq!(s.ending, Ending::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(s.answer.is_err());
    }

    #[test]
    fn a_grandchild_holding_stdout_does_not_hang_the_node() {
        let started = Instant::now();
        let s = run(
            r#"(sleep 20 &) ; echo '{"type":"item.completed","item":{"type":"agent_message","text":"ok"}}'"#,
            Duration::from_secs(60),
        );
        assert_eq!(s.ending, Ending::Exited(0));
        assert_eq!(s.answer.as_deref(), Ok("ok"));
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
