//! Splitting a compiled run into groups arranged in levels (pure over a [`Plan`]).
//!
//! A group is the unit one runner runs. Nodes are put together when they must share a machine:
//!
//! 1. **loop-back**: a loop-back's source, its target and the target's rewind set (every node that
//!    depends on the target) re-run together when the loop is taken, so they share a group;
//! 2. **worktree**: a `worktree.prepare` and every node that runs in its worktree (the nodes after
//!    it along success edges, where the execution context flows);
//! 3. **local state**: an operation that reads or changes the checkout, the git refs or the job
//!    store's files on its machine (every builtin operation except `prompt.resolve`, and the
//!    `gate.conflict_resolution` policy) shares a group with every node before it (whose changes to
//!    the work tree it may commit or read) and every node after it along success edges (which see
//!    what it changed);
//! 4. **cycle**: groups that would need each other (a rule above joined nodes with a node between
//!    them left out) merge into one.
//!
//! Everything else — `cicd.run` and `command.run` checks, shell and builtin prompts, agents, gates —
//! runs alone: it needs only the pushed commit and its upstream's records, outcomes and payloads,
//! which travel between runners. Locks are per machine, so they keep nothing together.
//!
//! A group's level is one more than the highest level of the groups it needs (0 when it needs
//! none). All groups at level `max_levels - 1` or above merge into one group on one runner, so a
//! workflow with `max_levels` level jobs always has room for the whole run.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::compile::{DepOn, Plan};

/// The default number of levels (the shipped workflow has jobs `level-0` … `level-7`).
pub const DEFAULT_MAX_LEVELS: usize = 8;

/// One group of one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// `<run_id>.g<k>`, unique across the runs of one push.
    pub id: String,
    pub level: usize,
    /// Node ids, in declaration order.
    pub nodes: Vec<String>,
    /// Ids of the groups whose nodes these nodes wait for.
    pub needs: Vec<String>,
    /// Which rule put these nodes together (or why the group stands alone).
    pub why: String,
}

/// The node indexes of each group, beside the groups themselves.
#[derive(Clone, Debug)]
pub struct Grouping {
    pub groups: Vec<Group>,
    /// `members[g]`: plan node indexes of `groups[g]`, ascending.
    pub members: Vec<Vec<usize>>,
}

impl Grouping {
    pub fn index_of(&self, group_id: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.id == group_id)
    }

    /// The group of plan node `node`.
    pub fn group_of(&self, node: usize) -> usize {
        self.members
            .iter()
            .position(|m| m.contains(&node))
            .expect("every node is in a group")
    }
}

/// Does this node read or change state that stays on its machine?
fn local_state(plan: &Plan, i: usize) -> bool {
    let n = &plan.nodes[i];
    let builtin = n.executor_class.as_deref() == Some("environment.builtin")
        && n.executor_operation.as_deref() != Some("prompt.resolve");
    builtin || n.control_policy.as_deref() == Some("gate.conflict_resolution")
}

struct Sets {
    parent: Vec<usize>,
}

impl Sets {
    fn find(&mut self, x: usize) -> usize {
        let mut r = x;
        while self.parent[r] != r {
            r = self.parent[r];
        }
        let mut x = x;
        while self.parent[x] != r {
            let next = self.parent[x];
            self.parent[x] = r;
            x = next;
        }
        r
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            self.parent[hi] = lo;
        }
    }

    fn union_all(&mut self, nodes: &[usize]) {
        for w in nodes.windows(2) {
            self.union(w[0], w[1]);
        }
    }
}

