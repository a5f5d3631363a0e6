//! Fan-out: one push's runs spread over many CI runners, ending as the same runs a single runner
//! would have made — same run ids, same job ids, one manifest per run.
//!
//! - [`plan`]: the pure split of a compiled run into groups (nodes that must share a machine) in
//!   levels.
//! - [`plan_push`]: `vizier ci plan` — compiles the push's runs, groups them, and writes the fan-out
//!   plan (`fanout/plan.json`) into the artifacts folder for the later jobs.
//! - [`node`]: `vizier ci node --group ID` — materializes the planned run, imports the upstream
//!   groups' records, runs its group, and exports its own records for upload.
//! - [`collect`]: `vizier ci collect` — merges every group's records into the final manifest.
//!
//! Every runner recompiles the run from its own checkout of the pushed commit; the plan file only
//! carries the run id and sequence number to reproduce and check, never commands. Records that
//! arrive from other runners are untrusted: they are read with the store's readers and checked
//! against the locally compiled plan before they are used ([`records`]).

pub mod collect;
pub mod node;
pub mod parts;
pub mod plan;
pub mod push_plan;
pub mod records;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::compile::{Plan, Trigger, assign_run_id};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::launch::{self, Prepared};
use crate::store::Store;
use crate::validate::Report;
use crate::workspace::Workspace;

pub use plan::{DEFAULT_MAX_LEVELS, Group, Grouping};

pub const PLAN_FORMAT: u32 = 1;
/// Where the plan lives in an artifacts folder.
pub const PLAN_FILE: &str = "fanout/plan.json";
/// Where each group's report lives in an artifacts folder: `groups/<group_id>.json`.
pub const GROUPS_DIR: &str = "groups";

/// `fanout/plan.json`, also what `vizier ci plan --format json` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanoutPlan {
    pub version: u32,
    pub created_at: String,
    pub max_levels: usize,
    /// Levels over all runs (the highest level + 1; 0 when nothing runs).
    pub levels: usize,
    /// Why nothing runs, when nothing does (a deleted ref, template errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Template errors found by the plan: nothing runs, and the collect job fails.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub errors: usize,
    pub runs: Vec<PlannedRun>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedRun {
    pub run_id: String,
    /// The alias (or path) the template was named by.
    pub template: String,
    pub template_path: String,
    /// The sequence number of the run id (SPEC'd inputs: the same push gives the same id).
    pub sequence: u64,
    pub groups: Vec<Group>,
}

impl FanoutPlan {
    /// `levels` and one `level-<k>` matrix per level below `max_levels`, for `GITHUB_OUTPUT`.
    pub fn github_outputs(&self) -> Vec<(String, String)> {
        let mut out = vec![("levels".to_owned(), self.levels.to_string())];
        for k in 0..self.max_levels {
            let include: Vec<serde_json::Value> = self
                .runs
                .iter()
                .flat_map(|r| r.groups.iter().map(move |g| (r, g)))
                .filter(|(_, g)| g.level == k)
                .map(|(r, g)| serde_json::json!({ "group": g.id, "title": title(&r.template, g) }))
                .collect();
            out.push((
                format!("level-{k}"),
                serde_json::json!({ "include": include }).to_string(),
            ));
        }
        out
    }

    /// Reads the plan from the first `--store-in` folder that has one; every copy must agree.
    pub fn find(store_in: &[PathBuf]) -> Result<FanoutPlan> {
        let mut found: Option<(PathBuf, FanoutPlan)> = None;
        for dir in store_in {
            let path = dir.join(PLAN_FILE);
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_file() => {}
                _ => continue,
            }
            let bytes = std::fs::read(&path).map_err(|source| Error::Read {
                path: path.display().to_string(),
                source,
            })?;
            let plan: FanoutPlan = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            if plan.version != PLAN_FORMAT {
                return Err(Error::Corrupt {
                    path: path.display().to_string(),
                    message: format!("fan-out plan version {} is not {PLAN_FORMAT}", plan.version),
                });
            }
            match &found {
                Some((first, p)) if *p != plan => {
                    return Err(Error::Usage(format!(
                        "`{}` and `{}` are different fan-out plans; give the folders of one workflow run",
                        first.display(),
                        path.display()
                    )));
                }
                Some(_) => {}
                None => found = Some((path, plan)),
            }
        }
        found.map(|(_, p)| p).ok_or_else(|| {
            Error::Usage(format!(
                "no fan-out plan (`{PLAN_FILE}`) in the --store-in folders ({}); give the artifacts of the `vizier ci plan` job",
                if store_in.is_empty() {
                    "none given".to_owned()
                } else {
                    store_in
                        .iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ))
        })
    }

