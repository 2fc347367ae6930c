//! Lesson 10 (notes, Q3: "Redis vs MySQL: when to use Redis"): the same workloads on Redis, on
//! SQLite in this process, and on a networked SQL server when `--sql-url` names one, in one table,
//! with the winner and the ratio measured in this run. Then the join Redis cannot do (done in app
//! code over hashes, round trips counted), and what a crash loses under each persistence setting.
//! One file per demo: `workload_table`, `join`, `crash`, `fork_cow` (what a BGSAVE's fork costs in
//! memory); the data set, the SQL side and what they
//! share are modules of their own.

mod crash;
mod data;
mod fork_cow;
mod join;
mod shared;
mod tables;
mod workload_table;

pub use self::crash::crash_durability;
pub use self::fork_cow::fork_cow;
pub use self::join::join_in_app;
pub use self::workload_table::workload_table;
