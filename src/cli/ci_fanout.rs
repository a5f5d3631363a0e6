//! `vizier ci plan`, `vizier ci node`, `vizier ci collect`: one push's runs over many runners. The
//! work is in `ci::fanout`; this file parses, renders and picks exit codes.

use std::path::{Path, PathBuf};

use super::Output;
use super::args::{CiCollectArgs, CiFanout, CiFormat, CiNodeArgs, CiPlanArgs, CiPlanFormat};
use crate::ci::CiOutcome;
use crate::ci::fanout::parts::{self, CollectEnd, NodeEnd, PartInput};
use crate::ci::fanout::{FanoutPlan, push_plan};
use crate::ci::github::{Annotation, Outputs, Runner, grouped_log, limit};
use crate::ci::push;
use crate::error::{Error, Result};
use crate::exit;
use crate::launch;
use crate::store::{self, to_json};
use crate::validate::Report;
use crate::workspace::Workspace;

pub fn run(command: CiFanout, out: &mut Output) -> Result<u8> {
    match command {
        CiFanout::Plan(args) => plan(args, out),
        CiFanout::Node(args) => run_node(args, out),
        CiFanout::Collect(args) => run_collect(args, out),
    }
}

struct Setup {
    cwd: PathBuf,
    ws: Workspace,
    config: Option<crate::config::Config>,
    artifacts: PathBuf,
    gh: Runner,
}

fn setup(artifacts_dir: Option<&Path>) -> Result<Setup> {
    let cwd = super::current_dir()?;
    let ws = super::vizier_workspace(&cwd)?;
    let (config, _) = launch::load_config(&ws.root)?;
    let artifacts = push::make_artifacts_dir(&ws.root, artifacts_dir, config.as_ref())?;
    Ok(Setup {
        cwd,
        ws,
        config,
        artifacts,
        gh: Runner::from_env(),
    })
}

/// Renders template errors the way `vizier ci` does.
fn render_invalid(report: &Report, github: bool, out: &mut Output) {
    let annotations: Vec<Annotation> = report
        .diagnostics
        .iter()
        .map(Annotation::from_diagnostic)
        .collect();
    let commands = github.then(|| limit(annotations).commands());
    super::ci::render_invalid(report, commands.as_deref(), out);
}

fn plan(args: CiPlanArgs, out: &mut Output) -> Result<u8> {
    let s = setup(args.artifacts_dir.as_deref())?;
    let format = args.format.unwrap_or(if s.gh.actions {
        CiPlanFormat::Github
    } else {
        CiPlanFormat::Json
    });
    let github = format == CiPlanFormat::Github;
    if github && s.gh.output.is_none() {
        return Err(Error::Usage(
            "--format github writes to GITHUB_OUTPUT, which is not set".into(),
        ));
    }
    let now = store::now();
    let planned = push_plan::plan(push_plan::PlanInput {
        ws: &s.ws,
        cwd: &s.cwd,
        config: s.config.as_ref(),
        artifacts: &s.artifacts,
        event_path: args.event_path.clone(),
        templates: &args.templates,
        max_levels: usize::from(args.max_levels),
        now: &now,
    })?;
    let code = match &planned.invalid {
        Some(report) => {
            render_invalid(report, github, out);
            exit::FAILED
        }
        None => exit::OK,
    };
    let fanout = planned.fanout;
    if github {
        let mut outputs = Outputs::new();
        for (name, value) in fanout.github_outputs() {
            outputs.set(&name, value)?;
        }
        if let Some(path) = &s.gh.output {
            outputs.append_to(path)?;
        }
        out.write(&overview(&fanout));
    } else {
        out.write(&String::from_utf8_lossy(&to_json(&fanout)));
    }
    Ok(code)
}

/// A few lines per run: its groups by level.
fn overview(fanout: &FanoutPlan) -> String {
    let mut text = String::new();
    if let Some(note) = &fanout.note {
        text.push_str(&format!("vizier ci plan: {note}\n"));
    }
    for run in &fanout.runs {
        text.push_str(&format!(
            "vizier ci plan: run {} ({}): {} group(s) in {} level(s)\n",
            run.run_id,
            run.template,
            run.groups.len(),
            run.groups.iter().map(|g| g.level + 1).max().unwrap_or(0)
        ));
        for g in &run.groups {
            text.push_str(&format!(
                "  level {} · {}: {} — {}\n",
                g.level,
                g.id,
                g.nodes.join(", "),
                g.why
            ));
        }
    }
    text
}

