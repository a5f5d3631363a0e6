//! `vizier ci`: validate every template, read the push, run the configured templates for the pushed
//! commit, and leave a complete record: annotations, the step summary, outputs, and the artifacts
//! folder. What a person sees on the way (the findings, each run's start, its nodes' logs, its end)
//! is handed to the caller as [`Event`]s; `cli/ci.rs` renders them.

use std::path::{Path, PathBuf};

use super::CiOutcome;
use super::github::{Annotation, Limited, Outputs, Runner};
use super::push;
use super::report::{self, Concluded, finish};
use super::summary::Summary;
use crate::error::Result;
use crate::failure::Failure;
use crate::launch::{self, Prepared};
use crate::runner;
use crate::store::{Manifest, Store};
use crate::validate::{Report, validate};
use crate::workspace::{WorkTree, Workspace, default_paths};

pub struct CiInput<'a> {
    pub ws: &'a Workspace,
    pub cwd: &'a Path,
    pub gh: &'a Runner,
    pub artifacts_dir: Option<&'a Path>,
    pub event_path: Option<PathBuf>,
    /// `--template` values; empty means the configured ones.
    pub templates: &'a [String],
    pub user_config: bool,
}

/// What happens on the way, in order.
pub enum Event<'a> {
    /// Template errors: nothing runs. `limited` holds the annotations GitHub shows.
    Invalid {
        report: &'a Report,
        limited: &'a Limited,
    },
    /// The pushed ref was deleted: nothing runs.
    Deleted(&'a str),
    /// A template did not compile for this push (the CI step fails; nothing more runs).
    NotCompiled(&'a Report),
    /// A run starts.
    Started {
        run_id: &'a str,
        template: &'a str,
        ref_name: &'a str,
        sha: &'a str,
    },
    /// A run ended; its nodes' logs are in the store.
    Ended {
        store: &'a Store,
        manifest: &'a Manifest,
        failures: &'a [Failure],
    },
}

/// How `vizier ci` ended.
pub enum CiEnd {
    /// Template errors, or a template that did not compile: the step fails.
    Invalid,
    /// Nothing to run (a deleted ref): the step passes.
    NothingToRun,
    /// The runs ended (or an interrupt stopped them) and the record is written.
    Concluded {
        concluded: Concluded,
        artifacts: PathBuf,
    },
}

pub fn run(input: CiInput<'_>, on: &mut dyn FnMut(Event<'_>) -> Result<()>) -> Result<CiEnd> {
    let root = input.ws.root.clone();
    // 1. Validate everything first; a bad template means no run at all.
    let reader = WorkTree { root: root.clone() };
    let report = validate(&reader, &default_paths(&reader)?)?;
    let (config, _) = launch::load_config(&root)?;
    let artifacts = push::make_artifacts_dir(&root, input.artifacts_dir, config.as_ref())?;
    let mut outputs = Outputs::new();
    outputs.set("artifacts-dir", artifacts.display().to_string())?;
    if report.errors() > 0 {
        let annotations: Vec<Annotation> = report
            .diagnostics
            .iter()
            .map(Annotation::from_diagnostic)
            .collect();
        let limited = report::annotate(&artifacts, annotations)?;
        on(Event::Invalid {
            report: &report,
            limited: &limited,
        })?;
        let summary = Summary {
            runs: Vec::new(),
            overflow: limited.overflow,
            notes: vec![format!(
                "{} template error(s): nothing was run.",
                report.errors()
            )],
        };
        finish(
            input.gh,
            &artifacts,
            &summary,
            outputs,
            &[],
            CiOutcome::Failed,
        )?;
        return Ok(CiEnd::Invalid);
    }

    // 2. The push.
    let push = push::load_keeping_event(input.event_path.clone(), &artifacts)?;
    if let Some(deleted) = push.deleted_ref() {
        on(Event::Deleted(deleted))?;
        let summary = Summary {
            notes: vec![format!("`{deleted}` was deleted: nothing to run.")],
            ..Summary::default()
        };
        finish(
            input.gh,
            &artifacts,
            &summary,
            outputs,
            &[],
            CiOutcome::Skipped,
        )?;
        return Ok(CiEnd::NothingToRun);
    }
    let push::Framed {
        trigger,
        notes,
        warnings,
    } = push::trigger(&root, &push, &artifacts)?;

    // 3.–4. One run per configured template.
    let templates = push::templates(input.templates, config.as_ref());
    let store = Store::new(&root);
    let mut finished: Vec<Manifest> = Vec::new();
    for name in &templates {
        let resolved = launch::resolve(input.ws, input.cwd, name, config.as_ref())?;
        let prepared =
            launch::prepare_with(&root, &resolved, &[], trigger.clone(), input.user_config);
        let mut plan = match prepared? {
            Prepared::Ready(plan) => *plan,
            Prepared::Invalid(report) => {
                on(Event::NotCompiled(&report))?;
                return Ok(CiEnd::Invalid);
            }
        };
        launch::materialize(&store, &mut plan, true)?;
        on(Event::Started {
            run_id: &plan.run_id,
            template: name,
            ref_name: &trigger.ref_name,
            sha: &trigger.sha,
        })?;
        let manifest = runner::drive(&store, &plan.run_id, &mut |_| {})?;
        let failures = crate::failure::failures(&store, &manifest);
        on(Event::Ended {
            store: &store,
            manifest: &manifest,
            failures: &failures,
        })?;
        finished.push(manifest);
        if runner::interrupt::received().is_some() {
            break; // interrupted: record and upload what ran, start nothing more
        }
    }

    // 5. Artifacts, annotations, summary, outputs.
    let mut manifest_paths = Vec::new();
    for m in &finished {
        manifest_paths.push(report::copy_run(&store, m, &artifacts)?);
    }
    let concluded = report::conclude(
        input.gh,
        &artifacts,
        &finished,
        &manifest_paths,
        warnings,
        notes,
        outputs,
    )?;
    Ok(CiEnd::Concluded {
        concluded,
        artifacts,
    })
}
