//! Typed payloads of custom artifacts: the text a job produced for an artifact, at
//! `artifacts/data/<run_id>/<type_id>/<key>/<job_id>.json`. The run id in the path is what keeps two
//! runs of one template from reading each other's prompts.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Store, to_json, write_atomic};
use crate::error::{Error, Result};

/// `{type_id, key, text, written_at}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub type_id: String,
    pub key: String,
    pub text: String,
    pub written_at: String,
}

impl Store {
    pub fn payload_path(&self, run_id: &str, type_id: &str, key: &str, job_id: &str) -> PathBuf {
        self.artifact_data_dir(run_id, type_id, key)
            .join(format!("{job_id}.json"))
    }

    /// Writes a job's payload atomically; returns its path.
    pub fn write_payload(&self, run_id: &str, job_id: &str, payload: &Payload) -> Result<PathBuf> {
        let path = self.payload_path(run_id, &payload.type_id, &payload.key, job_id);
        write_atomic(&path, &to_json(payload))?;
        Ok(path)
    }

    /// The newest payload of `type_id`/`key` in one run (by `written_at`, then job id), if any.
    pub fn latest_payload(
        &self,
        run_id: &str,
        type_id: &str,
        key: &str,
    ) -> Result<Option<(PathBuf, Payload)>> {
        let dir = self.artifact_data_dir(run_id, type_id, key);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::Read {
                    path: dir.display().to_string(),
                    source,
                });
            }
        };
        let mut best: Option<(PathBuf, Payload)> = None;
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // Skip the hidden swap files of atomic writes.
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            let payload = read_payload(&path)?;
            let newer = best
                .as_ref()
                .is_none_or(|(p, b)| (&payload.written_at, &path) > (&b.written_at, p));
            if newer {
                best = Some((path, payload));
            }
        }
        Ok(best)
    }

    /// A path under the repository root, as written in metadata (`/`-separated, relative).
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }
}

pub fn read_payload(path: &Path) -> Result<Payload> {
    let bytes = super::guard::read_regular(path).map_err(|source| Error::Read {
        path: path.display().to_string(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(key: &str, text: &str, at: &str) -> Payload {
        Payload {
            type_id: "prompt_text".into(),
            key: key.into(),
            text: text.into(),
            written_at: at.into(),
        }
    }

    #[test]
    fn latest_is_per_run_and_newest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        assert!(
            store
                .latest_payload("run-a", "prompt_text", "main")
                .unwrap()
                .is_none()
        );
        store
            .write_payload(
                "run-a",
                "run-a-p1",
                &payload("main", "old", "2024-01-01T00:00:00.000Z"),
            )
            .unwrap();
        store
            .write_payload(
                "run-a",
                "run-a-p2",
                &payload("main", "new", "2024-01-02T00:00:00.000Z"),
            )
            .unwrap();
        store
            .write_payload(
                "run-b",
                "run-b-p1",
                &payload("main", "other run", "2025-01-01T00:00:00.000Z"),
            )
            .unwrap();
        let (path, latest) = store
            .latest_payload("run-a", "prompt_text", "main")
            .unwrap()
            .unwrap();
        assert_eq!(latest.text, "new");
        assert_eq!(
            store.relative(&path),
            ".vizier/jobs/artifacts/data/run-a/prompt_text/main/run-a-p2.json"
        );
    }

    #[test]
    fn a_corrupt_payload_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let path = store.payload_path("run-a", "prompt_text", "main", "run-a-p");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{").unwrap();
        let err = store
            .latest_payload("run-a", "prompt_text", "main")
            .unwrap_err();
        assert!(err.to_string().contains("run-a-p.json"), "{err}");
    }
}
