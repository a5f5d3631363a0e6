//! What to tell a person about a job that failed: the command it ran, the last lines of its logs,
//! and where the rest is. `vizier run` and `vizier ci` render it; `vizier jobs show` uses
//! [`command_of`] too.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::compile::PlanNode;
use crate::store::{Manifest, Store};

/// How many trailing lines of each log a failure report shows.
pub const TAIL_LINES: usize = 20;
/// How far from the end of a log the tail is looked for, so a huge log costs little.
const TAIL_BYTES: u64 = 64 * 1024;

/// One failed job of a finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub job_id: String,
    pub node_id: String,
    pub status: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    /// What the job ran, as the template gave it (`args.command`, `args.script`, a gate script,
    /// the agent's argv), when it ran something.
    pub command: Option<String>,
    pub stdout_tail: Vec<String>,
    pub stderr_tail: Vec<String>,
}

/// The command or script a node runs, from its resolved args.
pub fn command_of(node: &PlanNode) -> Option<String> {
    for key in ["command", "script"] {
        if let Some(v) = node.args.get(key).filter(|v| !v.trim().is_empty()) {
            return Some(v.clone());
        }
    }
    node.gates
        .iter()
        .filter(|g| matches!(g.kind.as_str(), "cicd" | "script"))
        .find_map(|g| g.script.clone())
        .filter(|s| !s.trim().is_empty())
}

/// The failed jobs (status `failed` or `blocked`) of `m`, in manifest order. Jobs blocked only
/// because something upstream failed are left out: the upstream failure is the story.
pub fn failures(store: &Store, m: &Manifest) -> Vec<Failure> {
    let plan = store.load_plan(&m.run_id).ok();
    m.nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| {
            matches!(
                n.status,
                crate::store::Status::Failed | crate::store::Status::Blocked
            )
        })
        .map(|(i, n)| {
            let plan_node = plan.as_ref().and_then(|p| p.nodes.get(i));
            let mut command = plan_node.and_then(command_of);
            if command.is_none()
                && let Some(agent) = n.metadata.get("agent_command").and_then(|v| v.as_array())
            {
                let argv: Vec<&str> = agent.iter().filter_map(|a| a.as_str()).collect();
                if !argv.is_empty() {
                    command = Some(argv.join(" "));
                }
            }
            let log = |name: &str| tail(&store.job_dir(&n.job_id).join(name), TAIL_LINES);
            Failure {
                job_id: n.job_id.clone(),
                node_id: n.node_id.clone(),
                status: n.status.as_str().to_owned(),
                exit_code: n.exit_code,
                reason: n.reason.clone(),
                command,
                stdout_tail: log("stdout.log"),
                stderr_tail: log("stderr.log"),
            }
        })
        .collect()
}

/// The last `lines` lines of a file (lossy UTF-8), empty when it is missing or empty, or not a
/// regular file (a FIFO in a job folder is never opened in a way that waits for a writer).
pub fn tail(path: &Path, lines: usize) -> Vec<String> {
    let Ok(mut file) = crate::store::guard::open_regular(path) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(TAIL_BYTES);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut buf = Vec::new();
    if file.read_to_end(&mut buf).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&buf);
    let mut all: Vec<&str> = text.lines().collect();
    if start > 0 && !all.is_empty() {
        all.remove(0); // cut in the middle
    }
    let from = all.len().saturating_sub(lines);
    all[from..].iter().map(|l| (*l).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let text: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let t = tail(&path, 3);
        assert_eq!(t, ["line 28", "line 29", "line 30"]);
        assert!(tail(&dir.path().join("missing"), 3).is_empty());
    }
}
