//! The edges, read from a template: `after` entries and forward routes are
//! dependencies; backward routes (to the source itself or an earlier node) are loop-backs.
//!
//! Validation (unknown refs, cycles) and compilation (job `after` lists, handlers, re-queues) both read
//! this one classification.

use std::collections::HashMap;

use super::{Outcome, Span, Template};

/// Why a node waits for an upstream node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepKind {
    /// `after`, or a forward `on.succeeded` route: runs once the upstream succeeded.
    Success,
    /// A forward `on.failed` / `on.blocked` route: a handler that runs only on that outcome.
    Handler(Outcome),
}

#[derive(Clone, Debug)]
pub struct Dep {
    pub upstream: usize,
    pub kind: DepKind,
    /// Where the edge is written (an `after` entry or a route target).
    pub file: usize,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct LoopBack {
    pub source: usize,
    pub outcome: Outcome,
    pub target: usize,
    pub file: usize,
    pub span: Span,
}

/// A reference to a node id that does not exist.
#[derive(Clone, Debug)]
pub struct DanglingRef {
    pub node: usize,
    pub name: String,
    pub field: String,
    pub file: usize,
    pub span: Span,
}

#[derive(Debug, Default)]
pub struct Graph {
    /// Node id → index of its first declaration.
    pub index: HashMap<String, usize>,
    /// Per node, the edges it waits on, in declaration order.
    pub deps: Vec<Vec<Dep>>,
    pub loop_backs: Vec<LoopBack>,
    pub dangling: Vec<DanglingRef>,
}

impl Graph {
    pub fn build(template: &Template) -> Graph {
        let mut graph = Graph {
            deps: vec![Vec::new(); template.nodes.len()],
            ..Graph::default()
        };
        for (i, node) in template.nodes.iter().enumerate() {
            if let Some(id) = node.id_str() {
                graph.index.entry(id.to_owned()).or_insert(i);
            }
        }
        for (i, node) in template.nodes.iter().enumerate() {
            for (k, entry) in node.after.iter().enumerate() {
                match graph.index.get(&entry.value) {
                    Some(&up) => graph.deps[i].push(Dep {
                        upstream: up,
                        kind: DepKind::Success,
                        file: node.after_file(k),
                        span: entry.span.clone(),
                    }),
                    None => graph.dangling.push(DanglingRef {
                        node: i,
                        name: entry.value.clone(),
                        field: "after".to_owned(),
                        file: node.after_file(k),
                        span: entry.span.clone(),
                    }),
                }
            }
            for (outcome, targets) in node.on.iter() {
                for target in targets {
                    let Some(&t) = graph.index.get(&target.value) else {
                        graph.dangling.push(DanglingRef {
                            node: i,
                            name: target.value.clone(),
                            field: format!("on.{}", outcome.as_str()),
                            file: node.file,
                            span: target.span.clone(),
                        });
                        continue;
                    };
                    if t > i {
                        let kind = match outcome {
                            Outcome::Succeeded => DepKind::Success,
                            other => DepKind::Handler(other),
                        };
                        graph.deps[t].push(Dep {
                            upstream: i,
                            kind,
                            file: node.file,
                            span: target.span.clone(),
                        });
                    } else {
                        graph.loop_backs.push(LoopBack {
                            source: i,
                            outcome,
                            target: t,
                            file: node.file,
                            span: target.span.clone(),
                        });
                    }
                }
            }
        }
        graph
    }

    /// Downstream adjacency: for each node, the nodes that depend on it.
    pub fn dependents(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.deps.len()];
        for (i, deps) in self.deps.iter().enumerate() {
            for dep in deps {
                if !out[dep.upstream].contains(&i) {
                    out[dep.upstream].push(i);
                }
            }
        }
        out
    }

    /// Every dependency cycle, each as the node indices along it (starting at its lowest index),
    /// found deterministically in declaration order. Linear in nodes plus edges.
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        let n = self.deps.len();
        // Kahn's algorithm over upstream → downstream: what it cannot order sits on or after a cycle.
        let dependents = self.dependents();
        let mut indegree: Vec<usize> = self
            .deps
            .iter()
            .map(|deps| {
                let mut ups: Vec<usize> = deps.iter().map(|d| d.upstream).collect();
                ups.sort_unstable();
                ups.dedup();
                ups.len()
            })
            .collect();
        let mut queue: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut ordered = vec![false; n];
        while let Some(i) = queue.pop() {
            ordered[i] = true;
            for &d in &dependents[i] {
                indegree[d] -= 1;
                if indegree[d] == 0 {
                    queue.push(d);
                }
            }
        }
        // Walk upstream through unordered nodes until a node repeats: that closes a cycle.
        let mut on_reported = vec![false; n];
        let mut visited_walk = vec![usize::MAX; n];
        let mut cycles = Vec::new();
        for start in 0..n {
            if ordered[start] || visited_walk[start] != usize::MAX {
                continue;
            }
            let mut path = Vec::new();
            let mut current = start;
            loop {
                if visited_walk[current] == start {
                    let pos = path.iter().position(|&p| p == current).expect("on path");
                    let mut cycle: Vec<usize> = path[pos..].to_vec();
                    cycle.reverse(); // upstream walk → downstream order
                    let min = cycle
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, v)| **v)
                        .map(|(i, _)| i)
                        .unwrap_or(0);
                    cycle.rotate_left(min);
                    if !cycle.iter().any(|&c| on_reported[c]) {
                        for &c in &cycle {
                            on_reported[c] = true;
                        }
                        cycles.push(cycle);
                    }
                    break;
                }
                if visited_walk[current] != usize::MAX {
                    break; // joins a walk already done
                }
                visited_walk[current] = start;
                path.push(current);
                let next = self.deps[current]
                    .iter()
                    .map(|d| d.upstream)
                    .filter(|&u| !ordered[u])
                    .min();
                match next {
                    Some(u) => current = u,
                    None => break,
                }
            }
        }
        cycles
    }

    /// The edge `from → to` (where `to` waits on `from`), for pointing at it.
    pub fn edge(&self, from: usize, to: usize) -> Option<&Dep> {
        self.deps[to].iter().find(|d| d.upstream == from)
    }
}