    /// The run and group an id names.
    pub fn group(&self, id: &str) -> Option<(&PlannedRun, &Group)> {
        self.runs
            .iter()
            .find_map(|r| r.groups.iter().find(|g| g.id == id).map(|g| (r, g)))
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A short matrix title: the template and the group's first nodes.
fn title(template: &str, g: &Group) -> String {
    let mut shown: Vec<&str> = g.nodes.iter().take(3).map(String::as_str).collect();
    let more = g.nodes.len().saturating_sub(shown.len());
    let extra = format!("+{more}");
    if more > 0 {
        shown.push(&extra);
    }
    format!("{template}: {}", shown.join(", "))
}

/// What compiling a push's templates gave.
pub enum Compiled {
    Ready(Vec<(String, Plan)>),
    /// A template (or the config) has errors: nothing may run.
    Invalid(Box<Report>),
}

/// Compiles each template for the trigger; run ids are not assigned yet.
pub fn compile_templates(
    ws: &Workspace,
    cwd: &Path,
    templates: &[String],
    config: Option<&Config>,
    trigger: &Trigger,
) -> Result<Compiled> {
    let mut plans = Vec::new();
    for name in templates {
        let resolved = launch::resolve(ws, cwd, name, config)?;
        match launch::prepare(&ws.root, &resolved, &[], trigger.clone())? {
            Prepared::Ready(plan) => plans.push((name.clone(), *plan)),
            Prepared::Invalid(report) => return Ok(Compiled::Invalid(report)),
        }
    }
    Ok(Compiled::Ready(plans))
}

/// `vizier ci plan`: assigns each run its id (the first free sequence number in this store) and
/// groups it.
pub fn plan_push(
    store: &Store,
    plans: Vec<(String, Plan)>,
    max_levels: usize,
    created_at: &str,
) -> (FanoutPlan, Vec<Plan>) {
    let mut runs = Vec::new();
    let mut compiled = Vec::new();
    for (name, mut plan) in plans {
        let sequence = store.assign_free_run_id(&mut plan);
        let grouping = plan::group(&plan, max_levels);
        runs.push(PlannedRun {
            run_id: plan.run_id.clone(),
            template: name,
            template_path: plan.template.path.clone(),
            sequence,
            groups: grouping.groups,
        });
        compiled.push(plan);
    }
    let levels = runs
        .iter()
        .flat_map(|r| r.groups.iter().map(|g| g.level + 1))
        .max()
        .unwrap_or(0);
    (
        FanoutPlan {
            version: PLAN_FORMAT,
            created_at: created_at.to_owned(),
            max_levels,
            levels,
            note: None,
            errors: 0,
            runs,
        },
        compiled,
    )
}

/// Reproduces a planned run from this checkout: the same sequence number must give the planned
/// run id, and grouping it must give the planned groups; otherwise this checkout is not the one
/// that was planned.
pub fn reproduce(
    planned: &PlannedRun,
    max_levels: usize,
    mut plan: Plan,
) -> Result<(Plan, Grouping)> {
    assign_run_id(&mut plan, planned.sequence);
    if plan.run_id != planned.run_id {
        return Err(Error::Usage(format!(
            "this checkout gives run {} for `{}`, but the plan says {}: run every job on the same commit, ref and templates",
            plan.run_id, planned.template, planned.run_id
        )));
    }
    let grouping = plan::group(&plan, max_levels);
    if grouping.groups != planned.groups {
        return Err(Error::Usage(format!(
            "this vizier groups run {} differently from the plan: run every job with the same vizier",
            plan.run_id
        )));
    }
    Ok((plan, grouping))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn group(id: &str, level: usize, nodes: &[&str]) -> Group {
        Group {
            id: id.into(),
            level,
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            needs: Vec::new(),
            why: String::new(),
        }
    }

    #[test]
    fn github_outputs_have_every_level_below_the_maximum_across_runs() {
        let run = |id: &str, template: &str, groups: Vec<Group>| PlannedRun {
            run_id: id.into(),
            template: template.into(),
            template_path: String::new(),
            sequence: 0,
            groups,
        };
        let plan = FanoutPlan {
            version: PLAN_FORMAT,
            created_at: String::new(),
            max_levels: 3,
            levels: 2,
            note: None,
            errors: 0,
            runs: vec![
                run(
                    "run-a",
                    "ci",
                    vec![group("run-a.g0", 0, &["a", "b", "c", "d", "e"])],
                ),
                run(
                    "run-b",
                    "lint",
                    vec![group("run-b.g0", 0, &["x"]), group("run-b.g1", 1, &["y"])],
                ),
            ],
        };
        let out: BTreeMap<String, String> = plan.github_outputs().into_iter().collect();
        assert_eq!(out["levels"], "2");
        assert_eq!(
            out["level-0"],
            r#"{"include":[{"group":"run-a.g0","title":"ci: a, b, c, +2"},{"group":"run-b.g0","title":"lint: x"}]}"#
        );
        assert_eq!(
            out["level-1"],
            r#"{"include":[{"group":"run-b.g1","title":"lint: y"}]}"#
        );
        assert_eq!(out["level-2"], r#"{"include":[]}"#);
        assert_eq!(out.len(), 4);
        assert_eq!(plan.group("run-b.g1").unwrap().0.run_id, "run-b");
        assert!(plan.group("run-c.g0").is_none());
    }
}
