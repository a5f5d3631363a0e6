//! `vizier` on a real pseudo-terminal: the live status line of `vizier run` at 40 columns, and
//! colour decided by `TERM`. The terminal is `openpty(3)` from libc (already a dependency), and
//! the screen is what the `vt100` crate's emulator shows after the run, so stray copies of the
//! status line are looked for where a person would see them. This needs no tool on the machine
//! (unlike `script` or tmux, whose output and options differ between Linux and macOS).

#![cfg(unix)]

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

use crate::support::*;

/// A pseudo-terminal of `cols` × `rows`: (master, slave), both close-on-exec.
fn openpty(cols: u16, rows: u16) -> (OwnedFd, OwnedFd) {
    let mut master = -1;
    let mut slave = -1;
    let mut size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors into the ints it is given and reads `size`. The
    // pointers are `*mut` because macOS declares them so; Linux takes `*const`.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &raw mut size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    for fd in [master, slave] {
        // SAFETY: fcntl on descriptors this function owns.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    // SAFETY: both descriptors are open and owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

/// Runs vizier on a terminal of `cols` columns; returns the exit code and every byte it wrote.
fn on_terminal(repo: &Repo, args: &[&str], term: &str, cols: u16) -> (i32, Vec<u8>) {
    let (master, slave) = openpty(cols, 60);
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(repo.path());
    isolate(&mut cmd, repo.home.path());
    cmd.env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("TERM", term)
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    let mut child = cmd.spawn().unwrap();
    // The parent's copies of the terminal's slave side must be gone, or reading never ends.
    drop(cmd);
    let mut reader = std::fs::File::from(master);
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            // Linux reports the closed slave side as EIO.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("reading the terminal: {e}"),
        }
    }
    let status = child.wait().unwrap();
    (status.code().unwrap_or(-1), bytes)
}

/// What a `cols`-wide terminal shows after `bytes`, one string per row.
fn screen(bytes: &[u8], cols: u16) -> Vec<String> {
    let mut parser = vt100::Parser::new(
        std::num::NonZeroU16::new(60).unwrap(),
        std::num::NonZeroU16::new(cols).unwrap(),
        0,
    );
    parser.process(bytes);
    parser.screen().rows(0, cols).collect()
}

fn step(id: &str, after: Option<&str>) -> String {
    let mut s = format!(
        "\n[[nodes]]\nid = \"{id}\"\nkind = \"shell\"\nuses = \"cap.env.shell.command.run\"\nargs = {{ command = \"sleep 0.4\" }}\n"
    );
    if let Some(a) = after {
        s.push_str(&format!("after = [{{ node_id = \"{a}\" }}]\n"));
    }
    s
}

#[test]
fn the_live_status_line_fits_a_40_column_terminal_and_leaves_no_copies() {
    // Node names long enough that the status line ("… · running: <name>") is wider than 40.
    let mut text = String::from("id = \"template.slow\"\nversion = \"v1\"\n");
    text.push_str(&step("step-one-long-name", None));
    text.push_str(&step("step-two-long-name", Some("step-one-long-name")));
    text.push_str(&step("step-three-long-nam", Some("step-two-long-name")));
    let repo = repo_with("slow", &text);
    let (code, bytes) = on_terminal(&repo, &["run", "slow"], "xterm", 40);
    let rows = screen(&bytes, 40);
    let shown = rows.join("\n");
    assert_eq!(code, 0, "{shown}");
    // The status line was drawn (the run is slow enough for several redraws) …
    let raw = String::from_utf8_lossy(&bytes);
    assert!(raw.contains("running: "), "no status line drawn: {raw:?}");
    // … and every copy of it is gone from the screen.
    let stray: Vec<&String> = rows
        .iter()
        .filter(|r| r.contains(" done · ") || r.contains("running:"))
        .collect();
    assert!(stray.is_empty(), "stray status lines:\n{shown}");
    // The node lines and the summary are all there, each once.
    for id in [
        "step-one-long-name",
        "step-two-long-name",
        "step-three-long-nam",
    ] {
        let ended = format!("✔ {id} succeeded");
        assert_eq!(
            rows.iter().filter(|r| r.contains(&ended)).count(),
            1,
            "{ended}:\n{shown}"
        );
    }
    assert!(shown.contains("succeeded in"), "{shown}");
}

#[test]
fn on_a_terminal_colour_is_on_unless_term_is_dumb() {
    let repo = repo_with("bad", BAD_TEMPLATE);
    let has_escape = |term: &str| {
        let (code, bytes) = on_terminal(&repo, &["validate"], term, 100);
        assert_eq!(code, 1);
        bytes.windows(2).any(|w| w == b"\x1b[")
    };
    assert!(has_escape("xterm-256color"));
    assert!(!has_escape("dumb"));
}
