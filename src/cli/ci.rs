//! `vizier ci`: validate every template, read the push, run the configured templates for the pushed
//! commit, and leave a complete record: annotations, grouped logs, the step summary, outputs, and
//! the artifacts folder (SPEC.md §12).

use std::path::{Path, PathBuf};

use super::Output;
use super::args::{CiArgs, CiFormat};
use crate::ci::event::{EventSource, FetchPolicy, PushEvent, changed_paths, write_changed_files};
use crate::ci::github::{self, Annotation, Location, Outputs, Runner, grouped_log, limit};
use crate::ci::manifest_view::ManifestView;
use crate::ci::summary::Summary;
use crate::compile::Trigger;
use crate::diagnostic::render_human;
use crate::error::{Error, Result};
use crate::exit;
use crate::launch::{self, Prepared};
use crate::runner;
use crate::store::{Manifest, Store};
use crate::validate::validate;
use crate::workspace::{WorkTree, default_paths};

pub fn run(args: CiArgs, out: &mut Output) -> Result<u8> {
    let cwd = super::current_dir()?;
    let ws = super::vizier_workspace(&cwd)?;
    let root = ws.root.clone();
    let gh = Runner::from_env();
    let format = args.format.unwrap_or(if gh.actions {
        CiFormat::Github
    } else {
        CiFormat::Text
    });
    let github = format == CiFormat::Github;

    // 1. Validate everything first; a bad template means no run at all.
    let reader = WorkTree { root: root.clone() };
    let report = validate(&reader, &default_paths(&reader)?)?;
    let (config, _) = launch::load_config(&root)?;
    let artifacts = artifacts_dir(&root, args.artifacts_dir.as_deref(), config.as_ref())?;
    std::fs::create_dir_all(&artifacts).map_err(|source| Error::Write {
        path: artifacts.clone(),
        source,
    })?;
    let mut outputs = Outputs::new();
    outputs.set("artifacts-dir", artifacts.display().to_string())?;
    if report.errors() > 0 {
        let annotations: Vec<Annotation> = report
            .diagnostics
            .iter()
            .map(Annotation::from_diagnostic)
            .collect();
        let limited = limit(annotations);
        if github {
            out.write(&limited.commands());
        } else {
            out.write(&render_human(
                &report.diagnostics,
                &report.sources,
                out.color(),
            ));
        }
        out.write(&format!(
            "vizier ci: {} template error(s); nothing was run\n",
            report.errors()
        ));
        let mut all: Vec<&Annotation> = limited.shown.iter().chain(&limited.overflow).collect();
        all.sort_by_key(|a| a.rank);
        write_file(
            &artifacts.join("annotations.txt"),
            &lines(all.iter().map(|a| a.text.as_str())),
        )?;
        let summary = Summary {
            runs: Vec::new(),
            overflow: limited.overflow,
            notes: vec![format!(
                "{} template error(s): nothing was run.",
                report.errors()
            )],
        };
        finish(&gh, &artifacts, &summary, outputs, &[], "failure")?;
        return Ok(exit::FAILED);
    }

    // 2. The push.
    let source = EventSource::from_env(args.event_path.clone());
    let have_event =
        source.event_path.is_some() || source.sha.is_some() || source.git_ref.is_some();
    let event = if have_event {
        Some(PushEvent::load(&source)?)
    } else {
        None
    };
    if let Some(event) = &event {
        if let Some(path) = &source.event_path {
            let _ = std::fs::copy(path, artifacts.join("event.json"));
        }
        if event.is_noop() {
            out.write(&format!(
                "vizier ci: `{}` was deleted; nothing to run\n",
                event.git_ref
            ));
            let summary = Summary {
                notes: vec![format!("`{}` was deleted: nothing to run.", event.git_ref)],
                ..Summary::default()
            };
            finish(&gh, &artifacts, &summary, outputs, &[], "skipped")?;
            return Ok(exit::OK);
        }
    }
    let mut trigger = match &event {
        Some(event) => Trigger {
            kind: event.event_name.clone(),
            sha: event.sha.clone(),
            ref_name: event.git_ref.clone(),
            before: event.before.clone(),
            ..Trigger::default()
        },
        None => launch::local_trigger(&root),
    };
    let mut notes = Vec::new();
    let mut warnings = Vec::new();
    if let Some(event) = &event {
        let changed_file = artifacts.join("changed-files.txt");
        match changed_paths(&root, event, &FetchPolicy::default()) {
            Ok(changed) => {
                write_changed_files(&changed_file, &changed.paths)?;
                if let Some(note) = changed.note {
                    notes.push(note);
                }
                trigger.changed_paths = changed.paths;
                for (k, v) in event.env(Some(&changed_file)) {
                    trigger
                        .env
                        .insert(k.to_owned(), v.to_string_lossy().into_owned());
                }
            }
            Err(e) => {
                warnings.push(Annotation::new(
                    github::Level::Warning,
                    github::rank::NODE_BLOCKED,
                    Some("vizier: changed paths"),
                    None,
                    &format!("could not compute the changed paths: {e}"),
                ));
                for (k, v) in event.env(None) {
                    trigger
                        .env
                        .insert(k.to_owned(), v.to_string_lossy().into_owned());
                }
            }
        }
    }

    // 3.–4. One run per configured template.
    let templates = if !args.templates.is_empty() {
        args.templates.clone()
    } else {
        config
            .as_ref()
            .map(|c| c.ci.templates.clone())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| vec!["ci".to_owned()])
    };
    let store = Store::new(&root);
    let mut finished: Vec<Manifest> = Vec::new();
    for name in &templates {
        let resolved = launch::resolve(&ws, &cwd, name, config.as_ref())?;
        let mut plan = match launch::prepare(&root, &resolved, &[], trigger.clone())? {
            Prepared::Ready(plan) => *plan,
            Prepared::Invalid(report) => {
                out.write(&render_human(&report.diagnostics, &report.sources, false));
                return Ok(exit::FAILED);
            }
        };
        launch::materialize(&store, &mut plan, true)?;
        out.write(&format!(
            "vizier ci: run {} ({}) for {} at {}\n",
            plan.run_id,
            name,
            trigger.ref_name,
            short(&trigger.sha)
        ));
        let manifest = runner::drive(&store, &plan.run_id, &mut |_| {})?;
        for node in &manifest.nodes {
            let log = node_log(&store, &node.job_id);
            let title = format!("{} · {}", node.node_id, node.status);
            // Under GitHub Actions the runner reads workflow commands from any output, so child
            // output is fenced whatever the format: a log line never becomes a command.
            if github || gh.actions {
                out.write(&grouped_log(&title, &log)?);
            } else {
                out.write(&format!("--- {title}\n{log}"));
            }
        }
        out.write(&format!(
            "vizier ci: run {} {}\n",
            manifest.run_id,
            manifest.outcome.as_deref().unwrap_or("ended")
        ));
        finished.push(manifest);
        if runner::interrupt::received().is_some() {
            break; // interrupted: record and upload what ran, start nothing more
        }
    }

    // 5. Artifacts, annotations, summary, outputs.
    let mut annotations = warnings;
    for m in &finished {
        let template_path = m
            .template
            .as_ref()
            .map(|t| t.path.clone())
            .unwrap_or_default();
        for n in m.nodes.iter().filter(|n| n.status.is_bad()) {
            annotations.push(Annotation::node_outcome(
                &m.run_id,
                &n.node_id,
                n.status.as_str(),
                n.exit_code.map(i64::from),
                Some(&Location {
                    file: template_path.clone(),
                    line: None,
                    column: None,
                }),
            ));
        }
    }
    let limited = limit(annotations);
    if github {
        out.write(&limited.commands());
    }
    let mut all: Vec<&Annotation> = limited.shown.iter().chain(&limited.overflow).collect();
    all.sort_by_key(|a| a.rank);
    write_file(
        &artifacts.join("annotations.txt"),
        &lines(all.iter().map(|a| a.text.as_str())),
    )?;
    let mut manifest_paths = Vec::new();
    let mut views = Vec::new();
    for m in &finished {
        let path = copy_run(&store, m, &artifacts)?;
        views.push(ManifestView::load(&path)?);
        manifest_paths.push(path.display().to_string());
    }
    let failed = finished
        .iter()
        .any(|m| m.outcome.as_deref() != Some("succeeded"));
    let summary = Summary {
        runs: views,
        overflow: limited.overflow,
        notes,
    };
    let run_ids: Vec<String> = finished.iter().map(|m| m.run_id.clone()).collect();
    outputs.set("run-ids", run_ids.join("\n"))?;
    outputs.set("manifest", manifest_paths.join("\n"))?;
    finish(
        &gh,
        &artifacts,
        &summary,
        outputs,
        &run_ids,
        if failed { "failure" } else { "success" },
    )?;
    if !github {
        out.write(&format!(
            "vizier ci: {}; artifacts in {}\n",
            if failed { "failed" } else { "passed" },
            artifacts.display()
        ));
    }
    if let Some(signal) = runner::interrupt::received() {
        out.error_text(&format!(
            "vizier ci: interrupted by {}; the run was stopped and recorded as cancelled\n",
            runner::interrupt::signal_name(signal)
        ));
        return Ok(runner::interrupt::exit_code(signal));
    }
    Ok(if failed { exit::FAILED } else { exit::OK })
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// The artifacts folder: `--artifacts-dir` is the operator's choice and may be anywhere; `[ci]
/// artifacts_dir` comes from the tracked config (anyone who can push writes it), so it must stay
/// inside the repository (no absolute path, no `..`, no symlink out).
fn artifacts_dir(
    root: &Path,
    given: Option<&Path>,
    config: Option<&crate::config::Config>,
) -> Result<PathBuf> {
    if let Some(given) = given {
        return Ok(if given.is_absolute() {
            given.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|d| d.join(given))
                .unwrap_or_else(|_| given.to_path_buf())
        });
    }
    let configured = config.and_then(|c| c.ci.artifacts_dir.clone());
    let rel = configured
        .clone()
        .unwrap_or_else(|| ".vizier/artifacts".to_owned());
    crate::workspace::resolve_inside(root, &rel).map_err(|_| {
        Error::Usage(format!(
            "`[ci] artifacts_dir = \"{rel}\"` in .vizier/config.toml leaves the repository; \
             name a folder inside it, or pass `--artifacts-dir` to write elsewhere"
        ))
    })
}