fn is_github(gh: &Runner, format: Option<CiFormat>) -> bool {
    format.unwrap_or(if gh.actions {
        CiFormat::Github
    } else {
        CiFormat::Text
    }) == CiFormat::Github
}

/// The runner job, as the summary names it.
fn runner_name() -> String {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    match (var("GITHUB_JOB"), var("RUNNER_NAME")) {
        (Some(job), Some(runner)) => format!("{job} on {runner}"),
        (Some(job), None) => job,
        (None, _) => "this machine".to_owned(),
    }
}

fn part_input<'a>(s: &'a Setup, store_in: &'a [PathBuf], event: Option<PathBuf>) -> PartInput<'a> {
    PartInput {
        ws: &s.ws,
        cwd: &s.cwd,
        config: s.config.as_ref(),
        artifacts: &s.artifacts,
        gh: &s.gh,
        store_in,
        event_path: event,
    }
}

fn run_node(args: CiNodeArgs, out: &mut Output) -> Result<u8> {
    let s = setup(args.artifacts_dir.as_deref())?;
    let github = is_github(&s.gh, args.format);
    let input = part_input(&s, &args.store_in, args.event_path.clone());
    let group = &args.group;
    let mut on_start = |run_id: &str, template: &str| {
        out.write(&format!(
            "vizier ci node: group {group} of run {run_id} ({template})\n"
        ));
    };
    let end = parts::run_node(&input, group, &runner_name(), &mut on_start)?;
    let (ran, logs) = match end {
        NodeEnd::Invalid(report) => {
            render_invalid(&report, github, out);
            return Ok(exit::FAILED);
        }
        NodeEnd::Ran { run, logs } => (run, logs),
    };
    for w in &ran.warnings {
        out.write(&format!("vizier ci node: {w}\n"));
    }
    for (&i, log) in ran.members.iter().zip(&logs) {
        let node = &ran.manifest.nodes[i];
        let title = format!("{} · {}", node.node_id, node.status);
        if github {
            out.write(&grouped_log(&title, log)?);
        } else {
            out.write(&format!("--- {title}\n{log}"));
        }
    }
    out.write(&format!(
        "vizier ci node: group {} {}; records in {}\n",
        ran.group.id,
        if ran.ok {
            CiOutcome::Succeeded
        } else {
            CiOutcome::Failed
        },
        s.artifacts.display()
    ));
    Ok(if ran.ok { exit::OK } else { exit::FAILED })
}

fn run_collect(args: CiCollectArgs, out: &mut Output) -> Result<u8> {
    let s = setup(args.artifacts_dir.as_deref())?;
    let github = is_github(&s.gh, args.format);
    let input = part_input(&s, &args.store_in, args.event_path.clone());
    let (runs, concluded) = match parts::run_collect(&input)? {
        CollectEnd::Nothing { note, failed } => {
            out.write(&format!("vizier ci collect: {note}\n"));
            return Ok(if failed { exit::FAILED } else { exit::OK });
        }
        CollectEnd::Invalid(report) => {
            render_invalid(&report, github, out);
            return Ok(exit::FAILED);
        }
        CollectEnd::Collected { runs, concluded } => (runs, concluded),
    };
    if github {
        out.write(&concluded.limited_commands);
    }
    for m in runs.iter().map(|c| &c.manifest) {
        for n in &m.nodes {
            let runner = n.runner().unwrap_or("-");
            out.write(&format!("  {} · {} · {runner}\n", n.node_id, n.status));
        }
        out.write(&format!(
            "vizier ci collect: run {} {}\n",
            m.run_id,
            m.outcome.map_or("ended", |o| o.as_str())
        ));
    }
    out.write(&format!(
        "vizier ci collect: {}; artifacts in {}\n",
        if concluded.failed { "failed" } else { "passed" },
        s.artifacts.display()
    ));
    Ok(if concluded.failed {
        exit::FAILED
    } else {
        exit::OK
    })
}
