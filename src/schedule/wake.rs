//! Which nodes a tick looks at.
//!
//! A full pass evaluates every node of the run, which makes a run of N nodes cost O(N²) in the
//! driver: each of its N ticks walks all N nodes. A node's decision depends only on
//!
//! - its own process (running nodes: an outcome file, a live claim) — it changes when the process
//!   ends, which the driver learns from its child;
//! - its `after` dependencies' states — they change inside a tick, which wakes the dependents;
//! - run-wide state (locks, an unhandled failure under `block_downstream`, artifacts and their
//!   producers, approvals, other runs, preconditions) — it matters only to nodes whose dependencies
//!   are all satisfied and that still wait, the few "sensitive" ones, woken by every change;
//! - the world outside the tick (a person's change, another run, git) — the caller does a full
//!   pass when it sees one.
//!
//! So a tick woken by ended processes evaluates those nodes, then whatever their changes reach, in
//! the same order a full pass would: the decisions are the same as a full pass's (tests here
//! compare the two).

use std::collections::BTreeSet;

use crate::compile::Plan;
use crate::store::{ManifestNode, Status};

/// For each node, the nodes with an `after` dependency on it. Computed once per plan.
#[derive(Debug, Default)]
pub struct Dependents(Vec<Vec<usize>>);

impl Dependents {
    pub fn of(plan: &Plan) -> Dependents {
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); plan.nodes.len()];
        for (i, node) in plan.nodes.iter().enumerate() {
            for dep in &node.deps {
                if let Some(d) = dependents.get_mut(dep.node) {
                    d.push(i);
                }
            }
        }
        for d in &mut dependents {
            d.dedup();
        }
        Dependents(dependents)
    }

    fn of_node(&self, i: usize) -> &[usize] {
        self.0.get(i).map_or(&[], Vec::as_slice)
    }
}

/// What woke a tick.
#[derive(Clone, Copy, Debug)]
pub enum Wake<'a> {
    /// Look at every node (something outside the run may have changed).
    All,
    /// Only these nodes changed outside the tick (their processes ended); the rest of the run is
    /// as the last tick left it.
    Nodes {
        nodes: &'a [usize],
        dependents: &'a Dependents,
    },
}

/// Does this node's decision depend on run-wide state? True for a node that has not been looked at
/// yet, and for one whose dependencies are satisfied but that waits on something else.
fn is_sensitive(node: &ManifestNode) -> bool {
    match node.status {
        Status::Queued | Status::WaitingOnLocks | Status::WaitingOnApproval => true,
        Status::WaitingOnDeps => node.wait_reason.as_ref().is_none_or(|w| w.kind != "after"),
        _ => false,
    }
}

/// The nodes of one tick still to look at, in the order a full pass visits them: a pass goes up
/// the node indices; a node woken above the one being looked at is visited in the same pass, one
/// woken below it in the next pass.
pub(super) struct Worklist<'a> {
    len: usize,
    /// `None`: every pass visits every node (a full tick).
    dependents: Option<&'a Dependents>,
    this_pass: BTreeSet<usize>,
    next_pass: BTreeSet<usize>,
    cursor: usize,
    /// The sensitive nodes, found on the first change of the tick (then kept up to date).
    sensitive: Option<Vec<usize>>,
}

