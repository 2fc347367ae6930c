//! One module per subcommand, one entry function each. They wire settings, lessons, demos and
//! printers together; the logic lives in those modules.

pub mod bench;
pub mod check;
pub mod doctor;
pub mod lesson;
pub mod list;
pub mod next;
pub mod notes;
pub mod practice;
pub mod quiz;
pub mod reset;
pub mod shell;

use crate::progress::Progress;

/// Load the learner's progress and show its warnings (once) on stderr.
pub fn load_progress(settings: &crate::settings::Settings) -> Progress {
    let mut progress = Progress::load(settings.state_dir.as_deref());
    show_warnings(&mut progress);
    progress
}

/// Save, then show any warning the save produced.
pub fn save_progress(progress: &mut Progress) {
    progress.save();
    show_warnings(progress);
}

fn show_warnings(progress: &mut Progress) {
    for warning in progress.take_warnings() {
        eprintln!("warning: {warning}");
    }
}
