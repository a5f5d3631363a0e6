//! `vizier ci plan`: the whole of it but the rendering. Validates every template, reads the push,
//! compiles the configured templates and groups their runs into levels, then writes the fan-out plan
//! (`PLAN_FILE`) to the artifacts folder — an empty plan, with a note, when there is nothing to run.

use std::path::{Path, PathBuf};

use super::{Compiled, FanoutPlan, PLAN_FILE, compile_templates, plan_push};
use crate::ci::push;
use crate::config::Config;
use crate::error::Result;
use crate::store::{Store, to_json, write_atomic};
use crate::validate::{Report, validate};
use crate::workspace::{WorkTree, Workspace, default_paths};

/// What the plan step needs to know.
pub struct PlanInput<'a> {
    pub ws: &'a Workspace,
    pub cwd: &'a Path,
    pub config: Option<&'a Config>,
    pub artifacts: &'a Path,
    pub event_path: Option<PathBuf>,
    /// `--template` values; empty means the configured ones.
    pub templates: &'a [String],
    pub max_levels: usize,
    pub now: &'a str,
}

/// The plan written, and the template errors that left it empty (the step then fails).
pub struct Planned {
    pub fanout: FanoutPlan,
    pub invalid: Option<Report>,
}

pub fn plan(input: PlanInput<'_>) -> Result<Planned> {
    let empty = |note: String, errors: usize| FanoutPlan {
        version: super::PLAN_FORMAT,
        created_at: input.now.to_owned(),
        max_levels: input.max_levels,
        levels: 0,
        note: Some(note),
        errors,
        runs: Vec::new(),
    };
    let invalid = |report: Report| Planned {
        fanout: empty(
            format!("{} template error(s): nothing was run.", report.errors()),
            report.errors(),
        ),
        invalid: Some(report),
    };
    let root = &input.ws.root;
    let reader = WorkTree { root: root.clone() };
    let report = validate(&reader, &default_paths(&reader)?)?;
    let planned = if report.errors() > 0 {
        invalid(report)
    } else {
        let push = push::load_keeping_event(input.event_path.clone(), input.artifacts)?;
        if let Some(deleted) = push.deleted_ref() {
            Planned {
                fanout: empty(format!("`{deleted}` was deleted: nothing to run."), 0),
                invalid: None,
            }
        } else {
            let framed = push::trigger(root, &push, input.artifacts)?;
            let templates = push::templates(input.templates, input.config);
            match compile_templates(
                input.ws,
                input.cwd,
                &templates,
                input.config,
                &framed.trigger,
            )? {
                Compiled::Invalid(report) => invalid(*report),
                Compiled::Ready(plans) => {
                    let store = Store::new(root);
                    let (fanout, _) = plan_push(&store, plans, input.max_levels, input.now);
                    Planned {
                        fanout,
                        invalid: None,
                    }
                }
            }
        }
    };
    write_atomic(&input.artifacts.join(PLAN_FILE), &to_json(&planned.fanout))?;
    Ok(planned)
}
