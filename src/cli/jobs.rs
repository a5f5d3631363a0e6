//! `vizier jobs …`: list, show, schedule, tail, retry, cancel, approve, reject, gc.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;

use serde_json::{Value, json};

use super::Output;
use super::args::{JobsAction, JobsArgs, ListFormat, ScheduleFormat, ShowFormat};
use crate::error::{Error, Result};
use crate::exit;
use crate::ops::{self, Released};
use crate::runner::{self, Cache, Scope};
use crate::store::{JobRecord, Manifest, Store};
use crate::template::Class;
use crate::workspace::Workspace;

pub fn run(args: JobsArgs, out: &mut Output) -> Result<u8> {
    out.set_json_errors(match &args.action {
        JobsAction::List { format, .. } => *format == ListFormat::Json,
        JobsAction::Show { format, .. } => *format == ShowFormat::Json,
        JobsAction::Schedule { format, .. } => *format == ScheduleFormat::Json,
        _ => false,
    });
    let cwd = super::current_dir()?;
    let ws = Workspace::locate(&cwd).ok_or_else(|| Error::NoVizier { root: cwd.clone() })?;
    let store = Store::new(&ws.root);
    match args.action {
        JobsAction::List {
            run,
            status,
            format,
        } => list(&store, run, status, format, out),
        JobsAction::Show { id, format } => show(&store, &id, format, out),
        JobsAction::Schedule { run, format } => schedule_view(&store, run.as_deref(), format, out),
        JobsAction::Tail { id, follow } => tail(&store, &id, follow, out),
        JobsAction::Retry { id } => retry(&store, &id, out),
        JobsAction::Cancel { id } => cancel(&store, &id, out),
        JobsAction::Approve { id } => decide(&store, &id, None, out),
        JobsAction::Reject { id, reason } => decide(
            &store,
            &id,
            Some(reason.unwrap_or_else(|| "rejected".into())),
            out,
        ),
        JobsAction::Gc { keep } => gc(&store, keep, out),
        JobsAction::Clean {
            run_id,
            delete_branches,
        } => clean(&store, &run_id, delete_branches, out),
    }
}

/// Bring undriven runs up to date before reading (finish vanished jobs, start ready ones).
fn refresh(store: &Store, out: &mut Output) {
    if !store.dir.exists() {
        return;
    }
    match runner::tick(store, Scope::Undriven, &mut Cache::default()) {
        Ok(report) => {
            for w in report.warnings {
                out.error_text(&format!("warning: {w}\n"));
            }
        }
        Err(e) => out.error_text(&format!("warning: could not update the schedule: {e}\n")),
    }
}

/// One row of `jobs list`.
struct Row {
    job_id: String,
    run_id: String,
    node_id: String,
    status: String,
    attempt: Option<u64>,
    operation: String,
    started_at: Option<String>,
    finished_at: Option<String>,
}

