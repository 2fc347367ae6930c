//! The interactive quiz at a terminal: dialoguer menus (arrow keys or number keys), the explanation
//! after each answer, a score, and the questions to review. The only dialoguer user.

use std::io::Write;

use anyhow::Result;
use dialoguer::Select;
use dialoguer::theme::ColorfulTheme;

use super::{Attempt, QuizResult};
use crate::error::UserError;
use crate::i18n::Lang;
use crate::render::Styles;

/// Ask every question at the terminal and grade the answers.
pub fn ask(attempt: &Attempt, lang: Lang, styles: Styles, out: &mut impl Write) -> Result<QuizResult> {
    let theme = ColorfulTheme::default();
    let mut chosen = Vec::with_capacity(attempt.questions.len());
    let total = attempt.questions.len();
    for (i, q) in attempt.questions.iter().enumerate() {
        writeln!(out)?;
        let prompt = format!("{}/{total} {}", i + 1, q.question);
        let choice = Select::with_theme(&theme)
            .with_prompt(prompt)
            .items(&q.options)
            .default(0)
            .interact_opt()
            .map_err(|_| UserError::NoTerminal)?
            .ok_or(UserError::Interrupted)?;
        let verdict = if choice == q.correct {
            styles.pass(lang.tr("✔ right", "✔ 正确")).to_string()
        } else {
            format!(
                "{} {}",
                styles.fail(lang.tr("✘ not quite — the answer is:", "✘ 不对——正确答案是：")),
                q.options[q.correct]
            )
        };
        writeln!(out, "{verdict}")?;
        writeln!(out, "{}", styles.dim(&q.explanation))?;
        chosen.push(choice);
    }
    Ok(attempt.grade(&chosen))
}
