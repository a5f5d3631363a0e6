//! JSON Schemas (draft-07) of the records vizier writes: the run manifest
//! (`.vizier/jobs/runs/<run_id>.json`, also what `vizier run --format json` prints) and the job record
//! (`.vizier/jobs/<job_id>/job.json`). `vizier schema --manifest` / `--job-record` print them.
//!
//! They describe what vizier writes: the fields it always writes are required and typed. Readers
//! are tolerant (unknown fields are kept), so the schemas allow additional properties.

use serde_json::{Value, json};

use crate::store::Status;

fn nullable(kind: &str) -> Value {
    json!({ "type": [kind, "null"] })
}

fn timestamp() -> Value {
    json!({ "type": ["string", "null"], "description": "RFC 3339 UTC time, e.g. 2026-01-02T03:04:05Z" })
}

fn statuses() -> Value {
    let names: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
    json!({ "type": "string", "enum": names })
}

fn wait_reason() -> Value {
    json!({
        "type": "object",
        "required": ["kind", "detail"],
        "properties": {
            "kind": { "type": "string", "description": "What the job waits for: deps, approval, locks, artifacts, preconditions" },
            "detail": { "type": "string" }
        }
    })
}

fn approval() -> Value {
    json!({
        "type": "object",
        "required": ["state", "at"],
        "properties": {
            "state": { "type": "string", "enum": ["approved", "rejected"] },
            "reason": { "type": "string" },
            "at": { "type": "string" }
        }
    })
}

fn node() -> Value {
    json!({
        "type": "object",
        "required": [
            "node_id", "job_id", "class", "executor_class", "executor_operation", "control_policy",
            "after", "status", "outcome", "attempts", "exit_code", "started_at", "finished_at",
            "stdout", "stderr"
        ],
        "properties": {
            "node_id": { "type": "string", "minLength": 1 },
            "job_id": { "type": "string", "minLength": 1, "description": "<run_id>-<node_id>" },
            "class": { "type": "string", "enum": ["executor", "control"] },
            "executor_class": nullable("string"),
            "executor_operation": nullable("string"),
            "control_policy": nullable("string"),
            "after": { "type": "array", "items": { "type": "string" }, "description": "Job ids this job waits for" },
            "status": statuses(),
            "outcome": { "type": ["string", "null"], "description": "How the job's last attempt ended, once it did" },
            "attempts": { "type": "integer", "minimum": 0 },
            "exit_code": nullable("integer"),
            "started_at": timestamp(),
            "finished_at": timestamp(),
            "stdout": { "type": "string", "description": "Repository-relative path of the stdout log" },
            "stderr": { "type": "string", "description": "Repository-relative path of the stderr log" },
            "stage": { "type": "string", "description": "The composition stage the node came from" },
            "process": {
                "type": "object",
                "required": ["pid"],
                "properties": {
                    "pid": { "type": "integer", "minimum": 1 },
                    "start_ticks": { "type": "integer", "minimum": 0 }
                }
            },
            "wait_reason": wait_reason(),
            "waited_on": { "type": "array", "items": { "type": "string" } },
            "reason": { "type": "string", "description": "Why it ended as it did, beyond the exit code" },
            "approval": approval(),
            "loops": { "type": "integer", "minimum": 0 },
            "metadata": { "type": "object" }
        }
    })
}

/// The run manifest.
pub fn manifest() -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "vizier run manifest",
        "type": "object",
        "required": ["version", "run_id", "template", "params", "trigger", "created_at", "finished_at", "outcome", "nodes"],
        "properties": {
            "version": { "const": 1 },
            "run_id": { "type": "string", "pattern": "^run-[0-9a-f]{16}$" },
            "template": {
                "type": ["object", "null"],
                "required": ["id", "version", "path", "policy_snapshot_hash"],
                "properties": {
                    "id": { "type": "string" },
                    "version": { "type": "string" },
                    "path": { "type": "string", "description": "Repository-relative path of the template file" },
                    "policy_snapshot_hash": { "type": "string" }
                }
            },
            "params": { "type": "object", "additionalProperties": { "type": "string" } },
            "trigger": {
                "type": "object",
                "required": ["kind", "sha", "ref"],
                "properties": {
                    "kind": { "type": "string", "description": "local or push" },
                    "sha": { "type": "string" },
                    "ref": { "type": "string" },
                    "before": { "type": "string" },
                    "changed_paths": { "type": "array", "items": { "type": "string" } },
                    "env": { "type": "object", "additionalProperties": { "type": "string" } }
                }
            },
            "created_at": { "type": "string" },
            "finished_at": timestamp(),
            "outcome": { "type": ["string", "null"], "enum": ["succeeded", "failed", null] },
            "nodes": { "type": "array", "items": node() },
            "requeues": { "type": "integer", "minimum": 0 },
            "after_runs": {
                "type": "array",
                "items": { "type": "string" },
                "description": "runs whose success this run's entry nodes wait for (`vizier run --after`)"
            },
            "followed_by": {
                "type": "array",
                "items": { "type": "string" },
                "description": "runs started with `--after` this run"
            },
            "driver": {
                "type": "object",
                "required": ["pid"],
                "properties": {
                    "pid": { "type": "integer" },
                    "start_ticks": { "type": "integer" }
                }
            }
        }
    })
}

/// The job record.
pub fn job_record() -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "vizier job record",
        "type": "object",
        "required": [
            "format_version", "job_id", "status", "command", "created_at", "started_at",
            "finished_at", "exit_code", "pid", "schedule", "metadata"
        ],
        "properties": {
            "format_version": { "const": 1 },
            "job_id": { "type": "string", "minLength": 1 },
            "status": statuses(),
            "command": {
                "type": "array",
                "items": { "type": "string" },
                "description": "The argv the scheduler starts: `vizier __workflow-node --job-id <id>`"
            },
            "created_at": timestamp(),
            "started_at": timestamp(),
            "finished_at": timestamp(),
            "exit_code": nullable("integer"),
            "pid": nullable("integer"),
            "reason": { "type": "string" },
            "approval": approval(),
            "schedule": {
                "type": "object",
                "required": ["after"],
                "properties": {
                    "after": { "type": "array", "items": { "type": "string" } },
                    "wait_reason": wait_reason(),
                    "waited_on": { "type": "array", "items": { "type": "string" } },
                    "locks": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["key", "mode"],
                            "properties": {
                                "key": { "type": "string" },
                                "mode": { "type": "string", "enum": ["shared", "exclusive"] },
                                "scope": {
                                    "type": "string",
                                    "enum": ["run"],
                                    "description": "held from the first node naming it until the run ends"
                                }
                            }
                        }
                    }
                }
            },
            "spec": { "type": "object", "description": "What the job was compiled from: operation, resolved args, gates, locks, artifacts" },
            "metadata": {
                "type": "object",
                "properties": {
                    "workflow_run_id": { "type": "string" },
                    "workflow_node_id": { "type": "string" },
                    "workflow_node_attempt": { "type": "integer", "minimum": 0 },
                    "workflow_executor_class": { "type": "string" },
                    "workflow_executor_operation": { "type": "string" },
                    "workflow_control_policy": { "type": "string" }
                }
            }
        }
    })
}

fn pretty(v: &Value) -> String {
    let mut text = serde_json::to_string_pretty(v).expect("schema serializes");
    text.push('\n');
    text
}

pub fn render_manifest() -> String {
    pretty(&manifest())
}

pub fn render_job_record() -> String {
    pretty(&job_record())
}