fn str_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn rows(store: &Store, out: &mut Output) -> Vec<Row> {
    let (manifests, bad) = store.all_manifests();
    for (path, e) in bad {
        out.error_text(&format!("warning: skipping run manifest {path}: {e}\n"));
    }
    let covered: HashSet<&str> = manifests
        .iter()
        .flat_map(|m| m.nodes.iter().map(|n| n.job_id.as_str()))
        .collect();
    let mut rows = Vec::new();
    for m in &manifests {
        for n in &m.nodes {
            rows.push(Row {
                job_id: n.job_id.clone(),
                run_id: m.run_id.clone(),
                node_id: n.node_id.clone(),
                status: n.status.as_str().to_owned(),
                attempt: Some(u64::from(n.attempts)),
                operation: n
                    .executor_operation
                    .clone()
                    .or_else(|| n.control_policy.clone())
                    .unwrap_or_default(),
                started_at: n.started_at.clone(),
                finished_at: n.finished_at.clone(),
            });
        }
    }
    // Records without a manifest: older versions' jobs, listed from their own job.json, by id.
    let mut legacy: Vec<String> = store
        .job_ids()
        .into_iter()
        .filter(|id| !covered.contains(id.as_str()))
        .collect();
    legacy.sort();
    for id in legacy {
        if crate::store::ids::run_of(&id).is_some_and(|run| store.is_materializing(run)) {
            continue;
        }
        match store.read_job(&id) {
            Ok(record) => {
                let md = &record.metadata;
                rows.push(Row {
                    job_id: if record.job_id.is_empty() {
                        id.clone()
                    } else {
                        record.job_id.clone()
                    },
                    run_id: str_of(md.get("workflow_run_id")),
                    node_id: str_of(md.get("workflow_node_id")),
                    status: if record.status.is_empty() {
                        "unknown".into()
                    } else {
                        record.status.clone()
                    },
                    attempt: md.get("workflow_node_attempt").and_then(|v| {
                        v.as_u64()
                            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    }),
                    operation: md
                        .get("workflow_executor_operation")
                        .or_else(|| md.get("workflow_control_policy"))
                        .map(|v| str_of(Some(v)))
                        .or_else(|| {
                            md.get("workflow_capability_id")
                                .map(|v| format!("{} (legacy)", str_of(Some(v))))
                        })
                        .unwrap_or_default(),
                    started_at: record.started_at.clone(),
                    finished_at: record.finished_at.clone(),
                });
            }
            // Removed since the folder was listed (`jobs gc`): gone, not corrupt.
            Err(Error::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => out.error_text(&format!("warning: skipping corrupt job record: {e}\n")),
        }
    }
    rows
}

fn list(
    store: &Store,
    run: Option<String>,
    status: Option<String>,
    format: ListFormat,
    out: &mut Output,
) -> Result<u8> {
    refresh(store, out);
    let all = rows(store, out);
    if let Some(id) = &run
        && !all.iter().any(|r| &r.run_id == id)
        && !store.manifest_path(id).exists()
    {
        return Err(Error::Usage(format!(
            "no run `{id}` in {}",
            store.dir.display()
        )));
    }
    let rows: Vec<Row> = all
        .into_iter()
        .filter(|r| run.as_ref().is_none_or(|id| &r.run_id == id))
        .filter(|r| status.as_ref().is_none_or(|s| &r.status == s))
        .collect();
    if format == ListFormat::Json {
        let list: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "job_id": r.job_id, "run_id": r.run_id, "node_id": r.node_id, "status": r.status,
                    "attempt": r.attempt, "operation": r.operation,
                    "started_at": r.started_at, "finished_at": r.finished_at,
                })
            })
            .collect();
        out.write(&format!(
            "{}\n",
            super::output::versioned(&[("jobs", Value::Array(list))], true)
        ));
        return Ok(exit::OK);
    }
    let mut text = String::with_capacity(rows.len() * 120);
    let width = rows
        .iter()
        .map(|r| r.job_id.len())
        .max()
        .unwrap_or(6)
        .max(6);
    // Written into one buffer: a `format!` per row was a fifth of a 10,000-job listing.
    use std::fmt::Write as _;
    let _ = writeln!(
        text,
        "{:width$}  {:21}  {:7}  {:26}  FINISHED",
        "JOB", "STATUS", "ATTEMPT", "OPERATION"
    );
    for r in &rows {
        let _ = write!(text, "{:width$}  {:21}  ", r.job_id, r.status);
        match r.attempt {
            Some(a) => write!(text, "{a:<7}"),
            None => write!(text, "{:7}", ""),
        }
        .ok();
        let _ = writeln!(
            text,
            "  {:26}  {}",
            r.operation,
            r.finished_at.as_deref().unwrap_or_default()
        );
    }
    out.write(&text);
    Ok(exit::OK)
}

