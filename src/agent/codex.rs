//! Codex CLI's `codex exec --json`: one JSON event per line — `thread.started`, `turn.started`,
//! `item.started` / `item.updated` / `item.completed` (items of type `agent_message`, `reasoning`,
//! `command_execution`, `file_change`, `mcp_tool_call`, `web_search`, `todo_list`, `error`), then
//! `turn.completed` (with `usage`) or `turn.failed` (with `error.message`); `error` for a failure
//! of the stream itself. The final answer is the text of the last completed `agent_message`.

use serde_json::Value;

use super::format::{Tracker, clip, clip_json, size, str_at};

pub fn event(event: &Value, t: &mut Tracker) -> String {
    let kind = str_at(event, "/type").unwrap_or("");
    match kind {
        "thread.started" => format!(
            "session started (thread {})",
            str_at(event, "/thread_id").unwrap_or("?")
        ),
        "turn.started" => "turn started".into(),
        "turn.completed" => {
            t.finished = true;
            let tokens = |k: &str| {
                event
                    .pointer(&format!("/usage/{k}"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
            };
            format!(
                "turn completed ({} input, {} output tokens)",
                tokens("input_tokens"),
                tokens("output_tokens")
            )
        }
        "turn.failed" => {
            let message = str_at(event, "/error/message").unwrap_or("turn failed");
            t.error = Some(clip(message));
            format!("error: {}", clip(message))
        }
        "error" => {
            let message = str_at(event, "/message").unwrap_or("error");
            t.error = Some(clip(message));
            format!("error: {}", clip(message))
        }
        "item.started" | "item.updated" | "item.completed" => {
            let item = event.get("item").unwrap_or(&Value::Null);
            item_line(kind == "item.completed", item, t)
        }
        other => format!("event: {other}"),
    }
}

fn item_line(completed: bool, item: &Value, t: &mut Tracker) -> String {
    let text = || clip(str_at(item, "/text").unwrap_or(""));
    match str_at(item, "/type").unwrap_or("") {
        "agent_message" => {
            if completed {
                t.answer = Some(str_at(item, "/text").unwrap_or("").to_owned());
            }
            format!("says: {}", text())
        }
        "reasoning" => format!("thinking: {}", text()),
        "command_execution" => {
            let command = clip(str_at(item, "/command").unwrap_or(""));
            if completed {
                let output = str_at(item, "/aggregated_output").map_or(0, str::len);
                let code = item
                    .get("exit_code")
                    .and_then(Value::as_i64)
                    .map_or(String::new(), |c| format!(", exit code {c}"));
                format!("tool result: {} from `{command}`{code}", size(output))
            } else {
                format!("tool call: shell `{command}`")
            }
        }
        "file_change" => {
            let paths: Vec<String> = item
                .get("changes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| {
                    format!(
                        "{} {}",
                        str_at(c, "/kind").unwrap_or("change"),
                        str_at(c, "/path").unwrap_or("?")
                    )
                })
                .collect();
            format!("file change: {}", paths.join(", "))
        }
        "mcp_tool_call" => {
            let name = format!(
                "{}.{}",
                str_at(item, "/server").unwrap_or("?"),
                str_at(item, "/tool").unwrap_or("?")
            );
            if completed {
                let bytes = item.get("result").map_or(0, |r| r.to_string().len());
                format!("tool result: {} from {name}", size(bytes))
            } else {
                format!(
                    "tool call: {name} {}",
                    clip_json(item.get("arguments").unwrap_or(&Value::Null))
                )
            }
        }
        "web_search" => format!(
            "tool call: web_search {}",
            clip(str_at(item, "/query").unwrap_or(""))
        ),
        "todo_list" => format!(
            "todo list: {} items",
            item.get("items")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        ),
        "error" => format!("error: {}", clip(str_at(item, "/message").unwrap_or(""))),
        other => format!("item: {other}"),
    }
}
