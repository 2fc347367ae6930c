//! MULTI has no rollback: a transfer whose credit fails at run time (the sum no longer fits a 64-bit
//! integer) still applies the debit and the ledger entry, while an error found when a command is
//! queued makes EXEC discard everything (EXECABORT). The same transfer in a SQLite transaction
//! fails on the same overflow and rolls back. Every outcome is read back from the stores.

use anyhow::{Context, Result, bail};
use redis::{ConnectionLike, Value};
use rusqlite::{Connection, params};

use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::Claim;
use crate::server::TracedConnection;
use crate::sql::{self, Durability};
use crate::text::{Fact, Text};

/// One token in its smallest unit: 18 decimals, as ERC-20 amounts are kept on chain.
const WEI: i64 = 1_000_000_000_000_000_000;
/// The payer and the payee, as the notes' backend keys users.
const FROM: i64 = 1001;
const TO: i64 = 1002;
/// The balances before the transfer (in wei): the payee's plus one token passes i64::MAX.
const FROM_START: i64 = 2 * WEI;
const TO_START: i64 = 9 * WEI;
/// The transfer: one token.
const AMOUNT: i64 = WEI;

/// Balances and ledger after one try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    from: i64,
    to: i64,
    ledger: i64,
}

impl State {
    const START: State = State { from: FROM_START, to: TO_START, ledger: 0 };

    /// The two balances together, in wei (i128: the payee's alone is near i64::MAX).
    fn sum(&self) -> i128 {
        i128::from(self.from) + i128::from(self.to)
    }

    /// Whole tokens that left the sum (a transfer moves money, it should never destroy any).
    fn vanished(&self) -> i128 {
        (State::START.sum() - self.sum()) / i128::from(WEI)
    }
}

/// What one MULTI … EXEC did: each command's reply when it was queued, and EXEC's reply.
struct MultiOutcome {
    queued: Vec<Value>,
    exec: Value,
}

struct Keys {
    from: String,
    to: String,
    ledger: String,
}

impl Keys {
    fn new(ctx: &Ctx) -> Keys {
        Keys {
            from: ctx.key(&format!("wei:user:{FROM}")),
            to: ctx.key(&format!("wei:user:{TO}")),
            ledger: ctx.key(&format!("transfers:user:{FROM}")),
        }
    }
}

fn reset(con: &mut TracedConnection, keys: &Keys) -> Result<()> {
    redis::pipe()
        .cmd("SET")
        .arg(&keys.from)
        .arg(FROM_START)
        .ignore()
        .cmd("SET")
        .arg(&keys.to)
        .arg(TO_START)
        .ignore()
        .cmd("DEL")
        .arg(&keys.ledger)
        .ignore()
        .exec(con)?;
    Ok(())
}

fn redis_state(con: &mut TracedConnection, keys: &Keys) -> Result<State> {
    let (from, to, ledger): (i64, i64, i64) =
        redis::pipe().cmd("GET").arg(&keys.from).cmd("GET").arg(&keys.to).cmd("LLEN").arg(&keys.ledger).query(con)?;
    Ok(State { from, to, ledger })
}

/// MULTI, the commands one by one (the server replies QUEUED, or an error for a command it cannot
/// queue), then EXEC. Raw replies: an error inside EXEC's array is a value here, not a failure.
fn multi(con: &mut TracedConnection, commands: &[redis::Cmd]) -> Result<MultiOutcome> {
    con.req_command(&redis::cmd("MULTI"))?.extract_error()?;
    let mut queued = Vec::new();
    for command in commands {
        queued.push(con.req_command(command)?);
    }
    let exec = con.req_command(&redis::cmd("EXEC"))?;
    Ok(MultiOutcome { queued, exec })
}

/// The transfer's three commands; with `bad_arity` the credit lacks its increment, so the server
/// refuses to queue it.
fn transfer(keys: &Keys, bad_arity: bool) -> Vec<redis::Cmd> {
    let mut debit = redis::cmd("DECRBY");
    debit.arg(&keys.from).arg(AMOUNT);
    let mut credit = redis::cmd("INCRBY");
    credit.arg(&keys.to);
    if !bad_arity {
        credit.arg(AMOUNT);
    }
    let mut record = redis::cmd("RPUSH");
    record.arg(&keys.ledger).arg(format!("{FROM}->{TO}:{AMOUNT}"));
    vec![debit, credit, record]
}

fn is_error(v: &Value) -> bool {
    matches!(v, Value::ServerError(_))
}

