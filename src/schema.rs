//! `vizier schema`: a JSON Schema (draft-07, what taplo and Even Better TOML read) of the template
//! format, generated from the same tables the validator uses so the two cannot drift apart.

use serde_json::{Value, json};

use crate::template::identity::{IDENTITIES, Kind};
use crate::template::{FailureMode, GateKind, LockMode, RetryMode};

fn string_enum(values: &[&str]) -> Value {
    json!({ "type": "string", "enum": values })
}

fn artifact_ref() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["custom"],
        "properties": {
            "custom": {
                "type": "object",
                "additionalProperties": false,
                "required": ["type_id", "key"],
                "properties": {
                    "type_id": { "type": "string", "minLength": 1 },
                    "key": { "type": "string", "minLength": 1 }
                }
            }
        }
    })
}

fn per_outcome(item: Value) -> Value {
    let list = json!({ "type": "array", "items": item });
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": { "succeeded": list, "failed": list, "blocked": list }
    })
}

/// The schema as a JSON value.
pub fn schema() -> Value {
    let uses: Vec<&str> = IDENTITIES.iter().map(|row| row.uses).collect();
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    let scalar = json!({ "type": ["string", "boolean", "integer"] });
    let route_targets = json!({
        "oneOf": [
            { "type": "string" },
            { "type": "array", "items": { "type": "string" } }
        ]
    });
    let node = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["id", "uses"],
        "properties": {
            "id": { "type": "string", "minLength": 1, "description": "Unique in the template" },
            "kind": string_enum(&kinds),
            "uses": {
                "type": "string",
                "enum": uses,
                "description": "A canonical label; anything else is rejected"
            },
            "args": {
                "type": "object",
                "description": "String map; values may use ${param}",
                "properties": {
                    "command": { "type": "string", "description": "Shell text run by a shell node" },
                    "script": { "type": "string", "description": "A script path or shell text" }
                },
                "additionalProperties": {
                    "oneOf": [scalar, { "type": "array", "items": { "type": "string" } }]
                }
            },
            "after": {
                "type": "array",
                "items": {
                    "oneOf": [
                        { "type": "string" },
                        {
                            "type": "object",
                            "additionalProperties": false,
                            "required": ["node_id"],
                            "properties": { "node_id": { "type": "string" } }
                        }
                    ]
                }
            },
            "needs": { "type": "array", "items": artifact_ref() },
            "produces": per_outcome(artifact_ref()),
            "locks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["key"],
                    "properties": {
                        "key": { "type": "string" },
                        "mode": string_enum(&LockMode::NAMES),
                        "scope": string_enum(&["node", "run"])
                    }
                }
            },
            "gates": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["kind"],
                    "properties": {
                        "kind": string_enum(&GateKind::NAMES),
                        "script": { "type": "string" },
                        "policy": string_enum(&["block", "retry"]),
                        "required": { "type": "boolean" },
                        "auto_resolve": { "type": "boolean" },
                        "id": { "type": "string" }
                    }
                }
            },
            "retry": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "mode": string_enum(&RetryMode::NAMES),
                    "budget": { "type": ["integer", "string"], "minimum": 0 }
                }
            },
            "on": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "succeeded": route_targets,
                    "failed": route_targets,
                    "blocked": route_targets
                }
            },
            "preconditions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["kind"],
                    "properties": {
                        "kind": string_enum(&["clean_worktree", "branch_exists"]),
                        "branch": { "type": "string" }
                    }
                }
            }
        }
    });
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://vizier.dev/schema/template.json",
        "title": "vizier workflow template",
        "type": "object",
        "additionalProperties": false,
        "required": ["id", "version"],
        "properties": {
            "id": { "type": "string", "minLength": 1 },
            "version": { "type": "string", "minLength": 1 },
            "description": { "type": "string" },
            "params": {
                "type": "object",
                "additionalProperties": {
                    "anyOf": [
                        scalar,
                        {
                            "type": "object",
                            "additionalProperties": false,
                            "properties": {
                                "default": scalar,
                                "description": { "type": "string" },
                                "required": { "type": "boolean" }
                            }
                        }
                    ]
                }
            },
            "cli": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "positional": { "type": "array", "items": { "type": "string" } },
                    "named": {
                        "type": "object",
                        "propertyNames": { "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]*$" },
                        "additionalProperties": { "type": "string" }
                    }
                }
            },
            "artifact_contracts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["id", "version"],
                    "properties": {
                        "id": { "type": "string", "minLength": 1 },
                        "version": { "type": "string", "minLength": 1 }
                    }
                }
            },
            "nodes": { "type": "array", "items": node },
            "policy": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "failure_mode": string_enum(&FailureMode::NAMES),
                    "max_requeues": { "type": "integer", "minimum": 0 }
                }
            },
            "imports": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name", "path"],
                    "properties": {
                        "name": { "type": "string", "minLength": 1 },
                        "path": { "type": "string", "minLength": 1 }
                    }
                }
            },
            "links": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["from", "to"],
                    "properties": {
                        "from": { "type": "string" },
                        "to": { "type": "string" }
                    }
                }
            }
        }
    })
}

/// Pretty JSON with a trailing newline.
pub fn render() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).expect("schema serializes");
    text.push('\n');
    text
}
