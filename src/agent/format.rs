//! Output formats of agents: plain text (the whole stdout is the answer) or one of the JSON-lines
//! streams of the agent CLIs. A [`Tracker`] reads a stream line by line: every event becomes one
//! readable line for the job's log, and the final answer is picked out of the events that carry it.
//!
//! A line that is not JSON (or not an object) is kept in the log as it is and never fails the node;
//! a stream that ends without a final answer does, with the reason.

use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Text,
    ClaudeStream,
    CodexJsonl,
    GeminiStream,
}

impl OutputFormat {
    pub const NAMES: [&'static str; 4] = ["text", "claude-stream", "codex-jsonl", "gemini-stream"];

    pub fn parse(name: &str) -> Option<OutputFormat> {
        match name {
            "text" => Some(OutputFormat::Text),
            "claude-stream" => Some(OutputFormat::ClaudeStream),
            "codex-jsonl" => Some(OutputFormat::CodexJsonl),
            "gemini-stream" => Some(OutputFormat::GeminiStream),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The word that starts each readable log line.
    fn tag(self) -> &'static str {
        match self {
            OutputFormat::Text => "agent",
            OutputFormat::ClaudeStream => "claude",
            OutputFormat::CodexJsonl => "codex",
            OutputFormat::GeminiStream => "gemini",
        }
    }
}

/// What a stream has said so far.
#[derive(Debug)]
pub struct Tracker {
    pub format: OutputFormat,
    /// The final answer, once an event gave it.
    pub answer: Option<String>,
    /// Assistant text since the last tool call (Gemini streams the answer in chunks).
    pub pending: String,
    /// Why the agent failed, when an event said so.
    pub error: Option<String>,
    /// Whether the event that ends a stream (`result`, `turn.completed`) was seen.
    pub finished: bool,
    pub events: usize,
    pub malformed: usize,
}

impl Tracker {
    pub fn new(format: OutputFormat) -> Tracker {
        Tracker {
            format,
            answer: None,
            pending: String::new(),
            error: None,
            finished: false,
            events: 0,
            malformed: 0,
        }
    }

    /// Reads one line of the stream; returns the line for the log (none for a blank line).
    pub fn feed(&mut self, line: &str) -> Option<String> {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() {
            return None;
        }
        let tag = self.format.tag();
        let event = match serde_json::from_str::<Value>(line) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                self.malformed += 1;
                return Some(format!("[{tag}] (not a JSON event) {line}"));
            }
        };
        self.events += 1;
        let text = match self.format {
            OutputFormat::ClaudeStream => super::claude::event(&event, self),
            OutputFormat::CodexJsonl => super::codex::event(&event, self),
            OutputFormat::GeminiStream => super::gemini::event(&event, self),
            OutputFormat::Text => clip(line),
        };
        Some(format!("[{tag}] {text}"))
    }

    /// The final answer, or why there is none.
    pub fn finish(&self) -> Result<String, String> {
        if let Some(error) = &self.error {
            return Err(format!(
                "no final answer: the agent reported an error: {error}"
            ));
        }
        match &self.answer {
            Some(answer) if !answer.trim().is_empty() => Ok(answer.clone()),
            _ => Err(format!(
                "no final answer: the agent's {} stream ended without one ({}; {} events, {} unreadable lines)",
                self.format.as_str(),
                match self.format {
                    OutputFormat::ClaudeStream => "no successful `result` event",
                    OutputFormat::CodexJsonl => "no completed `agent_message` item",
                    OutputFormat::GeminiStream =>
                        "no assistant message before a successful `result` event",
                    OutputFormat::Text => "no output",
                },
                self.events,
                self.malformed
            )),
        }
    }
}

