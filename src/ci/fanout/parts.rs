//! `vizier ci node` and `vizier ci collect`: the whole of each but the rendering. Each reads the
//! push, compiles the planned templates on this checkout, then runs one group
//! ([`node::run_group`]) or merges every group into the final manifests ([`collect::collect`]) and
//! writes the annotations, summary and outputs. What happened comes back as data for the CLI.

use std::path::{Path, PathBuf};

use super::collect::{self, Collected};
use super::node::{self, GroupRun};
use super::{Compiled, FanoutPlan, compile_templates};
use crate::ci::CiOutcome;
use crate::ci::github::{Outputs, Runner};
use crate::ci::push;
use crate::ci::report::{self, Concluded, finish, lines, write_file};
use crate::ci::summary::Summary;
use crate::compile::Trigger;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::validate::Report;
use crate::workspace::Workspace;

/// What both parts need to know.
pub struct PartInput<'a> {
    pub ws: &'a Workspace,
    pub cwd: &'a Path,
    pub config: Option<&'a Config>,
    /// This job's artifacts folder (made by the caller).
    pub artifacts: &'a Path,
    pub gh: &'a Runner,
    /// Folders of earlier jobs' artifacts: the plan's and the groups'.
    pub store_in: &'a [PathBuf],
    pub event_path: Option<PathBuf>,
}

/// How `vizier ci node` ended.
pub enum NodeEnd {
    /// A template (or the config) has errors on this checkout: nothing ran.
    Invalid(Box<Report>),
    Ran {
        run: Box<GroupRun>,
        /// The log of each member node, in `run.members` order.
        logs: Vec<String>,
    },
}

/// Runs group `group` of the fan-out plan found in `input.store_in`. `on_start` hears the run id
/// and template before anything runs.
pub fn run_node(
    input: &PartInput<'_>,
    group: &str,
    runner_name: &str,
    on_start: &mut dyn FnMut(&str, &str),
) -> Result<NodeEnd> {
    let fanout = FanoutPlan::find(input.store_in)?;
    let Some((planned, _)) = fanout.group(group) else {
        return Err(Error::Usage(format!(
            "no group `{group}` in the fan-out plan; it has: {}",
            fanout
                .runs
                .iter()
                .flat_map(|r| r.groups.iter().map(|g| g.id.clone()))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let template = planned.template.clone();
    let push = push::load_keeping_event(input.event_path.clone(), input.artifacts)?;
    let framed = push::trigger(&input.ws.root, &push, input.artifacts)?;
    let compiled = match compiled_for(input, &fanout, &framed.trigger, Some(&template))? {
        Compiled::Ready(plans) => plans,
        Compiled::Invalid(report) => return Ok(NodeEnd::Invalid(report)),
    };
    on_start(&planned.run_id, &template);
    let store = Store::new(&input.ws.root);
    let run = node::run_group(
        &store,
        &fanout,
        group,
        compiled,
        input.store_in,
        input.artifacts,
        runner_name,
    )?;
    let logs = run
        .members
        .iter()
        .map(|&i| report::node_log(&store, &run.manifest.nodes[i].job_id))
        .collect();
    Ok(NodeEnd::Ran {
        run: Box::new(run),
        logs,
    })
}

/// How `vizier ci collect` ended.
pub enum CollectEnd {
    /// The plan held no run (a deleted ref, or templates that were invalid at plan time).
    Nothing { note: String, failed: bool },
    /// A template (or the config) has errors on this checkout: nothing was collected.
    Invalid(Box<Report>),
    Collected {
        runs: Vec<Collected>,
        concluded: Concluded,
    },
}

/// Merges every group of the fan-out plan into final manifests in `input.artifacts`, with the
/// annotations, summary and outputs of the push.
pub fn run_collect(input: &PartInput<'_>) -> Result<CollectEnd> {
    let fanout = FanoutPlan::find(input.store_in)?;
    let mut outputs = Outputs::new();
    outputs.set("artifacts-dir", input.artifacts.display().to_string())?;
    if fanout.runs.is_empty() {
        let note = fanout
            .note
            .clone()
            .unwrap_or_else(|| "nothing to run.".into());
        let failed = fanout.errors > 0;
        let summary = Summary {
            notes: vec![note.clone()],
            ..Summary::default()
        };
        write_file(
            &input.artifacts.join("annotations.txt"),
            &lines([].into_iter()),
        )?;
        let outcome = if failed {
            CiOutcome::Failed
        } else {
            CiOutcome::Skipped
        };
        finish(input.gh, input.artifacts, &summary, outputs, &[], outcome)?;
        return Ok(CollectEnd::Nothing { note, failed });
    }
    let push = push::load_keeping_event(input.event_path.clone(), input.artifacts)?;
    let framed = push::trigger(&input.ws.root, &push, input.artifacts)?;
    let compiled = match compiled_for(input, &fanout, &framed.trigger, None)? {
        Compiled::Ready(plans) => plans,
        Compiled::Invalid(report) => return Ok(CollectEnd::Invalid(report)),
    };
    let runs = collect::collect(
        &input.ws.root,
        &fanout,
        compiled,
        input.store_in,
        input.artifacts,
    )?;
    let mut warnings = framed.warnings;
    warnings.extend(collect::warning_annotations(&runs));
    let finished: Vec<_> = runs.iter().map(|c| c.manifest.clone()).collect();
    let paths: Vec<_> = runs.iter().map(|c| c.path.clone()).collect();
    let concluded = report::conclude(
        input.gh,
        input.artifacts,
        &finished,
        &paths,
        warnings,
        framed.notes,
        outputs,
    )?;
    Ok(CollectEnd::Collected { runs, concluded })
}

/// This checkout's compiled templates of the plan's runs (only `only`'s, when given).
fn compiled_for(
    input: &PartInput<'_>,
    fanout: &FanoutPlan,
    trigger: &Trigger,
    only: Option<&str>,
) -> Result<Compiled> {
    let mut names: Vec<String> = fanout
        .runs
        .iter()
        .filter(|r| only.is_none_or(|t| r.template == t))
        .map(|r| r.template.clone())
        .collect();
    names.dedup();
    compile_templates(input.ws, input.cwd, &names, input.config, trigger)
}
