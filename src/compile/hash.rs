//! The policy-snapshot hash: a stable hash of a template's semantic content.
//!
//! Built from a canonical JSON value (object keys sorted, nodes in declaration order), so comments,
//! whitespace and key order within a table never change it. Computed once per template.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::template::{Precondition, Template};

fn canonical(template: &Template) -> Value {
    let text = |s: &Option<crate::template::Sp<String>>| s.as_ref().map(|s| s.value.clone());
    let nodes: Vec<Value> = template
        .nodes
        .iter()
        .map(|n| {
            let args: serde_json::Map<String, Value> = n
                .args
                .iter()
                .map(|(k, v)| (k.value.clone(), Value::String(v.value.clone())))
                .collect();
            let routes: serde_json::Map<String, Value> = n
                .on
                .iter()
                .filter(|(_, t)| !t.is_empty())
                .map(|(o, t)| {
                    (
                        o.as_str().to_owned(),
                        t.iter().map(|s| s.value.clone()).collect(),
                    )
                })
                .collect();
            let artifacts = |list: &[crate::template::Sp<crate::template::ArtifactRef>]| {
                list.iter()
                    .map(|a| json!({ "type_id": a.value.type_id, "key": a.value.key }))
                    .collect::<Vec<_>>()
            };
            json!({
                "id": text(&n.id),
                "kind": n.kind.effective().map(|k| k.as_str()),
                "uses": text(&n.uses),
                "args": args,
                "after": n.after.iter().map(|s| s.value.clone()).collect::<Vec<_>>(),
                "needs": artifacts(&n.needs),
                "produces": {
                    "succeeded": artifacts(&n.produces.succeeded),
                    "failed": artifacts(&n.produces.failed),
                    "blocked": artifacts(&n.produces.blocked),
                },
                "locks": n.locks.iter().map(|l| json!({ "key": l.key.value, "mode": l.mode.as_str() })).collect::<Vec<_>>(),
                "gates": n.gates.iter().map(|g| json!({
                    "kind": g.kind.as_ref().map(|k| k.value.as_str()),
                    "script": text(&g.script),
                    "policy": text(&g.policy),
                    "required": g.required,
                    "auto_resolve": g.auto_resolve,
                    "id": text(&g.id),
                })).collect::<Vec<_>>(),
                "retry": n.retry.as_ref().map(|r| json!({
                    "mode": r.mode.as_ref().map(|m| m.value.as_str()),
                    "budget": text(&r.budget),
                })),
                "on": routes,
                "preconditions": n.preconditions.iter().map(|p| match p {
                    Precondition::CleanWorktree => json!({ "kind": "clean_worktree" }),
                    Precondition::BranchExists(b) => json!({ "kind": "branch_exists", "branch": b.value }),
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    let params: serde_json::Map<String, Value> = template
        .params
        .iter()
        .map(|p| (p.name.value.clone(), Value::String(p.default.value.clone())))
        .collect();
    json!({
        "id": text(&template.id),
        "version": text(&template.version),
        "params": params,
        "artifact_contracts": template.artifact_contracts.iter().map(|c| json!({
            "id": text(&c.id), "version": text(&c.version)
        })).collect::<Vec<_>>(),
        "policy": {
            "failure_mode": template.policy.failure_mode.as_str(),
            "max_requeues": template.policy.max_requeues,
        },
        "nodes": nodes,
    })
}

/// Hex SHA-256 of the canonical form.
pub fn policy_snapshot_hash(template: &Template) -> String {
    let bytes = serde_json::to_vec(&canonical(template)).expect("canonical form serializes");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::parse_template;

    fn hash(text: &str) -> String {
        let parsed = parse_template(0, text);
        policy_snapshot_hash(parsed.template.as_ref().unwrap())
    }

    #[test]
    fn comments_whitespace_and_key_order_do_not_matter() {
        let a = "id = \"t\"\nversion = \"v1\"\n[[nodes]]\nid = \"a\"\nkind = \"shell\"\nuses = \"cap.env.shell.command.run\"\nargs = { command = \"true\" }\n";
        let b = "# comment\nversion = \"v1\"\nid = \"t\"\n\n[[nodes]]\nuses = \"cap.env.shell.command.run\"\nargs = {command=\"true\"}\nkind = \"shell\"\nid = \"a\"\n";
        assert_eq!(hash(a), hash(b));
        let c = a.replace("true", "false");
        assert_ne!(hash(a), hash(&c));
    }
}
