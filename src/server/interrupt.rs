//! The Ctrl-C flag: set by the signal handler, checked by samplers and demo loops, which then unwind
//! so that every guard (keys, private server, temp files) cleans up on the way out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::UserError;

#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    flag: Arc<AtomicBool>,
}

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Route Ctrl-C (and SIGTERM) to this flag. Harmless if a handler is already installed.
    pub fn install(&self) {
        let flag = Arc::clone(&self.flag);
        let _ = ctrlc::try_set_handler(move || flag.store(true, Ordering::SeqCst));
    }

    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// `Err(Interrupted)` once Ctrl-C was pressed.
    pub fn check(&self) -> Result<(), UserError> {
        if self.is_set() { Err(UserError::Interrupted) } else { Ok(()) }
    }
}