impl<'a> Worklist<'a> {
    pub(super) fn new(len: usize, wake: Wake<'a>) -> Worklist<'a> {
        let (dependents, this_pass) = match wake {
            Wake::All => (None, BTreeSet::new()),
            Wake::Nodes { nodes, dependents } => (
                Some(dependents),
                nodes.iter().copied().filter(|&i| i < len).collect(),
            ),
        };
        Worklist {
            len,
            dependents,
            this_pass,
            next_pass: BTreeSet::new(),
            cursor: 0,
            sensitive: None,
        }
    }

    /// The next node of this pass, if any.
    pub(super) fn next(&mut self) -> Option<usize> {
        let i = match self.dependents {
            None => (self.cursor < self.len).then_some(self.cursor)?,
            Some(_) => {
                let i = *self.this_pass.range(self.cursor..).next()?;
                self.this_pass.remove(&i);
                i
            }
        };
        self.cursor = i + 1;
        Some(i)
    }

    /// Starts the next pass; false when there is nothing to look at.
    pub(super) fn next_pass(&mut self) -> bool {
        self.cursor = 0;
        if self.dependents.is_none() {
            return true;
        }
        self.this_pass.append(&mut self.next_pass);
        !self.this_pass.is_empty()
    }

    fn wake(&mut self, j: usize) {
        if j >= self.cursor {
            self.this_pass.insert(j);
        } else {
            self.next_pass.insert(j);
        }
    }

    /// Node `i` changed in this tick: what can see the change is looked at again.
    pub(super) fn changed(&mut self, i: usize, nodes: &[ManifestNode]) {
        let Some(dependents) = self.dependents else {
            return;
        };
        for &j in dependents.of_node(i) {
            self.wake(j);
        }
        let list = self.sensitive.get_or_insert_with(|| {
            nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| is_sensitive(n))
                .map(|(j, _)| j)
                .collect()
        });
        if nodes.get(i).is_some_and(is_sensitive) && !list.contains(&i) {
            list.push(i);
        }
        let woken: Vec<usize> = list.iter().copied().filter(|&j| j != i).collect();
        for j in woken {
            self.wake(j);
        }
    }

    /// Node `j` was put back to `queued` in this tick (a loop-back).
    pub(super) fn requeued(&mut self, j: usize, nodes: &[ManifestNode]) {
        if self.dependents.is_none() {
            return;
        }
        self.wake(j);
        self.changed(j, nodes);
    }
}

/// Sets every queued node whose `after` dependencies have not ended to the wait a tick would give
/// it (`waiting_on_deps` on all of them): on a new run, what its first tick would do, so it has no
/// record to rewrite for them. A new run's job records are then written once as waiting, not
/// written queued and rewritten at once.
pub fn initial_waits(plan: &Plan, m: &mut crate::store::Manifest) {
    for (i, pn) in plan.nodes.iter().enumerate() {
        if pn.deps.is_empty()
            || m.nodes[i].status != Status::Queued
            || pn.deps.iter().any(|d| m.nodes[d.node].status.is_terminal())
        {
            continue;
        }
        let waiting: Vec<&str> = pn
            .deps
            .iter()
            .map(|d| m.nodes[d.node].node_id.as_str())
            .collect();
        let why = super::reason("after", waiting.join(", "));
        let node = &mut m.nodes[i];
        let label = format!("{}: {}", why.kind, why.detail);
        if !node.waited_on.contains(&label) {
            node.waited_on.push(label);
        }
        node.status = Status::WaitingOnDeps;
        node.wait_reason = Some(why);
    }
}

#[cfg(test)]
mod tests {
    //! A woken tick must decide what a full pass decides. Each scenario runs one run twice side by
    //! side: one copy ticked with full passes, the other woken only by the job that just ended;
    //! after every tick both manifests (and what each tick started) must be the same.

    use std::cell::RefCell;
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::compile::resolve_params;
    use crate::compile::{PlanArtifact, PlanPrecondition, Trigger, assign_run_id, compile};
    use crate::schedule::{LockTable, Probe, tick_woken};
    use crate::store::{Manifest, OutcomeFile, ProcessId, Store};
    use crate::template::{Outcome, parse_template};

    /// Jobs end only when the test says so, with the outcome their node's name asks for: a node
    /// named `bad…` fails.
    #[derive(Default)]
    struct World {
        ended: RefCell<HashMap<String, u32>>,
        artifacts: RefCell<HashSet<String>>,
    }

    impl Probe for World {
        fn outcome(&self, job_id: &str, attempt: u32) -> Option<OutcomeFile> {
            (self.ended.borrow().get(job_id) == Some(&attempt)).then(|| OutcomeFile {
                job_id: job_id.into(),
                attempt,
                outcome: if job_id.contains("-bad") && attempt == 1 {
                    Outcome::Failed
                } else {
                    Outcome::Succeeded
                },
                ..OutcomeFile::default()
            })
        }
        fn alive(&self, _: &str, _: u32, _: Option<&ProcessId>) -> bool {
            true
        }
        fn artifact_exists(&self, _: &str, a: &PlanArtifact) -> bool {
            self.artifacts.borrow().contains(&a.key)
        }
        fn precondition(&self, _: &PlanPrecondition, _: &str) -> Result<(), String> {
            Ok(())
        }
    }

