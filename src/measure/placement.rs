//! Where the measuring threads run. A loopback round trip wakes the server and then the client: on
//! one CPU that is a context switch (~9 µs on these 2-core VMs), across CPUs it can be an idle CPU
//! waking up (~90 µs). `--pin same-cpu` pins this process to one CPU before anything starts, so its
//! threads and any `redis-server` it starts (children inherit the mask) share it. A server we did not
//! start is never moved.

use serde::Serialize;

use crate::i18n::Lang;
use crate::text::Text;

/// What placement this run has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "pin", rename_all = "kebab-case")]
pub enum Placement {
    /// The OS places threads and servers; they may move between CPUs.
    None { cpus: usize },
    /// This process (and servers it starts) on one CPU.
    SameCpu { cpu: usize },
    /// Pinning was asked for and could not be done (not Linux, or the OS refused).
    Unavailable,
}

impl Placement {
    /// Pin the calling thread, before any other thread or child process starts, when `same_cpu`.
    /// Picks the last CPU this process may use (CPU 0 tends to take more interrupts).
    pub fn apply(same_cpu: bool) -> Placement {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        if !same_cpu {
            return Placement::None { cpus };
        }
        match core_affinity::get_core_ids().and_then(|ids| ids.last().copied()) {
            Some(core) if cfg!(target_os = "linux") && core_affinity::set_for_current(core) => {
                Placement::SameCpu { cpu: core.id }
            }
            _ => Placement::Unavailable,
        }
    }

    /// One line for `doctor` and the lesson header.
    pub fn describe(self, lang: Lang) -> String {
        lang.say(match self {
            Placement::None { cpus } => Text::msg("placement.none").fact("cpus", cpus),
            Placement::SameCpu { cpu } => Text::msg("placement.same-cpu").fact("cpu", cpu),
            Placement::Unavailable => Text::msg("placement.unavailable"),
        })
    }
}
