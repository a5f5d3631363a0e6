//! A tolerant, read-only view of a run manifest (`.vizier/jobs/runs/<run_id>.json`) for
//! the step summary and CI outputs.
//!
//! The store owns the manifest and its writer; this side only reads, so it accepts what older or newer
//! writers produce: missing fields take defaults, `null` reads as absent, unknown fields are ignored,
//! and times may be RFC 3339 text or Unix seconds. It never rewrites a manifest.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer};

use super::CiError;
use crate::error::{Error, Result};

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ManifestView {
    #[serde(deserialize_with = "or_default")]
    pub version: u32,
    #[serde(deserialize_with = "or_default")]
    pub run_id: String,
    #[serde(deserialize_with = "or_default")]
    pub template: TemplateView,
    #[serde(deserialize_with = "or_default")]
    pub params: BTreeMap<String, serde_json::Value>,
    #[serde(deserialize_with = "or_default")]
    pub trigger: TriggerView,
    pub created_at: Option<Time>,
    pub finished_at: Option<Time>,
    /// The run's outcome; absent while it runs.
    pub outcome: Option<String>,
    #[serde(deserialize_with = "or_default")]
    pub nodes: Vec<NodeView>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct TemplateView {
    pub id: Option<String>,
    pub version: Option<String>,
    pub path: Option<String>,
    pub policy_snapshot_hash: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct TriggerView {
    /// `local`, `push`, …
    pub kind: Option<String>,
    pub sha: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub before: Option<String>,
    /// The push's changed paths, when the writer recorded them.
    #[serde(deserialize_with = "or_default")]
    pub changed_paths: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NodeView {
    #[serde(deserialize_with = "or_default")]
    pub node_id: String,
    #[serde(deserialize_with = "or_default")]
    pub job_id: String,
    /// `executor` or `control`.
    pub class: Option<String>,
    pub executor_class: Option<String>,
    pub executor_operation: Option<String>,
    pub control_policy: Option<String>,
    /// Job ids this node waits for.
    #[serde(deserialize_with = "or_default")]
    pub after: Vec<String>,
    /// The scheduler status: `queued` … `succeeded`, `failed`, `blocked_by_dependency`.
    pub status: Option<String>,
    pub outcome: Option<String>,
    #[serde(deserialize_with = "or_default")]
    pub attempts: u32,
    pub exit_code: Option<i64>,
    pub started_at: Option<Time>,
    pub finished_at: Option<Time>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    /// The stage of a composition the node came from, if any.
    pub stage: Option<String>,
    /// What the operation recorded; read for `ci_runner` (the CI job of a fanned-out run that ran it).
    #[serde(deserialize_with = "or_default")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

impl NodeView {
    /// The status to show: the scheduler status, else the outcome, else `unknown`.
    pub fn status(&self) -> &str {
        self.status
            .as_deref()
            .or(self.outcome.as_deref())
            .unwrap_or("unknown")
    }

    /// Seconds from start to finish, when both are known and in order.
    pub fn duration_secs(&self) -> Option<f64> {
        elapsed(self.started_at.as_ref(), self.finished_at.as_ref())
    }

    /// The CI job that ran the node, when the run was fanned out over many runners.
    pub fn runner(&self) -> Option<&str> {
        self.metadata.get("ci_runner").and_then(|v| v.as_str())
    }
}

impl ManifestView {
    pub fn load(path: &Path) -> Result<ManifestView> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Read {
            path: path.display().to_string(),
            source: e,
        })?;
        ManifestView::parse(&text, &path.display().to_string())
    }

    /// Parses manifest JSON; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<ManifestView> {
        serde_json::from_str(text).map_err(|e| {
            CiError::Manifest {
                path: origin.to_owned(),
                message: e.to_string(),
            }
            .into()
        })
    }

    /// The outcome to report: the recorded one, else `running` while any node is not finished.
    pub fn outcome(&self) -> &str {
        self.outcome.as_deref().unwrap_or("running")
    }

    /// Whether the run counts as passed (the writer decides; this reads its verdict).
    pub fn succeeded(&self) -> bool {
        self.outcome.as_deref() == Some("succeeded")
    }

    /// Seconds from creation to finish, when both are known.
    pub fn duration_secs(&self) -> Option<f64> {
        elapsed(self.created_at.as_ref(), self.finished_at.as_ref())
    }
}

/// A point in time as a writer recorded it: RFC 3339 text or Unix seconds.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Time {
    Seconds(f64),
    Text(String),
}

impl Time {
    pub fn unix_secs(&self) -> Option<f64> {
        match self {
            Time::Seconds(s) => Some(*s),
            Time::Text(t) => parse_rfc3339(t),
        }
    }
}