    fn locks_of(plan: &Plan, m: &Manifest) -> LockTable {
        let mut locks = LockTable::default();
        for (p, n) in plan.nodes.iter().zip(&m.nodes) {
            for lock in &p.locks {
                if lock.run_wide() {
                    if n.status == Status::Running || n.started_at.is_some() {
                        locks.add_for_run(&lock.key, lock.mode, &n.job_id, &plan.run_id);
                    }
                } else if n.status == Status::Running {
                    locks.add(&lock.key, lock.mode, &n.job_id);
                }
            }
        }
        locks
    }

    /// Runs `text` to its end both ways; `order` picks which running job ends next. Returns how
    /// many ticks it took.
    fn same_both_ways(text: &str, order: fn(&[usize]) -> usize) -> usize {
        let parsed = parse_template(0, text);
        let template = parsed.template.expect("template parses");
        let params = resolve_params(&template, &[]).unwrap();
        let mut plan = compile(&template, "t.toml", params, Trigger::default(), None).unwrap();
        assign_run_id(&mut plan, 0);
        let dependents = Dependents::of(&plan);
        let mut full = Store::new(std::path::Path::new("/nowhere")).initial_manifest(&plan, "T0");
        let mut woken = full.clone();
        let world = World::default();
        let mut ended: Vec<usize> = Vec::new();
        for step in 0..500 {
            let now = format!("T{step}");
            let mut locks = locks_of(&plan, &full);
            let a = tick_woken(
                &plan,
                &mut full,
                &world,
                &mut locks,
                &now,
                true,
                None,
                Wake::All,
            );
            let wake = if step == 0 {
                Wake::All
            } else {
                Wake::Nodes {
                    nodes: &ended,
                    dependents: &dependents,
                }
            };
            let mut locks = locks_of(&plan, &woken);
            let b = tick_woken(
                &plan, &mut woken, &world, &mut locks, &now, true, None, wake,
            );
            assert_eq!(full, woken, "tick {step} decided differently");
            assert_eq!(a.start, b.start, "tick {step} started differently");
            assert_eq!(a.changed, b.changed, "tick {step} changed differently");
            if full.is_finished() {
                return step;
            }
            let running: Vec<usize> = (0..full.nodes.len())
                .filter(|&i| full.nodes[i].status == Status::Running)
                .collect();
            assert!(!running.is_empty(), "stuck at tick {step}: {full:#?}");
            let i = order(&running);
            let node = &full.nodes[i];
            world
                .ended
                .borrow_mut()
                .insert(node.job_id.clone(), node.attempts);
            for art in &plan.nodes[i].produces {
                world.artifacts.borrow_mut().insert(art.key.clone());
            }
            ended = vec![i];
        }
        panic!("the run did not end");
    }

    fn first(r: &[usize]) -> usize {
        r[0]
    }
    fn last(r: &[usize]) -> usize {
        r[r.len() - 1]
    }

    fn shell(id: &str, extra: &str) -> String {
        format!(
            "\n[[nodes]]\nid = \"{id}\"\nkind = \"shell\"\nuses = \"cap.env.shell.command.run\"\nargs = {{ command = \"true\" }}\n{extra}\n"
        )
    }

    const HEAD: &str = "id = \"t\"\nversion = \"v1\"\n";

    #[test]
    fn a_chain_and_a_fan_decide_the_same_woken() {
        let mut chain = HEAD.to_owned();
        for i in 0..30 {
            let after = if i > 0 {
                format!("after = [{{ node_id = \"n{}\" }}]", i - 1)
            } else {
                String::new()
            };
            chain.push_str(&shell(&format!("n{i}"), &after));
        }
        assert_eq!(same_both_ways(&chain, first), 30);
        let mut fan = HEAD.to_owned();
        let mut all = Vec::new();
        for i in 0..20 {
            fan.push_str(&shell(&format!("f{i}"), ""));
            all.push(format!("{{ node_id = \"f{i}\" }}"));
        }
        fan.push_str(&shell("join", &format!("after = [{}]", all.join(", "))));
        same_both_ways(&fan, first);
        same_both_ways(&fan, last);
    }

