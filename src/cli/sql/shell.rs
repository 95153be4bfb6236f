//! Reading the shell's input: the interactive prompt (rustyline: line editing, a history file,
//! Ctrl-C clears the line, Ctrl-D quits) and scripts (`-c`, `-f`, piped stdin). A statement ends
//! with a line ending in `;`; a line starting with `\` on its own is a command.

use std::path::{Path, PathBuf};

use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use super::console::{Console, Flow};
use crate::error::{Error, Result};

/// Statements and commands of one input, as the lines come.
#[derive(Default)]
struct Statements {
    buffer: String,
}

/// What a line completed.
enum Item {
    Command(String),
    Sql(String),
    /// The line continues a statement.
    More,
}

impl Statements {
    fn push(&mut self, line: &str) -> Item {
        if self.buffer.trim().is_empty() && line.trim_start().starts_with('\\') {
            self.buffer.clear();
            return Item::Command(line.trim().to_string());
        }
        self.buffer.push_str(line);
        self.buffer.push('\n');
        match line.trim_end().ends_with(';') {
            true => Item::Sql(std::mem::take(&mut self.buffer)),
            false => Item::More,
        }
    }

    /// What is left at the end of the input (a last statement without `;`).
    fn rest(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buffer);
        (!rest.trim().is_empty()).then_some(rest)
    }
}

/// Run a script: its first error ends it.
pub async fn run_script(console: &mut Console, text: &str) -> Result<()> {
    let mut statements = Statements::default();
    for line in text.lines() {
        match statements.push(line) {
            Item::Command(command) => {
                if console.run_command(&command).await? == Flow::Quit {
                    return Ok(());
                }
            }
            Item::Sql(sql) => console.run_sql(&sql).await?,
            Item::More => {}
        }
    }
    match statements.rest() {
        Some(sql) => console.run_sql(&sql).await,
        None => Ok(()),
    }
}

/// The interactive shell; errors are printed and the shell goes on.
pub async fn run_interactive(console: &mut Console, history: &Path, prompt: &str) -> Result<()> {
    let mut editor = DefaultEditor::new().map_err(editor_error)?;
    console.cancel_on_ctrl_c()?;
    // A history that cannot be read (first run) or written is no reason to stop.
    let _ = editor.load_history(history);
    eprintln!("datacycle SQL shell: \\? for help, \\q to quit");
    let continuation = format!("{:>width$} ", "->", width = prompt.len() - 1);
    let mut statements = Statements::default();
    loop {
        let shown = match statements.buffer.is_empty() {
            true => prompt,
            false => continuation.as_str(),
        };
        let line = match editor.readline(shown) {
            Ok(line) => line,
            // A Ctrl-C that cancelled a query reaches the editor too, as a signal.
            Err(ReadlineError::Interrupted | ReadlineError::Signal(_)) => {
                statements = Statements::default();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(editor_error(e)),
        };
        let outcome = match statements.push(&line) {
            Item::Command(command) => {
                let _ = editor.add_history_entry(&command);
                console.run_command(&command).await
            }
            Item::Sql(sql) => {
                let _ = editor.add_history_entry(sql.trim_end());
                console.run_sql(&sql).await.map(|()| Flow::Continue)
            }
            Item::More => Ok(Flow::Continue),
        };
        match outcome {
            Ok(Flow::Quit) => break,
            Ok(Flow::Continue) => {}
            Err(e) => eprintln!("error: {e}"),
        }
    }
    save_history(&mut editor, history);
    Ok(())
}

fn save_history(editor: &mut DefaultEditor, history: &Path) {
    if let Some(dir) = history.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = editor.save_history(history) {
        tracing::warn!(
            "could not save the shell history in {}: {e}",
            history.display()
        );
    }
}

/// Where the history is kept unless SQL_HISTORY_FILE says: the user's data directory.
pub fn default_history_file() -> PathBuf {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir);
    data.join("datacycle").join("sql_history")
}

fn editor_error(e: ReadlineError) -> Error {
    Error::io("reading the terminal", std::io::Error::other(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Vec<String> {
        let mut statements = Statements::default();
        let mut out = Vec::new();
        for line in text.lines() {
            match statements.push(line) {
                Item::Command(c) => out.push(format!("cmd {c}")),
                Item::Sql(s) => out.push(format!("sql {}", s.trim())),
                Item::More => {}
            }
        }
        out.extend(statements.rest().map(|s| format!("rest {}", s.trim())));
        out
    }

    #[test]
    fn statements_end_with_a_semicolon_and_commands_stand_alone() {
        assert_eq!(
            items("\\d\nSELECT 1,\n  2;\n\\timing\nSELECT 3; SELECT 4;\nSELECT 5"),
            vec![
                "cmd \\d",
                "sql SELECT 1,\n  2;",
                "cmd \\timing",
                "sql SELECT 3; SELECT 4;",
                "rest SELECT 5"
            ]
        );
        // Inside a statement, a line starting with a backslash belongs to it.
        assert_eq!(items("SELECT\n\\d;"), vec!["sql SELECT\n\\d;"]);
    }
}