fn lines<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut s = String::new();
    for item in items {
        s.push_str(item);
        s.push('\n');
    }
    s
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn node_log(store: &Store, job_id: &str) -> String {
    let mut log = String::new();
    for stream in ["stdout.log", "stderr.log"] {
        // A record is read only as a regular file (never blocking on a FIFO in its place).
        if let Ok(bytes) = crate::store::guard::read_regular(&store.job_dir(job_id).join(stream)) {
            log.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    log
}

/// Copies a run's manifest and job records and logs into the artifacts folder; returns the
/// manifest's path there.
fn copy_run(store: &Store, m: &Manifest, artifacts: &Path) -> Result<PathBuf> {
    let runs = artifacts.join("runs");
    std::fs::create_dir_all(&runs).map_err(|source| Error::Write {
        path: runs.clone(),
        source,
    })?;
    let manifest = runs.join(format!("{}.json", m.run_id));
    copy(&store.manifest_path(&m.run_id), &manifest)?;
    for n in &m.nodes {
        let dest = artifacts.join("jobs").join(&n.job_id);
        std::fs::create_dir_all(&dest).map_err(|source| Error::Write {
            path: dest.clone(),
            source,
        })?;
        for file in ["job.json", "stdout.log", "stderr.log", "outcome.json"] {
            let from = store.job_dir(&n.job_id).join(file);
            if std::fs::symlink_metadata(&from).is_ok_and(|m| m.is_file()) {
                copy(&from, &dest.join(file))?;
            }
        }
    }
    Ok(manifest)
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|source| Error::Write {
            path: to.to_path_buf(),
            source,
        })
}

/// Writes the summary (to the artifacts and the runner) and the step outputs.
fn finish(
    gh: &Runner,
    artifacts: &Path,
    summary: &Summary,
    mut outputs: Outputs,
    run_ids: &[String],
    outcome: &str,
) -> Result<()> {
    let markdown = summary.render();
    write_file(&artifacts.join("summary.md"), &markdown)?;
    if let Some(path) = &gh.step_summary {
        github::append_summary(path, &markdown)?;
    }
    if outputs.get("run-ids").is_none() {
        outputs.set("run-ids", run_ids.join("\n"))?;
    }
    if outputs.get("manifest").is_none() {
        outputs.set("manifest", "")?;
    }
    outputs.set("outcome", outcome)?;
    if let Some(path) = &gh.output {
        outputs.append_to(path)?;
    }
    Ok(())
}