    /// A lock one node releases lets a waiting node of another branch start: nothing depends on
    /// the holder, so only the run-wide wake-up reaches the waiter.
    #[test]
    fn a_released_lock_wakes_its_waiters() {
        let lock = "locks = [{ key = \"k\", mode = \"exclusive\" }]";
        let mut t = HEAD.to_owned();
        for i in 0..5 {
            t.push_str(&shell(&format!("l{i}"), lock));
        }
        t.push_str(&shell("free", ""));
        t.push_str(&shell("after_free", "after = [{ node_id = \"free\" }]"));
        same_both_ways(&t, first);
        same_both_ways(&t, last);
    }

    /// Under `block_downstream` a failure ends nodes that wait on something else (a lock), though
    /// they do not depend on the failed node.
    #[test]
    fn a_failure_reaches_the_nodes_that_wait_elsewhere() {
        let lock = "locks = [{ key = \"k\", mode = \"exclusive\" }]";
        let mut t = HEAD.to_owned();
        t.push_str(&shell("holder", lock));
        t.push_str(&shell("waiter", lock));
        t.push_str(&shell("bad", ""));
        t.push_str(&shell("fix", ""));
        t.push_str(&shell("down", "after = [{ node_id = \"waiter\" }]"));
        same_both_ways(&t, last);
        same_both_ways(&t, first);
    }

    /// An artifact's consumer waits on its producer without an `after` edge.
    #[test]
    fn a_produced_artifact_wakes_its_consumer() {
        let mut t = "id = \"t\"\nversion = \"v1\"\nartifact_contracts = [{ id = \"doc\", version = \"v1\" }]\n".to_owned();
        t.push_str(&shell("slow", ""));
        t.push_str(&shell(
            "make",
            "after = [{ node_id = \"slow\" }]\nproduces = { succeeded = [{ custom = { type_id = \"doc\", key = \"d\" } }] }",
        ));
        t.push_str(&shell(
            "use",
            "needs = [{ custom = { type_id = \"doc\", key = \"d\" } }]",
        ));
        same_both_ways(&t, first);
        same_both_ways(&t, last);
    }

    /// The waits a new run is written with are the ones its first tick gives: that tick rewrites
    /// only the records of the nodes it starts.
    #[test]
    fn initial_waits_are_the_first_ticks_waits() {
        let mut t = HEAD.to_owned();
        t.push_str(&shell("a", ""));
        t.push_str(&shell("b", ""));
        t.push_str(&shell(
            "c",
            "after = [{ node_id = \"a\" }, { node_id = \"b\" }]",
        ));
        t.push_str(&shell(
            "h",
            "after = [{ node_id = \"c\", on = \"failed\" }]",
        ));
        t.push_str(&shell("d", "after = [{ node_id = \"c\" }]"));
        let template = parse_template(0, &t).template.expect("template parses");
        let params = resolve_params(&template, &[]).unwrap();
        let mut plan = compile(&template, "t.toml", params, Trigger::default(), None).unwrap();
        assign_run_id(&mut plan, 0);
        let fresh = Store::new(std::path::Path::new("/nowhere")).initial_manifest(&plan, "T0");
        let (mut plain, mut waited) = (fresh.clone(), fresh);
        initial_waits(&plan, &mut waited);
        let world = World::default();
        let a = tick_woken(
            &plan,
            &mut plain,
            &world,
            &mut LockTable::default(),
            "T1",
            true,
            None,
            Wake::All,
        );
        let b = tick_woken(
            &plan,
            &mut waited,
            &world,
            &mut LockTable::default(),
            "T1",
            true,
            None,
            Wake::All,
        );
        assert_eq!(plain, waited);
        assert_eq!(a.start, [0, 1]);
        assert_eq!(b.changed.iter().copied().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(a.changed.len(), 5);
    }

    /// A loop-back puts earlier nodes back to `queued`: they start again, woken.
    #[test]
    fn a_loop_back_requeues_and_wakes_its_targets() {
        let mut t = HEAD.to_owned();
        t.push_str(&shell("a", ""));
        t.push_str(&shell(
            "bad",
            "after = [{ node_id = \"a\" }]\non = { failed = [\"a\"] }\nretry = { mode = \"on_failure\", budget = 2 }",
        ));
        t.push_str(&shell("c", "after = [{ node_id = \"bad\" }]"));
        same_both_ways(&t, first);
    }
}
