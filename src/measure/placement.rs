//! Where the measuring threads run. A loopback round trip wakes the server and then the client: on
//! one CPU that is a context switch (~9 µs on these 2-core VMs), across CPUs it can be an idle CPU
//! waking up (~90 µs). `--pin same-cpu` pins this process to one CPU before anything starts, so its
//! threads and any `redis-server` it starts (children inherit the mask) share it. A server we did not
//! start is never moved.

use serde::Serialize;

use crate::i18n::Lang;

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
        match (self, lang) {
            (Placement::None { cpus }, Lang::En) => format!(
                "not pinned: the OS places client and server on {cpus} CPUs, so a round trip may cost one or two CPU wake-ups (--pin same-cpu for repeatable numbers)"
            ),
            (Placement::None { cpus }, Lang::Zh) => {
                format!(
                    "未绑定 CPU：系统把客户端和服务端放在 {cpus} 个 CPU 上，一次往返可能要唤醒一两次 CPU（想要可重复的数字，加 --pin same-cpu）"
                )
            }
            (Placement::SameCpu { cpu }, Lang::En) => format!(
                "pinned to CPU {cpu}: this process and any redis-server it starts share it; a server it did not start stays where the OS put it"
            ),
            (Placement::SameCpu { cpu }, Lang::Zh) => {
                format!("已绑定到 CPU {cpu}：本进程和它启动的 redis-server 共用这个 CPU；不是它启动的服务端不受影响")
            }
            (Placement::Unavailable, Lang::En) => {
                "--pin same-cpu is not available here (it needs Linux): the OS places client and server".to_string()
            }
            (Placement::Unavailable, Lang::Zh) => {
                "这里无法使用 --pin same-cpu（需要 Linux）：由系统安排客户端和服务端".to_string()
            }
        }
    }
}
