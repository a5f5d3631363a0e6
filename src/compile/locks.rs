//! Inferred locks: a node that names a branch and declares no `locks` gets an exclusive
//! `branch:<name>` lock per branch, held for the whole run, so two runs that write one branch
//! (two merges onto `main`) take turns instead of racing on the ref update.

use std::collections::BTreeMap;

use super::{LockScope, PlanLock, Trigger};
use crate::template::{LockMode, Op};

/// The args that name a branch.
pub const BRANCH_ARGS: &[&str] = &["branch", "target_branch"];

/// The locks a node without `locks` gets, from its substituted args. The integrate's target
/// defaults to the current branch, which for a plan is the trigger's branch.
pub fn inferred(op: Op, args: &BTreeMap<String, String>, trigger: &Trigger) -> Vec<PlanLock> {
    let mut branches: Vec<String> = BRANCH_ARGS
        .iter()
        .filter_map(|name| args.get(*name))
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty() && !b.contains("${"))
        .collect();
    if op == Op::GitIntegratePlanBranch
        && !args.contains_key("target_branch")
        && let Some(current) = trigger.ref_name.strip_prefix("refs/heads/")
    {
        branches.push(current.to_owned());
    }
    let mut locks: Vec<PlanLock> = Vec::new();
    for branch in branches {
        let key = format!("branch:{branch}");
        if !locks.iter().any(|l| l.key == key) {
            locks.push(PlanLock {
                key,
                mode: LockMode::Exclusive,
                scope: Some(LockScope::Run),
            });
        }
    }
    locks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_integrate_locks_its_source_and_its_default_target() {
        let args: BTreeMap<String, String> = [("branch".to_owned(), "draft/x".to_owned())].into();
        let trigger = Trigger {
            ref_name: "refs/heads/main".into(),
            ..Trigger::default()
        };
        let keys: Vec<String> = inferred(Op::GitIntegratePlanBranch, &args, &trigger)
            .into_iter()
            .map(|l| l.key)
            .collect();
        assert_eq!(keys, ["branch:draft/x", "branch:main"]);
        assert!(inferred(Op::CommandRun, &BTreeMap::new(), &trigger).is_empty());
    }
}
