use std::io::{ErrorKind, Write};
use std::process::ExitCode;

use clap::Parser;
use redis_learn::{cli::Cli, error};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let err = redis_learn::cli::tidy(err);
            // --help and --version are not errors; clap knows which is which.
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { error::EXIT_USAGE } else { error::EXIT_OK });
        }
    };
    let lang = redis_learn::settings::resolve_lang(&cli.global());
    let json = cli.global().json;
    redis_learn::interrupt::set_exit_hook(exit_now);
    let mut stdout = std::io::stdout().lock();
    let result = redis_learn::run(cli, &mut stdout);
    redis_learn::interrupt::finished();
    let _ = stdout.flush();
    match result {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(err) if is_broken_pipe(&err) => ExitCode::from(error::EXIT_BROKEN_PIPE),
        Err(err) => {
            let code = error::exit_code(&err);
            eprintln!("{}", error::render_in(&err, lang));
            if json {
                // `--json` always prints one document, failures included.
                let doc = serde_json::json!({ "error": error::describe(&err, lang), "exit_code": code });
                let _ = writeln!(stdout, "{doc}");
            }
            ExitCode::from(code)
        }
    }
}

/// The signal watchdog's last resort (a server that stopped answering holds the run past its grace
/// time): the one place that ends the process without returning.
#[allow(clippy::disallowed_methods)]
fn exit_now(code: u8) {
    std::process::exit(i32::from(code));
}

/// `redis-learn list | head -3` must end quietly (after the run cleaned up on its way out).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == ErrorKind::BrokenPipe)
            || cause.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind)
                == Some(ErrorKind::BrokenPipe)
    })
}
