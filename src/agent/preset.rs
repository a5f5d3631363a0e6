//! Agent presets: the argv and output format of each agent CLI's non-interactive, machine-readable
//! mode, so a config can say `preset = "claude"` instead of spelling the flags out.
//!
//! Every preset reads the prompt on stdin (vizier never puts the prompt in argv, where it would be
//! visible in the process list and limited in size).

use super::format::OutputFormat;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    Claude,
    Codex,
    Gemini,
}

impl Preset {
    pub const NAMES: [&'static str; 3] = ["claude", "codex", "gemini"];

    pub fn parse(name: &str) -> Option<Preset> {
        match name {
            "claude" => Some(Preset::Claude),
            "codex" => Some(Preset::Codex),
            "gemini" => Some(Preset::Gemini),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The argv: `claude -p --output-format stream-json --verbose` (Claude Code prints stream-json
    /// only with `--verbose`; `-p` with no prompt argument reads it from stdin); `codex exec --json -`
    /// (`-` reads the prompt from stdin); `gemini --output-format stream-json` (headless whenever
    /// stdin is not a terminal, the prompt being stdin).
    pub fn command(self) -> Vec<String> {
        let argv: &[&str] = match self {
            Preset::Claude => &[
                "claude",
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
            ],
            Preset::Codex => &["codex", "exec", "--json", "-"],
            Preset::Gemini => &["gemini", "--output-format", "stream-json"],
        };
        argv.iter().map(|s| s.to_string()).collect()
    }

    pub fn output(self) -> OutputFormat {
        match self {
            Preset::Claude => OutputFormat::ClaudeStream,
            Preset::Codex => OutputFormat::CodexJsonl,
            Preset::Gemini => OutputFormat::GeminiStream,
        }
    }
}