fn show(store: &Store, id: &str, format: ShowFormat, out: &mut Output) -> Result<u8> {
    check_id_arg(id)?;
    refresh(store, out);
    if !store.job_path(id).exists() {
        return Err(Error::Usage(format!(
            "no job `{id}` in {}",
            store.dir.display()
        )));
    }
    let mut record = store.read_job(id)?;
    let mut runs = None;
    let mut locks = Vec::new();
    // The manifest is the scheduling truth; a record can trail it by one step after a crash.
    if let Ok((run_id, index)) = runner::run_of_job(store, id)
        && let Ok(Some(m)) = store.load_manifest(&run_id)
    {
        let n = &m.nodes[index];
        record.status = n.status.as_str().to_owned();
        record.exit_code = n.exit_code;
        record.started_at = n.started_at.clone();
        record.finished_at = n.finished_at.clone();
        record.reason = n.reason.clone();
        let plan = store.load_plan(&run_id).ok();
        runs = plan
            .as_ref()
            .and_then(|p| p.nodes.get(index).and_then(crate::failure::command_of));
        locks = plan
            .and_then(|p| p.nodes.get(index).map(|n| n.locks.clone()))
            .unwrap_or_default();
    }
    if format == ShowFormat::Json {
        out.write(&format!(
            "{}\n",
            super::output::versioned(
                &[("job", serde_json::to_value(&record).expect("serializes"))],
                true
            )
        ));
        return Ok(exit::OK);
    }
    let mut text = show_text(&record);
    if let Some(runs) = runs {
        // What the node itself runs; `command` above is how the scheduler starts the job.
        let mut lines = runs.lines();
        text.push_str(&format!("runs:  {}\n", lines.next().unwrap_or_default()));
        for line in lines {
            text.push_str(&format!("       {line}\n"));
        }
    }
    if !locks.is_empty() {
        let list: Vec<String> = locks.iter().map(super::run_help::lock_text).collect();
        text.push_str(&format!("locks: {}\n", list.join(", ")));
    }
    out.write(&text);
    Ok(exit::OK)
}

/// `label: value` rows, identity first; legacy ids are labelled as such, nothing is invented.
pub fn show_text(record: &JobRecord) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut push = |label: &str, value: String| {
        if !value.is_empty() {
            rows.push((label.to_owned(), value));
        }
    };
    push("job_id", record.job_id.clone());
    push("status", record.status.clone());
    let md = &record.metadata;
    for key in [
        "workflow_executor_class",
        "workflow_executor_operation",
        "workflow_control_policy",
    ] {
        if let Some(v) = md.get(key) {
            let mut value = str_of(Some(v));
            if key == "workflow_executor_class"
                && let Some(class) = Class::parse_executor_class(&value)
            {
                value = class.to_string();
            }
            push(key, value);
        }
    }
    if let Some(v) = md.get("workflow_capability_id") {
        push("workflow_capability_id (legacy)", str_of(Some(v)));
    }
    push("command", record.command.join(" "));
    push("created_at", record.created_at.clone().unwrap_or_default());
    push("started_at", record.started_at.clone().unwrap_or_default());
    push(
        "finished_at",
        record.finished_at.clone().unwrap_or_default(),
    );
    push(
        "exit_code",
        record.exit_code.map(|c| c.to_string()).unwrap_or_default(),
    );
    push("pid", record.pid.map(|c| c.to_string()).unwrap_or_default());
    push("reason", record.reason.clone().unwrap_or_default());
    if let Some(a) = &record.approval {
        push(
            "approval",
            format!(
                "{}{}",
                a.state,
                a.reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        );
    }
    push("after", record.schedule.after.join(", "));
    if let Some(w) = &record.schedule.wait_reason {
        push("wait_reason", format!("{}: {}", w.kind, w.detail));
    }
    push("waited_on", record.schedule.waited_on.join("; "));
    for (k, v) in md {
        if matches!(
            k.as_str(),
            "workflow_executor_class"
                | "workflow_executor_operation"
                | "workflow_control_policy"
                | "workflow_capability_id"
        ) {
            continue;
        }
        push(k, str_of(Some(v)));
    }
    for (k, v) in &record.extra {
        push(k, str_of(Some(v)));
    }
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(l, v)| format!("{:width$}  {}\n", format!("{l}:"), v, width = width + 1))
        .collect()
}