/// The error text of a reply (`ERR increment or decrement would overflow`), or "".
fn error_text(v: &Value) -> String {
    match v {
        Value::ServerError(e) => {
            let code = e.code();
            let detail = e.details().unwrap_or_default();
            if code.is_empty() { detail.to_string() } else { format!("{code} {detail}").trim().to_string() }
        }
        _ => String::new(),
    }
}

/// `DECRBY ✓ · INCRBY ✗ · RPUSH ✓`: which commands of a transaction did their work.
fn marks(names: &[&str], failed: &[bool]) -> String {
    names.iter().zip(failed).map(|(n, f)| format!("{n} {}", if *f { "✗" } else { "✓" })).collect::<Vec<_>>().join(" · ")
}

fn sql_state(con: &Connection) -> Result<State> {
    let balance = |user: i64| -> Result<i64> {
        Ok(con.query_row("SELECT wei FROM wallets WHERE user_id = ?1", [user], |r| r.get(0))?)
    };
    let ledger: i64 = con.query_row("SELECT count(*) FROM transfers", [], |r| r.get(0))?;
    Ok(State { from: balance(FROM)?, to: balance(TO)?, ledger })
}

/// The same transfer in one SQLite transaction: debit, credit (which overflows), ledger row. The
/// error of the failing statement; the transaction rolls back when it is dropped uncommitted.
fn sql_transfer(con: &mut Connection) -> Result<Option<String>> {
    let tx = con.transaction()?;
    let steps: [(&str, i64, i64); 2] = [
        ("UPDATE wallets SET wei = wei - ?1 WHERE user_id = ?2", AMOUNT, FROM),
        ("UPDATE wallets SET wei = wei + ?1 WHERE user_id = ?2", AMOUNT, TO),
    ];
    for (statement, amount, user) in steps {
        if let Err(e) = tx.execute(statement, params![amount, user]) {
            // Dropping `tx` rolls it back.
            return Ok(Some(e.to_string()));
        }
    }
    tx.execute("INSERT INTO transfers (from_user, to_user, wei) VALUES (?1, ?2, ?3)", params![FROM, TO, AMOUNT])?;
    tx.commit()?;
    Ok(None)
}

/// A user id as the backend shows it (an id, not a count: no thousands separator).
fn user(id: i64) -> Fact {
    Fact::Text(id.to_string())
}

fn tokens(wei: i64) -> String {
    if wei % WEI == 0 { (wei / WEI).to_string() } else { format!("{:.6}", wei as f64 / WEI as f64) }
}

fn state_cells(s: &State) -> Vec<Text> {
    vec![
        Text::Plain(tokens(s.from)),
        Text::Plain(tokens(s.to)),
        Text::Plain(s.ledger.to_string()),
        Text::Plain((s.sum() / i128::from(WEI)).to_string()),
    ]
}

