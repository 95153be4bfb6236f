//! PostgreSQL text: quoting identifiers and literals, and the statements of a SQL file of
//! `queries/publish/`, split by sqlparser's PostgreSQL tokenizer (a `;` inside a string, a
//! dollar-quoted body or a comment does not end a statement).

use std::collections::BTreeSet;

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use super::{PublishError, Result};

/// A PostgreSQL identifier, quoted.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A PostgreSQL string literal (utility statements take no parameters).
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `"a", "b"`: quoted identifiers for a column list.
pub fn column_list<S: AsRef<str>>(columns: &[S]) -> String {
    columns
        .iter()
        .map(|c| ident(c.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One statement of a SQL file, without its comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub text: String,
    /// The relations of schema `gold` it names (`gold.<name>`).
    pub gold_relations: BTreeSet<String>,
    /// The view of schema `gold` it creates (`CREATE [OR REPLACE] VIEW gold.<name>`).
    pub creates: Option<String>,
}

impl Statement {
    /// The relations that must exist before it runs: those it names but does not create.
    pub fn requires(&self) -> impl Iterator<Item = &String> {
        self.gold_relations
            .iter()
            .filter(|r| self.creates.as_ref() != Some(*r))
    }

    /// Its first line, for messages.
    pub fn first_line(&self) -> &str {
        self.text.trim().lines().next().unwrap_or_default()
    }
}

/// The statements of `sql` (`file` names it in errors), each its text as written from its first
/// token to its last (comments before and between statements left out).
pub fn statements(file: &str, sql: &str) -> Result<Vec<Statement>> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .map_err(|e| PublishError::Config(format!("queries/publish/{file}: {e}")))?;
    let offsets = Offsets::new(sql);
    let mut statements = Vec::new();
    let mut current: Vec<&TokenWithSpan> = Vec::new();
    for token in &tokens {
        match &token.token {
            Token::SemiColon => {
                statements.extend(statement_of(sql, &offsets, &current));
                current.clear();
            }
            Token::Whitespace(_) => {}
            _ => current.push(token),
        }
    }
    statements.extend(statement_of(sql, &offsets, &current));
    Ok(statements)
}

/// Byte offsets of the tokenizer's (line, column) locations, both counted from 1 in characters.
struct Offsets {
    line_starts: Vec<usize>,
}

impl Offsets {
    fn new(sql: &str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { line_starts }
    }

    fn of(&self, sql: &str, location: Location) -> usize {
        let Some(&start) = self
            .line_starts
            .get(location.line.saturating_sub(1) as usize)
        else {
            return sql.len();
        };
        sql[start..]
            .char_indices()
            .nth(location.column.saturating_sub(1) as usize)
            .map_or(sql.len(), |(i, _)| start + i)
    }
}

/// The statement made of `tokens` (no whitespace or comments among them), if any.
fn statement_of(sql: &str, offsets: &Offsets, tokens: &[&TokenWithSpan]) -> Option<Statement> {
    let (first, last) = (tokens.first()?, tokens.last()?);
    let text = sql[offsets.of(sql, first.span.start)..offsets.of(sql, last.span.end)].to_string();
    let words: Vec<&Token> = tokens.iter().map(|t| &t.token).collect();
    let gold_relation = |w: &[&Token]| match w {
        [Token::Word(schema), Token::Period, Token::Word(name), ..]
            if schema.value.eq_ignore_ascii_case("gold") =>
        {
            Some(name.value.clone())
        }
        _ => None,
    };
    let is_word =
        |t: &Token, word: &str| matches!(t, Token::Word(w) if w.value.eq_ignore_ascii_case(word));
    let creates = words
        .first()
        .filter(|t| is_word(t, "CREATE"))
        .and_then(|_| words.iter().take(5).position(|t| is_word(t, "VIEW")))
        .and_then(|view| gold_relation(&words[view + 1..]));
    Some(Statement {
        text,
        gold_relations: words.windows(3).filter_map(gold_relation).collect(),
        creates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_end_at_semicolons_outside_strings_and_comments() {
        let sql = "-- a comment; not a statement\n\
                   CREATE VIEW gold.v AS SELECT 'a;b' FROM gold.t JOIN gold.u ON true; COMMENT ON VIEW gold.v IS 'x;y''s';\n\
                   DO $$ BEGIN PERFORM 1; END $$;\n/* block; */ SELECT 'é'";
        let found = statements("test.sql", sql).unwrap();
        let texts: Vec<&str> = found.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "CREATE VIEW gold.v AS SELECT 'a;b' FROM gold.t JOIN gold.u ON true",
                "COMMENT ON VIEW gold.v IS 'x;y''s'",
                "DO $$ BEGIN PERFORM 1; END $$",
                "SELECT 'é'",
            ]
        );
        let relations: Vec<Vec<&str>> = found
            .iter()
            .map(|s| s.gold_relations.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(relations, [vec!["t", "u", "v"], vec!["v"], vec![], vec![]]);
        assert_eq!(found[0].creates.as_deref(), Some("v"));
        assert_eq!(found[0].requires().collect::<Vec<_>>(), ["t", "u"]);
        assert_eq!(found[1].creates, None);
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(column_list(&["x", "y"]), "\"x\", \"y\"");
    }
}