fn schedule_view(
    store: &Store,
    run: Option<&str>,
    format: ScheduleFormat,
    out: &mut Output,
) -> Result<u8> {
    refresh(store, out);
    let (mut manifests, bad) = store.all_manifests();
    for (path, e) in bad {
        out.error_text(&format!("warning: skipping run manifest {path}: {e}\n"));
    }
    if let Some(id) = run {
        manifests.retain(|m| m.run_id == id);
        if manifests.is_empty() {
            return Err(Error::Usage(format!(
                "no run `{id}` in {}",
                store.dir.display()
            )));
        }
    }
    let text = match format {
        ScheduleFormat::Json => {
            let runs: Vec<Value> = manifests
                .iter()
                .map(|m| {
                    json!({
                        "run_id": m.run_id,
                        "template": m.template.as_ref().map(|t| format!("{}@{}", t.id, t.version)),
                        "outcome": m.outcome,
                        "after_runs": m.after_runs,
                        "nodes": m.nodes.iter().map(|n| json!({
                            "job_id": n.job_id, "node_id": n.node_id, "status": n.status,
                            "after": n.after, "wait_reason": n.wait_reason, "attempts": n.attempts,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            format!(
                "{}\n",
                super::output::versioned(&[("runs", Value::Array(runs))], false)
            )
        }
        ScheduleFormat::Mermaid => manifests.iter().map(mermaid).collect::<Vec<_>>().join("\n"),
        ScheduleFormat::Dag => {
            let mut s = String::new();
            for m in &manifests {
                s.push_str(&format!("{}{}\n", m.run_id, after_runs_text(m)));
                for n in &m.nodes {
                    let after: Vec<&str> = n
                        .after
                        .iter()
                        .map(|a| a.strip_prefix(&format!("{}-", m.run_id)).unwrap_or(a))
                        .collect();
                    s.push_str(&format!(
                        "  {} [{}]{}\n",
                        n.node_id,
                        n.status,
                        if after.is_empty() {
                            String::new()
                        } else {
                            format!(" ← {}", after.join(", "))
                        }
                    ));
                }
            }
            s
        }
        ScheduleFormat::Summary => {
            let mut s = String::new();
            for m in &manifests {
                let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                for n in &m.nodes {
                    *counts.entry(n.status.as_str()).or_default() += 1;
                }
                s.push_str(&format!(
                    "{}  {}  {}  {}{}\n",
                    m.run_id,
                    m.template.as_ref().map_or(String::new(), |t| t.id.clone()),
                    m.outcome.map_or("active", |o| o.as_str()),
                    counts
                        .iter()
                        .map(|(k, v)| format!("{v} {k}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    after_runs_text(m)
                ));
                if !m.is_finished() {
                    for n in m.nodes.iter().filter(|n| !n.status.is_terminal()) {
                        let why = n
                            .wait_reason
                            .as_ref()
                            .map(|w| format!(" ({}: {})", w.kind, w.detail))
                            .unwrap_or_default();
                        s.push_str(&format!("  {} {}{}\n", n.node_id, n.status, why));
                    }
                }
            }
            s
        }
    };
    out.write(&text);
    Ok(exit::OK)
}

/// `  after run-…, run-…` for a run started with `--after`; empty otherwise.
fn after_runs_text(m: &Manifest) -> String {
    if m.after_runs.is_empty() {
        String::new()
    } else {
        format!("  after {}", m.after_runs.join(", "))
    }
}

/// A mermaid flowchart of one run, nodes coloured by status, stages as subgraphs: the same drawing as
/// the CI step summary's.
pub fn mermaid(m: &Manifest) -> String {
    format!(
        "%% {}\n{}",
        m.run_id,
        crate::ci::summary::flowchart(&m.nodes)
    )
}

fn tail(store: &Store, id: &str, follow: bool, out: &mut Output) -> Result<u8> {
    check_id_arg(id)?;
    if !store.job_dir(id).is_dir() {
        return Err(Error::Usage(format!("no job `{id}`")));
    }
    let paths = [
        store.job_dir(id).join("stdout.log"),
        store.job_dir(id).join("stderr.log"),
    ];
    let mut offsets = [0u64; 2];
    loop {
        for (k, path) in paths.iter().enumerate() {
            let Ok(mut file) = crate::store::guard::open_regular(path) else {
                continue;
            };
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            if len < offsets[k] {
                offsets[k] = 0; // truncated by a retry
            }
            if len == offsets[k] {
                continue;
            }
            let _ = file.seek(SeekFrom::Start(offsets[k]));
            let mut buf = Vec::new();
            let _ = file.read_to_end(&mut buf);
            offsets[k] += buf.len() as u64;
            out.write(&String::from_utf8_lossy(&buf));
        }
        if !follow {
            return Ok(exit::OK);
        }
        let done = match runner::run_of_job(store, id) {
            Ok((run, index)) => store
                .load_manifest(&run)?
                .is_none_or(|m| m.nodes[index].status.is_terminal()),
            Err(_) => true,
        };
        if done {
            return Ok(exit::OK);
        }
        std::thread::sleep(Duration::from_millis(200));
        refresh(store, out);
    }
}

fn report_cleanup(notes: &[Released], out: &mut Output) {
    for n in notes {
        if n.ok {
            out.write(&format!("{}\n", n.note));
        } else {
            out.error_text(&format!("warning: {}\n", n.note));
        }
    }
}

fn retry(store: &Store, id: &str, out: &mut Output) -> Result<u8> {
    let done = runner::person::retry(store, id)?;
    report_cleanup(&done.cleanup, out);
    let (count, run_id) = (done.count, &done.run_id);
    if done.whole_run {
        out.write(&format!(
            "rewound {count} job(s) of run {run_id} that ended badly and their downstream; the run continues\n"
        ));
    } else {
        out.write(&format!(
            "rewound {id} and everything downstream of it; run {run_id} continues\n"
        ));
    }
    Ok(exit::OK)
}

/// A job id typed on the command line names a folder of the store, never a path: a job id, or
/// the single-name id of an older version's record (exit 2 otherwise).
fn check_id_arg(id: &str) -> Result<()> {
    if crate::store::is_store_name(id) {
        Ok(())
    } else {
        Err(Error::Usage(crate::store::ids::explain_job_id(id)))
    }
}

fn cancel(store: &Store, id: &str, out: &mut Output) -> Result<u8> {
    let notes = runner::person::cancel(store, id)?;
    report_cleanup(&notes, out);
    out.write(&format!("cancelled {id}\n"));
    Ok(exit::OK)
}

fn decide(store: &Store, id: &str, reject: Option<String>, out: &mut Output) -> Result<u8> {
    let verb = runner::person::decide(store, id, reject)?;
    out.write(&format!("{verb} {id}\n"));
    Ok(exit::OK)
}

fn gc(store: &Store, keep: usize, out: &mut Output) -> Result<u8> {
    let done = runner::person::gc(store, keep)?;
    for (path, e) in &done.skipped {
        out.error_text(&format!("warning: skipping run manifest {path}: {e}\n"));
    }
    out.write(&format!(
        "removed {} finished run(s); kept {}\n",
        done.removed, done.kept
    ));
    Ok(exit::OK)
}

fn clean(store: &Store, run_id: &str, delete_branches: bool, out: &mut Output) -> Result<u8> {
    let cleaned = ops::clean_run(store, run_id, delete_branches)?;
    let mut text = String::new();
    for w in &cleaned.worktrees {
        text.push_str(&format!("removed worktree `{w}`\n"));
    }
    for s in &cleaned.sentinels {
        text.push_str(&format!("cleared merge sentinel `{s}`\n"));
    }
    for b in &cleaned.branches_deleted {
        text.push_str(&format!("deleted branch `{b}`\n"));
    }
    for b in &cleaned.branches_kept {
        text.push_str(&format!("kept branch {b}\n"));
    }
    text.push_str(&format!(
        "cleaned run {run_id}: {} job record(s) removed\n",
        cleaned.records
    ));
    out.write(&text);
    Ok(exit::OK)
}