/// Text for one log line: whitespace runs (newlines too) become one space, and it is cut at 200
/// characters.
pub fn clip(text: &str) -> String {
    const MAX: usize = 200;
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= MAX {
        joined
    } else {
        let cut: String = joined.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

/// A JSON value as compact text, clipped.
pub fn clip_json(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => clip(s),
        other => clip(&other.to_string()),
    }
}

pub fn str_at<'v>(value: &'v Value, pointer: &str) -> Option<&'v str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// The size of a tool result as the log shows it.
pub fn size(bytes: usize) -> String {
    if bytes == 1 {
        "1 byte".into()
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_that_is_not_json_is_kept_and_counted() {
        let mut t = Tracker::new(OutputFormat::CodexJsonl);
        assert_eq!(
            t.feed("oops {").as_deref(),
            Some("[codex] (not a JSON event) oops {")
        );
        assert_eq!(t.feed("   "), None);
        assert_eq!(
            t.feed("[1,2]").as_deref(),
            Some("[codex] (not a JSON event) [1,2]")
        );
        assert_eq!(t.malformed, 2);
        let err = t.finish().unwrap_err();
        assert!(err.starts_with("no final answer"), "{err}");
    }

    fn replay(format: OutputFormat, sample: &str) -> Tracker {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/agents")
            .join(sample);
        let mut t = Tracker::new(format);
        for line in std::fs::read_to_string(path).unwrap().lines() {
            if !line.starts_with('#') {
                assert!(t.feed(line).is_some(), "{line}");
            }
        }
        t
    }

    const ANSWER: &str = "# Plan\n\n1. Add the login form.\n2. Test it.";

    #[test]
    fn each_sample_gives_its_final_answer_alone() {
        for (format, sample) in [
            (OutputFormat::ClaudeStream, "claude.jsonl"),
            (OutputFormat::CodexJsonl, "codex.jsonl"),
            (OutputFormat::GeminiStream, "gemini.jsonl"),
        ] {
            let t = replay(format, sample);
            assert_eq!(t.finish().as_deref(), Ok(ANSWER), "{sample}");
            assert!(t.finished && t.malformed == 0, "{sample}");
        }
    }

    #[test]
    fn error_endings_say_what_the_agent_reported() {
        let claude = replay(OutputFormat::ClaudeStream, "claude-no-answer.jsonl");
        assert_eq!(
            claude.finish().unwrap_err(),
            "no final answer: the agent reported an error: `error_max_turns`"
        );
        let codex = replay(OutputFormat::CodexJsonl, "codex-no-answer.jsonl");
        assert!(
            codex
                .finish()
                .unwrap_err()
                .contains("stream disconnected before completion"),
            "{codex:?}"
        );
        let gemini = replay(OutputFormat::GeminiStream, "gemini-no-answer.jsonl");
        let err = gemini.finish().unwrap_err();
        assert!(
            err.contains("gemini-stream stream ended without one"),
            "{err}"
        );
        let mut failed = Tracker::new(OutputFormat::GeminiStream);
        failed.feed(r#"{"type":"message","role":"assistant","content":"partial","delta":true}"#);
        failed.feed(r#"{"type":"result","status":"error","error":{"type":"FatalTurnLimitedError","message":"turn limit"}}"#);
        assert_eq!(
            failed.finish().unwrap_err(),
            "no final answer: the agent reported an error: turn limit"
        );
    }

    #[test]
    fn unknown_events_still_get_a_line() {
        let mut t = Tracker::new(OutputFormat::ClaudeStream);
        assert_eq!(
            t.feed(r#"{"type":"stream_event","event":{}}"#).as_deref(),
            Some("[claude] event: stream_event")
        );
        let mut t = Tracker::new(OutputFormat::CodexJsonl);
        assert_eq!(
            t.feed(r#"{"type":"item.completed","item":{"type":"file_change","changes":[{"path":"src/a.rs","kind":"update"}]}}"#).as_deref(),
            Some("[codex] file change: update src/a.rs")
        );
    }

    #[test]
    fn clip_keeps_one_line() {
        assert_eq!(clip("a\n\n  b\tc"), "a b c");
        assert_eq!(clip(&"x".repeat(300)).chars().count(), 201);
    }
}