fn names(plan: &Plan, nodes: impl IntoIterator<Item = usize>) -> String {
    nodes
        .into_iter()
        .map(|i| format!("`{}`", plan.nodes[i].node_id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Success-edge descendants of `start`, with `start`.
fn success_downstream(plan: &Plan, start: usize) -> Vec<usize> {
    let mut seen = vec![false; plan.nodes.len()];
    seen[start] = true;
    let mut changed = true;
    while changed {
        changed = false;
        for (i, n) in plan.nodes.iter().enumerate() {
            if !seen[i]
                && n.deps
                    .iter()
                    .any(|d| d.on == DepOn::Success && seen[d.node])
            {
                seen[i] = true;
                changed = true;
            }
        }
    }
    (0..seen.len()).filter(|&i| seen[i]).collect()
}

/// Every node `start` waits for, directly or not, with `start`.
fn upstream(plan: &Plan, start: usize) -> Vec<usize> {
    let mut seen = vec![false; plan.nodes.len()];
    let mut stack = vec![start];
    seen[start] = true;
    while let Some(n) = stack.pop() {
        for d in &plan.nodes[n].deps {
            if !seen[d.node] {
                seen[d.node] = true;
                stack.push(d.node);
            }
        }
    }
    (0..seen.len()).filter(|&i| seen[i]).collect()
}

/// Node-level edges `(upstream, downstream)`: dependencies and artifact producer → consumer.
fn edges(plan: &Plan) -> Vec<(usize, usize)> {
    let mut edges = Vec::new();
    for (i, n) in plan.nodes.iter().enumerate() {
        for d in &n.deps {
            edges.push((d.node, i));
        }
        for need in &n.needs {
            for (p, producer) in plan.nodes.iter().enumerate() {
                if p != i && producer.produces.contains(need) {
                    edges.push((p, i));
                }
            }
        }
    }
    edges
}

/// Splits `plan` (its run id assigned) into groups and levels.
pub fn group(plan: &Plan, max_levels: usize) -> Grouping {
    let n = plan.nodes.len();
    let max_levels = max_levels.max(1);
    let mut sets = Sets {
        parent: (0..n).collect(),
    };
    // (a node of the set, the rule's words)
    let mut reasons: Vec<(usize, String)> = Vec::new();
    for (s, node) in plan.nodes.iter().enumerate() {
        for lb in &node.loops {
            let mut set = plan.downstream(lb.target);
            set.push(s);
            set.sort_unstable();
            set.dedup();
            sets.union_all(&set);
            reasons.push((
                s,
                format!(
                    "loop-back `{}` → `{}`: its source, target and rewind set re-run together ({})",
                    node.node_id,
                    plan.nodes[lb.target].node_id,
                    names(plan, set.iter().copied())
                ),
            ));
        }
    }
    for (p, node) in plan.nodes.iter().enumerate() {
        if node.executor_operation.as_deref() == Some("worktree.prepare") {
            let set = success_downstream(plan, p);
            sets.union_all(&set);
            if set.len() > 1 {
                reasons.push((
                    p,
                    format!(
                        "worktree: `{}` prepares the worktree that {} run in",
                        node.node_id,
                        names(plan, set.iter().copied().filter(|&i| i != p))
                    ),
                ));
            }
        }
    }
    for x in 0..n {
        if !local_state(plan, x) {
            continue;
        }
        let mut set = upstream(plan, x);
        set.extend(success_downstream(plan, x));
        set.sort_unstable();
        set.dedup();
        sets.union_all(&set);
        if set.len() > 1 {
            reasons.push((
                x,
                format!(
                    "local state: `{}` ({}) works on its machine's checkout, so the nodes before and after it share that machine",
                    plan.nodes[x].node_id,
                    plan.nodes[x]
                        .executor_operation
                        .as_deref()
                        .or(plan.nodes[x].control_policy.as_deref())
                        .unwrap_or("operation")
                ),
            ));
        }
    }

    // Components, then merge the groups that reach each other (strongly connected components of
    // the group graph), so the groups form a DAG.
    let edges = edges(plan);
    let mut comp: Vec<usize> = (0..n).map(|i| sets.find(i)).collect();
    let mut cycle_roots = BTreeSet::new();
    loop {
        let roots: BTreeSet<usize> = comp.iter().copied().collect();
        let mut succ: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        for &(a, b) in &edges {
            if comp[a] != comp[b] {
                succ.entry(comp[a]).or_default().insert(comp[b]);
            }
        }
        let reach = |from: usize| -> BTreeSet<usize> {
            let mut seen = BTreeSet::new();
            let mut stack = vec![from];
            while let Some(x) = stack.pop() {
                for &y in succ.get(&x).into_iter().flatten() {
                    if seen.insert(y) {
                        stack.push(y);
                    }
                }
            }
            seen
        };
        let reaches: BTreeMap<usize, BTreeSet<usize>> =
            roots.iter().map(|&r| (r, reach(r))).collect();
        let mut merged = false;
        for &a in &roots {
            for &b in &reaches[&a] {
                if b > a && reaches[&b].contains(&a) {
                    for c in comp.iter_mut() {
                        if *c == b {
                            *c = a;
                        }
                    }
                    cycle_roots.insert(a);
                    merged = true;
                }
            }
            if merged {
                break;
            }
        }
        if !merged {
            break;
        }
    }

    // Levels over the DAG of components.
    let roots: Vec<usize> = comp
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut level: BTreeMap<usize, usize> = BTreeMap::new();
    let mut pending: Vec<usize> = roots.clone();
    while !pending.is_empty() {
        let mut next = Vec::new();
        for &r in &pending {
            let ups: Vec<usize> = edges
                .iter()
                .filter(|&&(a, b)| comp[b] == r && comp[a] != r)
                .map(|&(a, _)| comp[a])
                .collect();
            if ups.iter().all(|u| level.contains_key(u)) {
                let l = ups.iter().map(|u| level[u] + 1).max().unwrap_or(0);
                level.insert(r, l);
            } else {
                next.push(r);
            }
        }
        assert!(next.len() < pending.len(), "the group graph is acyclic");
        pending = next;
    }
    // Levels at and past the last one merge into one group.
    let last = max_levels - 1;
    let deep: Vec<usize> = roots.iter().copied().filter(|r| level[r] >= last).collect();
    let mut deep_merged = false;
    if deep.len() > 1 {
        let keep = deep[0];
        for c in comp.iter_mut() {
            if deep.contains(c) {
                *c = keep;
            }
        }
        deep_merged = true;
    }
    for r in &deep {
        level.insert(*r, level[r].min(last));
    }

    // Number the groups by (level, first node).
    let mut order: Vec<(usize, usize)> = comp
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|r| (level[&r], comp.iter().position(|&c| c == r).unwrap_or(0)))
        .collect();
    order.sort_unstable();
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut root_of_group = Vec::new();
    for &(_, first) in &order {
        let r = comp[first];
        root_of_group.push(r);
        members.push((0..n).filter(|&i| comp[i] == r).collect());
    }
    let gid = |k: usize| format!("{}.g{k}", plan.run_id);
    let mut groups = Vec::new();
    for (k, nodes) in members.iter().enumerate() {
        let r = root_of_group[k];
        let mut needs: BTreeSet<usize> = BTreeSet::new();
        for &(a, b) in &edges {
            if comp[b] == r && comp[a] != r {
                needs.insert(root_of_group.iter().position(|&x| x == comp[a]).unwrap());
            }
        }
        let mut why: Vec<String> = reasons
            .iter()
            .filter(|(x, _)| nodes.contains(x))
            .map(|(_, w)| w.clone())
            .collect();
        why.dedup();
        if cycle_roots.iter().any(|c| nodes.contains(c)) {
            why.push("cycle: groups that needed each other were merged".into());
        }
        if deep_merged && r == deep[0] {
            why.push(format!(
                "levels {last} and deeper run on one runner (--max-levels {max_levels})"
            ));
        }
        if why.is_empty() {
            why.push(if nodes.len() == 1 {
                "alone: it needs only the pushed commit and its upstream's records".into()
            } else {
                "together".into()
            });
        }
        groups.push(Group {
            id: gid(k),
            level: level[&r],
            nodes: nodes
                .iter()
                .map(|&i| plan.nodes[i].node_id.clone())
                .collect(),
            needs: needs.into_iter().map(gid).collect(),
            why: why.join("; "),
        });
    }
    Grouping { groups, members }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{Trigger, assign_run_id, compile, resolve_params};
    use crate::template::parse_template;

    fn plan(text: &str) -> Plan {
        let template = parse_template(0, text).template.unwrap();
        let params = resolve_params(&template, &[]).unwrap();
        let mut plan = compile(&template, "t.toml", params, Trigger::default(), None).unwrap();
        assign_run_id(&mut plan, 0);
        plan
    }

    fn shell(id: &str, after: &[&str], extra: &str) -> String {
        let after: Vec<String> = after
            .iter()
            .map(|a| format!("{{ node_id = \"{a}\" }}"))
            .collect();
        format!(
            "[[nodes]]\nid = \"{id}\"\nkind = \"shell\"\nuses = \"cap.env.shell.cicd.run\"\nargs = {{ command = \"true\" }}\nafter = [{}]\n{extra}\n",
            after.join(", ")
        )
    }

    fn shape(g: &Grouping) -> Vec<(usize, Vec<&str>, Vec<&str>)> {
        g.groups
            .iter()
            .map(|g| {
                (
                    g.level,
                    g.nodes.iter().map(String::as_str).collect(),
                    g.needs
                        .iter()
                        .map(|n| n.rsplit('.').next().unwrap())
                        .collect(),
                )
            })
            .collect()
    }

    const HEAD: &str = "id = \"t\"\nversion = \"v1\"\n";

    #[test]
    fn a_diamond_spreads_over_three_levels() {
        let text = format!(
            "{HEAD}{}{}{}{}",
            shell("a", &[], ""),
            shell("b", &["a"], ""),
            shell("c", &["a"], ""),
            shell("d", &["b", "c"], "")
        );
        let g = group(&plan(&text), DEFAULT_MAX_LEVELS);
        assert_eq!(
            shape(&g),
            [
                (0, vec!["a"], vec![]),
                (1, vec!["b"], vec!["g0"]),
                (1, vec!["c"], vec!["g0"]),
                (2, vec!["d"], vec!["g1", "g2"]),
            ]
        );
        assert!(g.groups[0].id.ends_with(".g0") && g.groups[0].id.starts_with("run-"));
        assert!(g.groups[0].why.starts_with("alone"));
    }

    #[test]
    fn a_loop_back_keeps_its_source_target_and_rewind_set_together() {
        let text = format!(
            "{HEAD}{}{}{}{}",
            shell("setup", &[], ""),
            shell("build", &["setup"], ""),
            shell(
                "check",
                &["build"],
                "retry = { mode = \"until_gate\", budget = 2 }\non = { failed = [\"build\"] }"
            ),
            shell("after", &["check"], "")
        );
        let g = group(&plan(&text), DEFAULT_MAX_LEVELS);
        assert_eq!(
            shape(&g),
            [
                (0, vec!["setup"], vec![]),
                (1, vec!["build", "check", "after"], vec!["g0"]),
            ]
        );
        assert!(g.groups[1].why.contains("loop-back `check` → `build`"));
    }

    #[test]
    fn a_worktree_and_local_state_keep_their_nodes_on_one_machine() {
        let text = format!(
            "{HEAD}{}{}[[nodes]]\nid = \"wt\"\nuses = \"cap.env.builtin.worktree.prepare\"\nargs = {{ branch = \"b\", purpose = \"p\" }}\nafter = [{{ node_id = \"lint\" }}]\n{}{}",
            shell("lint", &[], ""),
            shell("other", &[], ""),
            shell("in_wt", &["wt"], ""),
            shell("free", &["other"], "")
        );
        let g = group(&plan(&text), DEFAULT_MAX_LEVELS);
        assert_eq!(
            shape(&g),
            [
                (0, vec!["lint", "wt", "in_wt"], vec![]),
                (0, vec!["other"], vec![]),
                (1, vec!["free"], vec!["g1"]),
            ]
        );
        assert!(
            g.groups[0].why.contains("worktree: `wt`"),
            "{}",
            g.groups[0].why
        );
        assert!(g.groups[0].why.contains("local state: `wt`"));
    }

    #[test]
    fn deep_levels_merge_into_one_group() {
        let mut text = HEAD.to_owned();
        text.push_str(&shell("n0", &[], ""));
        for i in 1..5 {
            text.push_str(&shell(&format!("n{i}"), &[&format!("n{}", i - 1)], ""));
        }
        text.push_str(&shell("side", &["n2"], ""));
        let g = group(&plan(&text), 3);
        assert_eq!(
            shape(&g),
            [
                (0, vec!["n0"], vec![]),
                (1, vec!["n1"], vec!["g0"]),
                (2, vec!["n2", "n3", "n4", "side"], vec!["g1"]),
            ]
        );
        assert!(g.groups[2].why.contains("--max-levels 3"));
        let one = group(&plan(&text), 1);
        assert_eq!(one.groups.len(), 1);
        assert_eq!(one.groups[0].level, 0);
    }

    #[test]
    fn groups_that_would_need_each_other_merge() {
        // `commit` keeps `y` and `z` (after it) on its machine; the handler `h` of `commit` is not
        // after it along success edges, but `z` waits for `h` too: the two groups merge.
        let text = format!(
            "{HEAD}[[nodes]]\nid = \"commit\"\nuses = \"cap.env.builtin.git.stage_commit\"\non = {{ failed = [\"h\"] }}\n{}{}{}",
            shell("y", &["commit"], ""),
            shell("h", &[], ""),
            shell("z", &["y", "h"], "")
        );
        let g = group(&plan(&text), DEFAULT_MAX_LEVELS);
        assert_eq!(shape(&g), [(0, vec!["commit", "y", "h", "z"], vec![])]);
        assert!(g.groups[0].why.contains("cycle"), "{}", g.groups[0].why);
    }
}
