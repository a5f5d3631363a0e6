//! Claude Code's `--output-format stream-json` (with `--verbose`): one JSON message per line — a
//! `system` message (`subtype = "init"`) first, then `assistant` messages (content blocks `text`,
//! `tool_use`, `thinking`) and `user` messages (content blocks `tool_result`), and a final `result`
//! message: `subtype = "success"` with the answer in `result`, or an error subtype
//! (`error_max_turns`, `error_during_execution`, …) with `is_error = true`.

use serde_json::Value;

use super::format::{Tracker, clip, clip_json, size, str_at};

pub fn event(event: &Value, t: &mut Tracker) -> String {
    match str_at(event, "/type").unwrap_or("") {
        "system" => match str_at(event, "/subtype") {
            Some("init") => format!(
                "session started (model {})",
                str_at(event, "/model").unwrap_or("unknown")
            ),
            Some(other) => format!("system: {other}"),
            None => "system message".into(),
        },
        "assistant" => {
            let mut parts = Vec::new();
            if let Some(error) = str_at(event, "/error") {
                parts.push(format!("error: {error}"));
            }
            for block in blocks(event) {
                match str_at(block, "/type").unwrap_or("") {
                    "text" => parts.push(format!(
                        "says: {}",
                        clip(str_at(block, "/text").unwrap_or(""))
                    )),
                    "tool_use" => parts.push(format!(
                        "tool call: {} {}",
                        str_at(block, "/name").unwrap_or("?"),
                        clip_json(block.get("input").unwrap_or(&Value::Null))
                    )),
                    "thinking" | "redacted_thinking" => parts.push("thinking".into()),
                    other => parts.push(format!("{other} block")),
                }
            }
            if parts.is_empty() {
                "assistant message".into()
            } else {
                parts.join(" | ")
            }
        }
        "user" => {
            let mut parts = Vec::new();
            for block in blocks(event) {
                if str_at(block, "/type") == Some("tool_result") {
                    let bytes = result_len(block.get("content").unwrap_or(&Value::Null));
                    let failed = block.get("is_error").and_then(Value::as_bool) == Some(true);
                    parts.push(format!(
                        "tool result: {}{}",
                        size(bytes),
                        if failed { " (error)" } else { "" }
                    ));
                }
            }
            if parts.is_empty() {
                "user message".into()
            } else {
                parts.join(" | ")
            }
        }
        "result" => {
            t.finished = true;
            let subtype = str_at(event, "/subtype").unwrap_or("");
            let is_error = event.get("is_error").and_then(Value::as_bool) == Some(true);
            let turns = event.get("num_turns").and_then(Value::as_u64).unwrap_or(0);
            let ms = event
                .get("duration_ms")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if subtype == "success" && !is_error {
                let answer = str_at(event, "/result").unwrap_or("").to_owned();
                let line = format!(
                    "finished: {turns} turns in {ms} ms, answer of {}",
                    size(answer.len())
                );
                t.answer = Some(answer);
                line
            } else {
                let what = if subtype.is_empty() { "error" } else { subtype };
                let detail = str_at(event, "/result").map(clip).unwrap_or_default();
                t.error = Some(if detail.is_empty() {
                    format!("`{what}`")
                } else {
                    format!("`{what}`: {detail}")
                });
                format!("error: the run ended with `{what}` after {turns} turns")
            }
        }
        other => format!("event: {other}"),
    }
}

fn blocks(event: &Value) -> impl Iterator<Item = &Value> {
    event
        .pointer("/message/content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// A tool result's content: a string, or a list of `text` blocks.
fn result_len(content: &Value) -> usize {
    match content {
        Value::String(s) => s.len(),
        Value::Array(items) => items
            .iter()
            .map(|i| str_at(i, "/text").map_or(0, str::len))
            .sum(),
        Value::Null => 0,
        other => other.to_string().len(),
    }
}
