//! `vizier ci`: validate every template, read the push, run the configured templates for the pushed
//! commit, and leave a complete record: annotations, grouped logs, the step summary, outputs, and
//! the artifacts folder.

use super::Output;
use super::args::{CiArgs, CiFormat};
use crate::ci::CiOutcome;
use crate::ci::github::{Annotation, Outputs, Runner, grouped_log};
use crate::ci::push;
use crate::ci::report::{self, finish};
use crate::ci::summary::Summary;
use crate::diagnostic::render_human;
use crate::error::Result;
use crate::exit;
use crate::launch::{self, Prepared};
use crate::runner;
use crate::store::{Manifest, Store};
use crate::validate::validate;
use crate::workspace::{WorkTree, default_paths};

pub fn run(args: CiArgs, out: &mut Output) -> Result<u8> {
    out.set_quiet(args.quiet);
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
    let artifacts =
        push::make_artifacts_dir(&root, args.artifacts_dir.as_deref(), config.as_ref())?;
    let mut outputs = Outputs::new();
    outputs.set("artifacts-dir", artifacts.display().to_string())?;
    if report.errors() > 0 {
        let annotations: Vec<Annotation> = report
            .diagnostics
            .iter()
            .map(Annotation::from_diagnostic)
            .collect();
        let limited = report::annotate(&artifacts, annotations)?;
        if github {
            out.write_always(&limited.commands());
        } else {
            out.write_always(&render_human(
                &report.diagnostics,
                &report.sources,
                out.color(),
            ));
        }
        out.write(&format!(
            "vizier ci: {} template error(s); nothing was run\n",
            report.errors()
        ));
        let summary = Summary {
            runs: Vec::new(),
            overflow: limited.overflow,
            notes: vec![format!(
                "{} template error(s): nothing was run.",
                report.errors()
            )],
        };
        finish(&gh, &artifacts, &summary, outputs, &[], CiOutcome::Failed)?;
        return Ok(exit::FAILED);
    }

    // 2. The push.
    let push = push::load_keeping_event(args.event_path.clone(), &artifacts)?;
    if let Some(deleted) = push.deleted_ref() {
        out.write(&format!(
            "vizier ci: `{deleted}` was deleted; nothing to run\n"
        ));
        let summary = Summary {
            notes: vec![format!("`{deleted}` was deleted: nothing to run.")],
            ..Summary::default()
        };
        finish(&gh, &artifacts, &summary, outputs, &[], CiOutcome::Skipped)?;
        return Ok(exit::OK);
    }
    let push::Framed {
        trigger,
        notes,
        warnings,
    } = push::trigger(&root, &push, &artifacts)?;

    // 3.–4. One run per configured template.
    let templates = push::templates(&args.templates, config.as_ref());
    let store = Store::new(&root);
    let mut finished: Vec<Manifest> = Vec::new();
    for name in &templates {
        let resolved = launch::resolve(&ws, &cwd, name, config.as_ref())?;
        let prepared =
            launch::prepare_with(&root, &resolved, &[], trigger.clone(), args.user_config);
        let mut plan = match prepared? {
            Prepared::Ready(plan) => *plan,
            Prepared::Invalid(report) => {
                out.write_always(&render_human(&report.diagnostics, &report.sources, false));
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
            let log = report::node_log(&store, &node.job_id);
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
        let failures = crate::failure::failures(&store, &manifest);
        out.write_always(&super::failure::render(&failures, github || gh.actions));
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
        &gh,
        &artifacts,
        &finished,
        &manifest_paths,
        warnings,
        notes,
        outputs,
    )?;
    if github {
        out.write_always(&concluded.limited_commands);
    }
    let failed = concluded.failed;
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
