//! `vizier jobs gc`: removing finished runs from the store, oldest first.

use std::collections::HashSet;
use std::path::PathBuf;

use super::{Manifest, Store};
use crate::error::{Error, Result};

/// What a collection did.
#[derive(Debug)]
pub struct Collected {
    pub removed: usize,
    pub kept: usize,
    /// Manifests that could not be read, skipped: (path, why).
    pub skipped: Vec<(String, String)>,
}

/// Under the scheduler lock, removes every finished run but the newest `keep`: its job folders,
/// artifacts, plan, swap files, `driver_file(run_id)` and, last, its manifest. A run still active
/// or `driven` (a live driver holds it) is never removed.
pub fn collect(
    store: &Store,
    keep: usize,
    driven: impl Fn(&Manifest) -> bool,
    driver_file: impl Fn(&str) -> PathBuf,
) -> Result<Collected> {
    let _lock = store.lock()?;
    let active: HashSet<String> = store.active_runs()?.into_iter().collect();
    let (manifests, bad) = store.all_manifests();
    let skipped = bad
        .into_iter()
        .map(|(path, e)| (path.to_string(), e.to_string()))
        .collect();
    let finished: Vec<&Manifest> = manifests
        .iter()
        .filter(|m| !active.contains(&m.run_id) && m.is_finished() && !driven(m))
        .collect();
    let remove = finished.len().saturating_sub(keep);
    let mut removed = 0;
    for m in finished.iter().take(remove) {
        for n in &m.nodes {
            let _ = std::fs::remove_dir_all(store.job_dir(&n.job_id));
        }
        let _ = std::fs::remove_dir_all(store.dir.join("artifacts/custom").join(&m.run_id));
        let _ = std::fs::remove_dir_all(store.dir.join("artifacts/data").join(&m.run_id));
        let _ = std::fs::remove_dir_all(store.outputs_index_dir(&m.run_id));
        let _ = std::fs::remove_file(store.plan_path(&m.run_id));
        store.remove_swaps(&m.run_id);
        let _ = std::fs::remove_file(driver_file(&m.run_id));
        std::fs::remove_file(store.manifest_path(&m.run_id)).map_err(|source| Error::Write {
            path: store.manifest_path(&m.run_id),
            source,
        })?;
        removed += 1;
    }
    if removed > 0 {
        store.forget_sequences();
    }
    Ok(Collected {
        removed,
        kept: finished.len() - removed,
        skipped,
    })
}