/// A transfer of one token whose credit overflows: in MULTI (run-time error, then a queue-time
/// error) and in a SQLite transaction; what each left behind.
pub fn no_rollback(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("no-rollback", Text::msg("title"));
    let keys = Keys::new(ctx);
    let mut con = ctx.connect()?;
    let names = ["DECRBY", "INCRBY", "RPUSH"];

    // 1. A run-time error: every command was queued; INCRBY fails when EXEC runs it.
    reset(&mut con, &keys)?;
    let run_time = multi(&mut con, &transfer(&keys, false))?;
    let after_run_time = redis_state(&mut con, &keys)?;
    let replies = match &run_time.exec {
        Value::Array(items) => items.clone(),
        other => bail!("EXEC replied {other:?}, expected one reply per command"),
    };
    let all_queued = run_time.queued.iter().all(|v| matches!(v, Value::SimpleString(s) if s == "QUEUED"));
    let failed: Vec<bool> = replies.iter().map(is_error).collect();
    let overflow = replies.iter().map(error_text).find(|e| !e.is_empty()).unwrap_or_default();

    // 2. A queue-time error: the server refuses to queue the credit, and EXEC discards everything.
    reset(&mut con, &keys)?;
    let queue_time = multi(&mut con, &transfer(&keys, true))?;
    let after_queue_time = redis_state(&mut con, &keys)?;
    let refused = queue_time.queued.iter().map(error_text).find(|e| !e.is_empty()).unwrap_or_default();
    let execabort = error_text(&queue_time.exec);

    // 3. SQLite: the same transfer, the same overflow, one transaction.
    let path = ctx.scratch.join("locks-wallets.db");
    let mut db = sql::open_file(&path, Durability::Off)?;
    db.execute_batch(
        "DROP TABLE IF EXISTS wallets; DROP TABLE IF EXISTS transfers;
         CREATE TABLE wallets (user_id INTEGER PRIMARY KEY, wei INTEGER NOT NULL) STRICT;
         CREATE TABLE transfers (id INTEGER PRIMARY KEY, from_user INTEGER NOT NULL,
                                 to_user INTEGER NOT NULL, wei INTEGER NOT NULL) STRICT;",
    )
    .context("creating the wallets table (STRICT tables need SQLite 3.37)")?;
    db.execute("INSERT INTO wallets VALUES (?1, ?2), (?3, ?4)", params![FROM, FROM_START, TO, TO_START])?;
    let sql_error = sql_transfer(&mut db)?;
    let after_sql = sql_state(&db)?;

    let row = |what: &str, outcome: String, state: &State| {
        let mut cells = vec![Text::msg(&format!("tries.{what}")), Text::Plain(outcome)];
        cells.extend(state_cells(state));
        cells
    };
    let rows = vec![
        row("start", "—".into(), &State::START),
        row("run-time", marks(&names, &failed), &after_run_time),
        row("queue-time", if execabort.is_empty() { "?".into() } else { "EXECABORT".into() }, &after_queue_time),
        row(
            "sqlite",
            if sql_error.is_some() { "UPDATE ✓ · UPDATE ✗ → ROLLBACK".into() } else { "COMMIT".into() },
            &after_sql,
        ),
    ];
    report.table_with_headers(
        Text::msg("tries").fact("from", user(FROM)).fact("to", user(TO)),
        ["transaction", "outcome", "from", "to", "ledger", "sum"]
            .iter()
            .map(|h| Text::msg(&format!("tries.header-{h}")).fact("from", user(FROM)).fact("to", user(TO)))
            .collect(),
        rows,
    );
    report.note(
        NoteKind::Info,
        Text::msg("errors").fact("overflow", overflow.as_str()).fact("refused", refused.as_str()),
    );

    // Claim 1: the run-time error left the other commands applied.
    let kept = failed.iter().filter(|f| !**f).count();
    let run_time_holds = all_queued
        && failed == [false, true, false]
        && after_run_time == State { from: FROM_START - AMOUNT, to: TO_START, ledger: 1 };
    report.claim(
        Claim::new(
            "multi-keeps-the-rest",
            "",
            format!("{kept} of {} applied, {} vanished", replies.len(), after_run_time.vanished()),
            run_time_holds,
        )
        .fact("commands", replies.len())
        .fact("kept", kept)
        .fact("vanished", u64::try_from(after_run_time.vanished()).unwrap_or(0)),
    );
    // Claim 2: a queue-time error discarded the whole transaction.
    let queue_holds = !refused.is_empty() && execabort.starts_with("EXECABORT") && after_queue_time == State::START;
    report.claim(Claim::new(
        "queue-error-discards-all",
        "",
        if queue_holds { "EXECABORT, 0 applied".to_string() } else { format!("{after_queue_time:?}") },
        queue_holds,
    ));
    // Claim 3: SQLite failed on the same overflow and rolled back.
    let sql_holds = sql_error.is_some() && after_sql == State::START;
    report.claim(Claim::new(
        "sql-rolls-back",
        "",
        if sql_holds { "ROLLBACK, 0 applied".to_string() } else { format!("{after_sql:?}") },
        sql_holds,
    ));
    report.note(NoteKind::Info, Text::msg("what-multi-gives"));
    report.note(NoteKind::Caveat, Text::msg("check-first"));
    if let Some(e) = &sql_error {
        report.note(NoteKind::Info, Text::msg("sql-error").fact("error", e.as_str()));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payees_balance_plus_one_token_overflows_i64() {
        assert!(TO_START.checked_add(AMOUNT).is_none());
        assert!(FROM_START.checked_sub(AMOUNT).is_some());
    }

    #[test]
    fn a_debit_without_its_credit_makes_a_token_vanish() {
        let s = State { from: FROM_START - AMOUNT, to: TO_START, ledger: 1 };
        assert_eq!(s.vanished(), 1);
        assert_eq!(State::START.vanished(), 0);
        assert_eq!(tokens(9 * WEI), "9");
    }

    #[test]
    fn marks_show_which_commands_worked() {
        assert_eq!(marks(&["A", "B"], &[false, true]), "A ✓ · B ✗");
    }
}
