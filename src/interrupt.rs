//! Ctrl-C, SIGTERM and SIGHUP (a process concern, not a server one): the flag that samplers and demo loops check, which then unwind so that
//! every guard (keys, private servers, temp files) cleans up on the way out; and the deadline for
//! when they cannot (a frozen server blocks a read for up to its I/O time limit).
//!
//! After a signal the run has [`GRACE`] to finish: as long as cleanup makes progress (each batch of
//! keys removed bumps a heartbeat) it gets up to [`MAX_CLEANUP`]. Past that, the watchdog kills the
//! private `redis-server`s this process started, removes their directories and the run's scratch
//! directories, says in one line what may be left (the next run sweeps it from the run journal),
//! and calls the exit hook that `main` registered, with 128 + the signal number.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::error::UserError;

/// How long a run may take to stop after a signal when nothing moves.
pub const GRACE: Duration = Duration::from_millis(1_000);
/// How long a cleanup that keeps making progress may go on after a signal.
pub const MAX_CLEANUP: Duration = Duration::from_secs(10);

pub const SIGINT: i32 = 2;
pub const SIGHUP: i32 = 1;
pub const SIGTERM: i32 = 15;

/// The last signal received (0: none), set by the signal handler.
fn signal_number() -> &'static Arc<AtomicUsize> {
    static SIGNAL: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
    SIGNAL.get_or_init(|| Arc::new(AtomicUsize::new(0)))
}
/// Bumped by cleanup work as it progresses.
static HEARTBEAT: AtomicU64 = AtomicU64::new(0);
/// Set by `main` once the run has returned: the watchdog then stands down.
static FINISHED: AtomicBool = AtomicBool::new(false);
/// What `main` wants done when the deadline passes (it exits the process with the code given).
static EXIT_HOOK: OnceLock<fn(u8)> = OnceLock::new();
/// Private servers alive now: (pid, temp dir), killed and removed if the watchdog fires.
static PRIVATE: Mutex<Vec<(u32, PathBuf)>> = Mutex::new(Vec::new());
/// Set once this process has noted a run in the journal: it writes to a server it did not start,
/// where an unfinished cleanup leaves keys (on a private server, the watchdog's kill takes them).
static SHARED_WRITES: AtomicBool = AtomicBool::new(false);

/// This process writes keys to a server it did not start (see [`crate::server::Journal`]).
pub fn note_shared_writes() {
    SHARED_WRITES.store(true, Ordering::SeqCst);
}
/// Scratch directories alive now (a run's SQLite files), removed if the watchdog fires.
static SCRATCH: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// The progress bar on screen now, cleared before the watchdog prints its line.
static ON_SCREEN: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);

#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    flag: Arc<AtomicBool>,
}

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Route SIGINT, SIGTERM and SIGHUP to this flag and start the watchdog. Harmless to call twice
    /// (only the first call installs anything). The flag and the signal number are set inside the
    /// signal handler itself, so a read that the signal interrupts (EINTR) already finds them set.
    pub fn install(&self) {
        static INSTALLED: OnceLock<()> = OnceLock::new();
        let flag = Arc::clone(&self.flag);
        INSTALLED.get_or_init(move || {
            for signal in [SIGINT, SIGTERM, SIGHUP] {
                let _ = signal_hook::flag::register(signal, Arc::clone(&flag));
                let _ = signal_hook::flag::register_usize(signal, Arc::clone(signal_number()), signal as usize);
            }
            let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else { return };
            std::thread::spawn(move || {
                if signals.forever().next().is_some() {
                    watchdog();
                }
            });
        });
    }

    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// `Err(Interrupted)` once a signal arrived.
    pub fn check(&self) -> Result<(), UserError> {
        if self.is_set() { Err(UserError::Interrupted) } else { Ok(()) }
    }
}

/// The exit code for an interrupted run: 128 + the signal (130 for Ctrl-C, 143 for SIGTERM, 129 for
/// SIGHUP); 130 when the flag was set without a signal.
pub fn exit_code() -> u8 {
    match signal_number().load(Ordering::SeqCst) {
        0 => 128 + SIGINT as u8,
        signal => 128 + signal as u8,
    }
}

/// `main`: what to do when the deadline passes (exit with the code given).
pub fn set_exit_hook(hook: fn(u8)) {
    let _ = EXIT_HOOK.set(hook);
}

/// `main`: the run returned; the watchdog must not fire any more.
pub fn finished() {
    FINISHED.store(true, Ordering::SeqCst);
}

/// Cleanup made progress (a batch of keys removed): the watchdog waits longer.
pub fn heartbeat() {
    HEARTBEAT.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn register_private(pid: u32, dir: PathBuf) {
    PRIVATE.lock().unwrap_or_else(|p| p.into_inner()).push((pid, dir));
}

pub(crate) fn unregister_private(pid: u32) {
    PRIVATE.lock().unwrap_or_else(|p| p.into_inner()).retain(|(p, _)| *p != pid);
}

pub(crate) fn register_scratch(dir: PathBuf) {
    SCRATCH.lock().unwrap_or_else(|p| p.into_inner()).push(dir);
}

pub(crate) fn unregister_scratch(dir: &std::path::Path) {
    SCRATCH.lock().unwrap_or_else(|p| p.into_inner()).retain(|d| d != dir);
}

/// The progress bar drawn now (`None`: none is); see [`crate::render::progress_bar::on_screen`].
pub(crate) fn progress_on_screen(bar: Option<indicatif::ProgressBar>) {
    *ON_SCREEN.lock().unwrap_or_else(|p| p.into_inner()) = bar;
}

/// Clear the bar on screen, if any, waiting for that at most a moment (the thread that draws it
/// might hold it): the exit must not wait on it.
fn clear_progress_bar() {
    let Some(bar) = ON_SCREEN.lock().unwrap_or_else(|p| p.into_inner()).take() else { return };
    let (done, cleared) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        bar.finish_and_clear();
        let _ = done.send(());
    });
    let _ = cleared.recv_timeout(Duration::from_millis(200));
}

fn watchdog() {
    let start = Instant::now();
    let mut beat = HEARTBEAT.load(Ordering::Relaxed);
    let mut last_progress = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if FINISHED.load(Ordering::SeqCst) {
            return;
        }
        let now = HEARTBEAT.load(Ordering::Relaxed);
        if now != beat {
            beat = now;
            last_progress = Instant::now();
        }
        if last_progress.elapsed() >= GRACE || start.elapsed() >= MAX_CLEANUP {
            break;
        }
    }
    let servers = std::mem::take(&mut *PRIVATE.lock().unwrap_or_else(|p| p.into_inner()));
    for (pid, dir) in servers {
        let _ = crate::process::signal(pid, "-KILL");
        let _ = std::fs::remove_dir_all(dir);
    }
    for dir in std::mem::take(&mut *SCRATCH.lock().unwrap_or_else(|p| p.into_inner())) {
        let _ = std::fs::remove_dir_all(dir);
    }
    if FINISHED.load(Ordering::SeqCst) {
        return;
    }
    clear_progress_bar();
    if SHARED_WRITES.load(Ordering::SeqCst) {
        eprintln!(
            "error: interrupted, and the server did not answer within {} s: keys this run wrote may be left; the next run (or `redis-learn doctor --clean`) removes them",
            GRACE.as_secs_f64()
        );
    } else {
        eprintln!(
            "error: interrupted, and the server did not answer within {} s: it was this run's own redis-server, stopped now with its keys, so nothing is left",
            GRACE.as_secs_f64()
        );
    }
    if let Some(hook) = EXIT_HOOK.get() {
        hook(exit_code());
    }
}
