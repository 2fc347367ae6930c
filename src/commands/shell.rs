//! `redis-learn completions SHELL` and `redis-learn man`: the command line described for shells
//! (clap_complete) and for `man` (clap_mangen), both generated from [`crate::cli::Cli`].

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::Outcome;
use crate::cli::Cli;

/// The binary's name, as shells and `man` know it.
const BIN_NAME: &str = "redis-learn";

pub fn completions(shell: clap_complete::Shell, out: &mut impl Write) -> Result<Outcome> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, BIN_NAME, &mut script);
    let mut script = String::from_utf8(script)?;
    if shell == clap_complete::Shell::Bash {
        // clap_complete's bash script spells a subcommand's state two ways when the binary's name
        // has a hyphen (`redis__learn__subcmd__quiz` when it walks the words, but
        // `redis__subcmd__learn__subcmd__quiz` in the `case` arms), so no subcommand's flags ever
        // complete (clap-rs/clap#6421). Spell the arms the way the walk does.
        script = script.replace(&BIN_NAME.replace('-', "__subcmd__"), &BIN_NAME.replace('-', "__"));
    }
    out.write_all(script.as_bytes())?;
    Ok(Outcome::Success)
}

pub fn man(dir: Option<&Path>, out: &mut impl Write) -> Result<Outcome> {
    let command = Cli::command();
    match dir {
        None => clap_mangen::Man::new(command).render(out)?,
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(command, dir).with_context(|| format!("cannot write into {}", dir.display()))?;
            let mut pages: Vec<String> = std::fs::read_dir(dir)?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(BIN_NAME) && n.ends_with(".1"))
                .collect();
            pages.sort();
            writeln!(out, "{}: {}", dir.display(), pages.join(" "))?;
        }
    }
    Ok(Outcome::Success)
}
