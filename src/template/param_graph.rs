//! The graph of params that refer to params (`branch = "draft/${slug}"`), walked in linear time:
//! which params lie on a cycle, and how long each param's value is once expanded — without
//! expanding it. Both the validator and the compiler read it, so a template whose params expand
//! past [`MAX_EXPANDED`] bytes is a finding at validation and can never reach an allocation.

use std::collections::HashMap;

use super::Param;
use super::params::{Piece, pieces};

/// The largest expanded value of one param, in bytes (1 MiB): far above any real command or
/// branch name, far below what a doubling chain of params reaches.
pub const MAX_EXPANDED: u64 = 1 << 20;

/// For each param (declaration order): the indexes of the declared params its default names, and
/// the length of the rest of its text (literals, and undeclared `${name}`s, which stay literal).
fn edges_and_literals(params: &[Param]) -> (Vec<Vec<usize>>, Vec<u64>) {
    let index: HashMap<&str, usize> = params
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.value.as_str(), i))
        .collect();
    let mut edges = Vec::with_capacity(params.len());
    let mut literals = Vec::with_capacity(params.len());
    for p in params {
        let mut to = Vec::new();
        let mut literal = 0u64;
        for piece in pieces(&p.default.value) {
            match piece {
                Piece::Literal(s) | Piece::Unclosed(s) => literal += s.len() as u64,
                Piece::Ref(name) => match index.get(name) {
                    Some(&i) => to.push(i),
                    None => literal += name.len() as u64 + 3,
                },
            }
        }
        edges.push(to);
        literals.push(literal);
    }
    (edges, literals)
}

fn edges(params: &[Param]) -> Vec<Vec<usize>> {
    edges_and_literals(params).0
}

/// The first param (declaration order) that lies on a cycle of references (Tarjan's strongly
/// connected components, iteratively: no recursion depth to run out of).
pub fn first_on_cycle(params: &[Param]) -> Option<usize> {
    let edges = edges(params);
    let n = params.len();
    let mut on_cycle = vec![false; n];
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut next = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (node, position in its edge list)
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            if *pos < edges[v].len() {
                let w = edges[v][*pos];
                *pos += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut members = Vec::new();
                loop {
                    let w = stack.pop().expect("tarjan stack");
                    on_stack[w] = false;
                    members.push(w);
                    if w == v {
                        break;
                    }
                }
                let cyclic = members.len() > 1 || edges[v].contains(&v);
                if cyclic {
                    for m in members {
                        on_cycle[m] = true;
                    }
                }
            }
        }
    }
    on_cycle.iter().position(|&c| c)
}

/// The first param (declaration order) whose expanded value is longer than [`MAX_EXPANDED`] while
/// every param it names stays within it: the param where the expansion overflows. Lengths only,
/// computed once per param (saturating), so this is linear in the template. Params on a cycle are
/// left to the cycle check.
pub fn first_overflow(params: &[Param]) -> Option<(usize, u64)> {
    let (edges, literal) = edges_and_literals(params);
    let n = params.len();
    // 0 = not seen, 1 = in progress, 2 = done
    let mut state = vec![0u8; n];
    let mut len = vec![0u64; n];
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            if *pos < edges[v].len() {
                let w = edges[v][*pos];
                *pos += 1;
                if state[w] == 0 {
                    state[w] = 1;
                    work.push((w, 0));
                }
                continue;
            }
            work.pop();
            let mut total = literal[v];
            for &w in &edges[v] {
                // An in-progress w is a cycle: counted as 0 here, reported by the cycle check.
                if state[w] == 2 {
                    total = total.saturating_add(len[w]);
                }
            }
            len[v] = total;
            state[v] = 2;
        }
    }
    (0..n)
        .find(|&i| len[i] > MAX_EXPANDED && edges[i].iter().all(|&w| len[w] <= MAX_EXPANDED))
        .map(|i| (i, len[i]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Sp;

    fn params(list: &[(&str, &str)]) -> Vec<Param> {
        list.iter()
            .map(|(n, d)| Param {
                file: 0,
                name: Sp {
                    value: n.to_string(),
                    span: 0..0,
                },
                default: Sp {
                    value: d.to_string(),
                    span: 0..0,
                },
                description: None,
                required: false,
            })
            .collect()
    }

    #[test]
    fn cycles_and_overflows_are_found_in_linear_time() {
        let p = params(&[("a", "x"), ("b", "${c}"), ("c", "${b}"), ("d", "${d}")]);
        assert_eq!(first_on_cycle(&p), Some(1));
        assert_eq!(first_on_cycle(&params(&[("a", "${b}"), ("b", "x")])), None);
        let mut list = vec![("p0".to_owned(), "x".repeat(16))];
        for i in 1..60 {
            list.push((format!("p{i}"), format!("${{p{}}}${{p{}}}", i - 1, i - 1)));
        }
        let refs: Vec<(&str, &str)> = list.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let (at, len) = first_overflow(&params(&refs)).unwrap();
        assert_eq!(at, 17, "16 << 17 is the first past 1 MiB");
        assert_eq!(len, 16 << 17);
        // A long chain: linear, no recursion.
        let chain: Vec<(String, String)> = (0..200_000)
            .map(|i| {
                (
                    format!("p{i}"),
                    if i == 0 {
                        "x".into()
                    } else {
                        format!("${{p{}}}", i - 1)
                    },
                )
            })
            .collect();
        let refs: Vec<(&str, &str)> = chain
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let p = params(&refs);
        assert_eq!(first_on_cycle(&p), None);
        assert_eq!(first_overflow(&p), None);
    }
}
