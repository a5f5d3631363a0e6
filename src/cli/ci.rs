//! `vizier ci`: parses its flags and renders what `ci::run` reports — findings, each run's start,
//! its nodes' logs fenced for the runner, its end and failures — and picks the exit code.

use super::Output;
use super::args::{CiArgs, CiFormat};
use crate::ci::github::{Runner, grouped_log};
use crate::ci::report;
use crate::ci::run::{CiEnd, CiInput, Event};
use crate::diagnostic::render_human;
use crate::error::Result;
use crate::exit;
use crate::runner;
use crate::validate::Report;

pub fn run(args: CiArgs, out: &mut Output) -> Result<u8> {
    out.set_quiet(args.quiet);
    let cwd = super::current_dir()?;
    let ws = super::vizier_workspace(&cwd)?;
    let gh = Runner::from_env();
    let format = args.format.unwrap_or(if gh.actions {
        CiFormat::Github
    } else {
        CiFormat::Text
    });
    let github = format == CiFormat::Github;
    // Under GitHub Actions the runner reads workflow commands from any output, so child output is
    // fenced whatever the format: a log line never becomes a command.
    let fence = github || gh.actions;
    let input = CiInput {
        ws: &ws,
        cwd: &cwd,
        gh: &gh,
        artifacts_dir: args.artifacts_dir.as_deref(),
        event_path: args.event_path.clone(),
        templates: &args.templates,
        user_config: args.user_config,
    };
    let end = crate::ci::run::run(input, &mut |event| {
        match event {
            Event::Invalid { report, limited } => {
                let commands = github.then(|| limited.commands());
                render_invalid(report, commands.as_deref(), out);
            }
            Event::Deleted(deleted) => out.write(&format!(
                "vizier ci: `{deleted}` was deleted; nothing to run\n"
            )),
            Event::NotCompiled(report) => {
                out.write_always(&render_human(&report.diagnostics, &report.sources, false));
            }
            Event::Started {
                run_id,
                template,
                ref_name,
                sha,
            } => out.write(&format!(
                "vizier ci: run {run_id} ({template}) for {ref_name} at {}\n",
                short(sha)
            )),
            Event::Ended {
                store,
                manifest,
                failures,
            } => {
                for node in &manifest.nodes {
                    let log = report::node_log(store, &node.job_id);
                    let title = format!("{} · {}", node.node_id, node.status);
                    if fence {
                        out.write(&grouped_log(&title, &log)?);
                    } else {
                        out.write(&format!("--- {title}\n{log}"));
                    }
                }
                out.write(&format!(
                    "vizier ci: run {} {}\n",
                    manifest.run_id,
                    manifest.outcome.map_or("ended", |o| o.as_str())
                ));
                out.write_always(&super::failure::render(failures, fence));
            }
        }
        Ok(())
    })?;
    let (concluded, artifacts) = match end {
        CiEnd::Invalid => return Ok(exit::FAILED),
        CiEnd::NothingToRun => return Ok(exit::OK),
        CiEnd::Concluded {
            concluded,
            artifacts,
        } => (concluded, artifacts),
    };
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

/// Template errors, as GitHub workflow `commands` (annotations) when given, else for a person; then
/// that nothing was run. `vizier ci` and `vizier ci plan` say it alike.
pub(super) fn render_invalid(report: &Report, commands: Option<&str>, out: &mut Output) {
    match commands {
        Some(commands) => out.write_always(commands),
        None => out.write_always(&render_human(
            &report.diagnostics,
            &report.sources,
            out.color(),
        )),
    }
    out.write(&format!(
        "vizier ci: {} template error(s); nothing was run\n",
        report.errors()
    ));
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
