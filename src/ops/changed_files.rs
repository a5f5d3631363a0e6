//! `VIZIER_CHANGED_FILES` always names a file. `vizier ci` with a push event writes the changed
//! paths into the artifacts folder and names that file; in every other mode (plain `vizier run`,
//! `vizier ci` without an event, or when the paths could not be computed) the job gets an empty
//! file of its own, so `cat "$VIZIER_CHANGED_FILES"` works everywhere.

use crate::error::{Error, Result};
use crate::store::Store;

const NAME: &str = "VIZIER_CHANGED_FILES";
const FILE: &str = "changed-files.txt";

/// Points `VIZIER_CHANGED_FILES` at an empty file in the job's folder when it names none.
pub fn ensure(store: &Store, job_id: &str, env: &mut Vec<(String, String)>) -> Result<()> {
    let named = env
        .iter()
        .rev()
        .find(|(k, _)| k == NAME)
        .is_some_and(|(_, v)| !v.is_empty());
    if named {
        return Ok(());
    }
    let path = store.job_dir(job_id).join(FILE);
    std::fs::write(&path, "").map_err(|source| Error::Write {
        path: path.clone(),
        source,
    })?;
    env.retain(|(k, _)| k != NAME);
    env.push((NAME.to_owned(), path.display().to_string()));
    Ok(())
}
