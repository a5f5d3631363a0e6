//! `vizier man --out DIR`: roff man pages generated from the command tree with `clap_mangen`:
//! `vizier.1`, then `vizier-<sub>.1` for every subcommand and `vizier-<sub>-<subsub>.1` below it.

use std::path::Path;

use super::Output;
use crate::error::{Error, Result};
use crate::exit;

pub fn run(cmd: &clap::Command, dir: &Path, out: &mut Output) -> Result<u8> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    let mut cmd = cmd.clone();
    cmd.build();
    write_pages(&cmd, dir, &mut written)?;
    for name in &written {
        out.write(&format!("wrote {}\n", dir.join(name).display()));
    }
    Ok(exit::OK)
}

/// One page for `cmd`, then its subcommands'. After `build`, a subcommand's display name is its
/// path (`vizier-jobs-list`), which is the page's title and file name.
fn write_pages(cmd: &clap::Command, dir: &Path, written: &mut Vec<String>) -> Result<()> {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_owned();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut buf)
        .map_err(|source| Error::Write {
            path: dir.join(format!("{name}.1")),
            source,
        })?;
    let file = format!("{name}.1");
    let path = dir.join(&file);
    std::fs::write(&path, buf).map_err(|source| Error::Write { path, source })?;
    written.push(file);
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        write_pages(sub, dir, written)?;
    }
    Ok(())
}
