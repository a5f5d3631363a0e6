//! What a running agent is doing, for the live status line of `vizier run`: the last line its
//! job's log got (with a streaming output format, the readable line of the latest event).

use std::io::{Read, Seek, SeekFrom};

use crate::store::{Manifest, Status, Store};

/// How much of the end of a log is read to find its last line.
const TAIL: u64 = 4096;
/// The most of a line the status line shows.
const WIDTH: usize = 40;

/// ` · agent: [claude] tool call: Bash …` for each running agent node with a log line; empty
/// otherwise.
pub fn agent_progress(store: &Store, m: &Manifest) -> String {
    let mut out = String::new();
    for n in &m.nodes {
        if n.status != Status::Running || n.executor_class.as_deref() != Some("agent") {
            continue;
        }
        if let Some(line) = last_line(&store.job_dir(&n.job_id).join("stdout.log")) {
            out.push_str(&format!(" · {}: {line}", n.node_id));
        }
    }
    out
}

fn last_line(path: &std::path::Path) -> Option<String> {
    // Never a FIFO or a link in the job folder (a blocking open would wait for a writer).
    let mut file = crate::store::guard::open_regular(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL))).ok()?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    // No escape sequences from the log reach the terminal.
    let clean: String = line.chars().filter(|c| !c.is_control()).collect();
    Some(if clean.chars().count() > WIDTH {
        format!("{}…", clean.chars().take(WIDTH).collect::<String>())
    } else {
        clean
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_is_clipped_and_has_no_control_characters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stdout.log");
        std::fs::write(
            &path,
            format!("first\n[claude] says: \x1b[31m{}\n\n", "x".repeat(100)),
        )
        .unwrap();
        let line = last_line(&path).unwrap();
        assert!(line.starts_with("[claude] says: [31mxxx"), "{line}");
        assert_eq!(line.chars().count(), WIDTH + 1);
        assert_eq!(last_line(&dir.path().join("none")), None);
    }
}
