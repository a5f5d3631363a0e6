//! The binary. On the static musl build (the Linux release asset) the allocator is chosen once per
//! process, before its first allocation (docs/release.md):
//!
//! - a job process (`vizier __workflow-node`, started with `VIZIER_ATTEMPT` set) and a git hook
//!   (`vizier hook …`) keep musl's own allocator: they allocate little, and mimalloc's first
//!   allocations touch more pages than their whole run saves;
//! - every other process (a driver, `jobs list`, `validate`) uses mimalloc, which maps and unmaps
//!   memory far less often than musl's allocator, and is started here rather than by its own
//!   constructor (.cargo/config.toml).

#[cfg(target_env = "musl")]
mod allocator {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicU8, Ordering};

    use mimalloc::MiMalloc;

    const UNDECIDED: u8 = 0;
    const SYSTEM: u8 = 1;
    const MIMALLOC: u8 = 2;

    /// Fixed by the first allocation, which happens before `main` starts any thread, and never
    /// changed: every block is freed by the allocator that made it.
    static CHOICE: AtomicU8 = AtomicU8::new(UNDECIDED);

    fn mimalloc() -> bool {
        match CHOICE.load(Ordering::Relaxed) {
            SYSTEM => false,
            MIMALLOC => true,
            _ => {
                // getenv allocates nothing. The variable is the one the driver sets for each job
                // process (src/process/mod.rs, ATTEMPT_ENV).
                // SAFETY: a NUL-terminated name; nothing modifies the environment this early.
                let job = unsafe { !libc::getenv(c"VIZIER_ATTEMPT".as_ptr()).is_null() };
                let choice = if job || is_hook() { SYSTEM } else { MIMALLOC };
                if choice == MIMALLOC {
                    start_mimalloc();
                }
                CHOICE.store(choice, Ordering::Relaxed);
                choice == MIMALLOC
            }
        }
    }

    /// Starts mimalloc as its own constructor would have, unless that constructor ran: the build
    /// (.cargo/config.toml) defines `MI_PRIM_HAS_PROCESS_ATTACH`, which leaves the C library without
    /// it, so that the processes keeping musl's allocator do not pay for mimalloc's start (reading
    /// its options from the environment, `sysinfo`, two files under /proc and /sys). Both functions
    /// are in mimalloc's C source (`src/init.c`); `_mi_preloading` stays true until the process is
    /// started, whichever way that happened.
    fn start_mimalloc() {
        unsafe extern "C" {
            fn _mi_preloading() -> bool;
            fn _mi_auto_process_init();
        }
        // SAFETY: called once, from the first allocation, before `main` starts any thread (the
        // constructor's own conditions); neither function takes arguments or touches Rust memory.
        unsafe {
            if _mi_preloading() {
                _mi_auto_process_init();
            }
        }
    }

    /// Whether this process is `vizier hook …` (run by git on every commit), told from its first
    /// two arguments in /proc/self/cmdline, read into a buffer on the stack: no allocation.
    fn is_hook() -> bool {
        let mut buf = [0u8; 512];
        // SAFETY: a NUL-terminated path; the buffer outlives the read, which writes at most its
        // length; the descriptor is closed once.
        let read = unsafe {
            let fd = libc::open(
                c"/proc/self/cmdline".as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            );
            if fd < 0 {
                return false;
            }
            let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
            libc::close(fd);
            n
        };
        let Ok(len) = usize::try_from(read) else {
            return false;
        };
        let mut args = buf[..len].split(|&b| b == 0);
        args.next();
        args.next() == Some(b"hook".as_slice())
    }

    pub struct Chosen;

    // SAFETY: each call goes to one of two sound allocators, and the choice never changes once
    // made, so a block is always freed or resized by the allocator that made it.
    unsafe impl GlobalAlloc for Chosen {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract, passed on.
            unsafe {
                if mimalloc() {
                    MiMalloc.alloc(layout)
                } else {
                    System.alloc(layout)
                }
            }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract, passed on.
            unsafe {
                if mimalloc() {
                    MiMalloc.alloc_zeroed(layout)
                } else {
                    System.alloc_zeroed(layout)
                }
            }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: the caller's contract, passed on.
            unsafe {
                if mimalloc() {
                    MiMalloc.dealloc(ptr, layout)
                } else {
                    System.dealloc(ptr, layout)
                }
            }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: the caller's contract, passed on.
            unsafe {
                if mimalloc() {
                    MiMalloc.realloc(ptr, layout, new_size)
                } else {
                    System.realloc(ptr, layout, new_size)
                }
            }
        }
    }
}

#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: allocator::Chosen = allocator::Chosen;

fn main() -> std::process::ExitCode {
    vizier::cli::run(std::env::args_os())
}
