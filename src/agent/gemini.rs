//! Gemini CLI's `--output-format stream-json`: one JSON event per line — `init` (session id,
//! model), `message` (`role` user or assistant, `content`, `delta` for chunks), `tool_use`
//! (`tool_name`, `tool_id`, `parameters`), `tool_result` (`tool_id`, `status`, `output` or
//! `error`), `error` (non-fatal warnings and errors, with `severity`) and a final `result`
//! (`status`, `stats`, and `error` when it failed). The final answer is the assistant text after
//! the last tool call, once `result` says `success`.

use serde_json::Value;

use super::format::{Tracker, clip, clip_json, size, str_at};

pub fn event(event: &Value, t: &mut Tracker) -> String {
    match str_at(event, "/type").unwrap_or("") {
        "init" => format!(
            "session started (model {})",
            str_at(event, "/model").unwrap_or("unknown")
        ),
        "message" => {
            let content = str_at(event, "/content").unwrap_or("");
            if str_at(event, "/role") == Some("assistant") {
                let delta = event.get("delta").and_then(Value::as_bool) == Some(true);
                if !delta {
                    t.pending.clear();
                }
                t.pending.push_str(content);
                format!("says: {}", clip(content))
            } else {
                format!("prompt: {}", size(content.len()))
            }
        }
        "tool_use" => {
            t.pending.clear();
            format!(
                "tool call: {} {}",
                str_at(event, "/tool_name").unwrap_or("?"),
                clip_json(event.get("parameters").unwrap_or(&Value::Null))
            )
        }
        "tool_result" => {
            let status = str_at(event, "/status").unwrap_or("?");
            match str_at(event, "/error/message") {
                Some(message) => format!("tool result: {status}: {}", clip(message)),
                None => format!(
                    "tool result: {} ({status})",
                    size(str_at(event, "/output").map_or(0, str::len))
                ),
            }
        }
        "error" => format!(
            "{}: {}",
            str_at(event, "/severity").unwrap_or("error"),
            clip(str_at(event, "/message").unwrap_or(""))
        ),
        "result" => {
            t.finished = true;
            let status = str_at(event, "/status").unwrap_or("");
            if status == "success" {
                t.answer = Some(t.pending.clone());
                let tokens = event
                    .pointer("/stats/total_tokens")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                format!(
                    "finished: {tokens} tokens, answer of {}",
                    size(t.pending.len())
                )
            } else {
                let message = str_at(event, "/error/message")
                    .map(clip)
                    .unwrap_or_else(|| format!("status `{status}`"));
                t.error = Some(message.clone());
                format!("error: {message}")
            }
        }
        other => format!("event: {other}"),
    }
}