/// Seconds from `start` to `end`, when both are known and in order (a clock that ran backwards shows
/// no time rather than a negative one).
fn elapsed(start: Option<&Time>, end: Option<&Time>) -> Option<f64> {
    let (start, end) = (start?.unix_secs()?, end?.unix_secs()?);
    (end >= start).then_some(end - start)
}

/// `null` or absent reads as the default; anything else must have the right type.
fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Seconds since the Unix epoch of `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn parse_rfc3339(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        frac = format!("0.{}", &r[..digits]).parse().ok()?;
        rest = &r[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let t = rest.get(1..)?;
            if t.len() != 5 || t.as_bytes()[2] != b':' {
                return None;
            }
            let (h, m): (i64, i64) = (t[..2].parse().ok()?, t[3..].parse().ok()?);
            sign * (h * 3600 + m * 60)
        }
    };
    // Days from 1970-01-01 of a proleptic Gregorian date.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset;
    Some(secs as f64 + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_manifest_reads() {
        let m = ManifestView::parse(
            r#"{"version":1,"run_id":"run-0123456789abcdef",
            "template":{"id":"template.ci","version":"v1","path":".vizier/workflow/ci.toml","policy_snapshot_hash":"abc"},
            "params":{"target":"main"},
            "trigger":{"kind":"push","sha":"1111111111111111111111111111111111111111","ref":"refs/heads/main","before":null,"changed_paths":["a.rs"]},
            "created_at":"2026-01-02T03:04:05Z","finished_at":"2026-01-02T03:04:35.5Z","outcome":"failed",
            "nodes":[{"node_id":"fmt","job_id":"run-0123456789abcdef-fmt","class":"executor","executor_class":"environment.shell",
              "executor_operation":"cicd.run","control_policy":null,"after":[],"status":"failed","outcome":"failed",
              "attempts":1,"exit_code":1,"started_at":"2026-01-02T03:04:06Z","finished_at":"2026-01-02T03:04:09.25Z",
              "stdout":".vizier/jobs/run-0123456789abcdef-fmt/stdout.log","stderr":".vizier/jobs/run-0123456789abcdef-fmt/stderr.log"}]}"#,
            "m.json",
        )
        .unwrap();
        assert_eq!(m.template.id.as_deref(), Some("template.ci"));
        assert_eq!(m.trigger.git_ref.as_deref(), Some("refs/heads/main"));
        assert_eq!(m.trigger.changed_paths, ["a.rs"]);
        assert_eq!(m.duration_secs(), Some(30.5));
        assert!(!m.succeeded());
        let n = &m.nodes[0];
        assert_eq!(
            (n.status(), n.exit_code, n.attempts),
            ("failed", Some(1), 1)
        );
        assert_eq!(n.duration_secs(), Some(3.25));
    }

    #[test]
    fn missing_null_and_unknown_fields_are_tolerated() {
        let m = ManifestView::parse(
            r#"{"run_id":"run-x","nodes":[{"node_id":"a","after":null,"attempts":null,"future":1},{}],"extra":{"x":1},"params":null}"#,
            "m.json",
        )
        .unwrap();
        assert_eq!(m.version, 0);
        assert_eq!(m.outcome(), "running");
        assert_eq!(m.nodes[0].status(), "unknown");
        assert!(m.nodes[0].after.is_empty());
        assert_eq!(m.nodes[1].node_id, "");
        assert_eq!(m.nodes[0].duration_secs(), None);
    }

    #[test]
    fn a_corrupt_manifest_names_its_path() {
        let err = ManifestView::parse(r#"{"nodes":"x"}"#, "runs/run-x.json").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("run manifest `runs/run-x.json`: "),
            "{err}"
        );
        let err = ManifestView::load(Path::new("/nonexistent/run.json")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/run.json"), "{err}");
    }

    #[test]
    fn times_are_text_or_seconds() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), Some(951_868_800.0));
        assert_eq!(
            parse_rfc3339("2024-02-29T12:00:00+02:00"),
            Some(1_709_200_800.0)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T10:00:00.250Z"),
            Some(1_709_200_800.25)
        );
        for bad in [
            "",
            "2024-02-29",
            "2024-13-01T00:00:00Z",
            "2024-02-29T10:00:00",
            "2024-02-29T10:00:00.Z",
            "２０２４-02-29T10:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(Time::Seconds(5.0).unix_secs(), Some(5.0));
        let n = NodeView {
            started_at: Some(Time::Seconds(10.0)),
            finished_at: Some(Time::Seconds(4.0)),
            ..NodeView::default()
        };
        assert_eq!(
            n.duration_secs(),
            None,
            "a clock that ran backwards shows no time"
        );
    }
}
