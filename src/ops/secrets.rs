//! Secrets never leave the process in clear text: every log line and every error message that
//! reaches a user passes through [`redact`]. Secrets are registered when configuration is read
//! (URL passwords, keys, tokens) and replaced by `****` wherever they appear, also in the escaped
//! forms JSON logs and debug output give them. Independently of what was registered, [`redact`]
//! masks the password of anything shaped like a URL (`scheme://user:password@…`, even one no URL
//! parser accepts) and the value of `password=` in keyword connection strings.

use std::borrow::Cow;
use std::sync::RwLock;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// The text shown instead of a secret.
pub const MASK: &str = "****";

/// Keys of keyword connection strings (`host=db password=x`) whose values are secrets.
const SECRET_KEYWORDS: &[&str] = &["password", "passwd", "pwd"];

/// Remember `secret` so that [`redact`] masks it. Short values are ignored: masking a one- or
/// two-character password would mangle unrelated text and protects nothing.
pub fn register(secret: &str) {
    if secret.len() < 3 {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    // A JSON log line shows `a"b\c` as `a\"b\\c`; debug output does the same.
    let json = serde_json::to_string(secret).unwrap_or_default();
    let escaped = json.trim_matches('"').to_string();
    for form in [secret.to_string(), escaped] {
        if !secrets.contains(&form) {
            secrets.push(form);
        }
    }
    // Longest first, so a secret containing another one is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// Register the password of a URL such as `postgresql://user:pass@host/db` (raw and
/// percent-decoded forms), whether or not the URL parses, and return it with the password masked.
pub fn register_url(url: &str) -> String {
    if let Some((start, end)) = password_range(url, 0) {
        let password = &url[start..end];
        register(password);
        if let Ok(decoded) = percent_decode(password) {
            register(&decoded);
        }
    }
    mask_url(url)
}

/// `url` with its password replaced by [`MASK`] (and any registered secret masked).
pub fn mask_url(url: &str) -> String {
    redact(url).into_owned()
}

/// `text` with every registered secret, every URL password and every `password=` value
/// replaced by [`MASK`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let registered = secrets.iter().any(|s| text.contains(s.as_str()));
    if !registered && !text.contains("://") && !has_secret_keyword(text) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for secret in secrets.iter() {
        out = out.replace(secret.as_str(), MASK);
    }
    out = mask_url_passwords(&out);
    out = mask_keyword_values(&out);
    if out == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(out)
    }
}

/// The byte range of the password in the first URL at or after `from`: after the first `:` of
/// the user information, which runs from `://` to the last `@` before the next white space or
/// quote. A path may hold an `@` too; masking a bit too much is the safe mistake.
fn password_range(text: &str, from: usize) -> Option<(usize, usize)> {
    let mut search = from;
    while let Some(found) = text[search..].find("://") {
        let authority_start = search + found + 3;
        let rest = &text[authority_start..];
        let token_end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
            .unwrap_or(rest.len());
        let token = &rest[..token_end];
        if let Some(at) = token.rfind('@')
            && let Some(colon) = token[..at].find(':')
            && colon + 1 < at
        {
            return Some((authority_start + colon + 1, authority_start + at));
        }
        search = authority_start;
    }
    None
}

fn mask_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    while let Some((start, end)) = password_range(text, copied) {
        out.push_str(&text[copied..start]);
        out.push_str(MASK);
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

fn has_secret_keyword(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    SECRET_KEYWORDS.iter().any(|k| lower.contains(k))
}

/// Mask the value of `password=value` / `password='quoted value'` (keyword DSNs, query strings).
fn mask_keyword_values(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while search < text.len() {
        let next = SECRET_KEYWORDS
            .iter()
            .filter_map(|k| lower[search..].find(k).map(|i| (search + i, k.len())))
            .min();
        let Some((at, len)) = next else { break };
        let after_key = at + len;
        // Only a whole word followed by `=` (spaces allowed around it) is a keyword.
        let word_start = at == 0 || !text.as_bytes()[at - 1].is_ascii_alphanumeric();
        let eq = text[after_key..].trim_start();
        if !word_start || !eq.starts_with('=') {
            search = after_key;
            continue;
        }
        let after_eq = text.len() - eq.len() + 1;
        let value = text[after_eq..].trim_start();
        let value_start = text.len() - value.len();
        let value_len = match value.as_bytes().first() {
            Some(b'\'') => quoted_len(value, '\''),
            Some(b'"') => quoted_len(value, '"'),
            _ => value
                .find(|c: char| c.is_whitespace() || matches!(c, '&' | ';' | ',' | ')'))
                .unwrap_or(value.len()),
        };
        if value_len > 0 {
            out.push_str(&text[copied..value_start]);
            out.push_str(MASK);
            copied = value_start + value_len;
        }
        search = (value_start + value_len).max(after_key);
    }
    out.push_str(&text[copied..]);
    out
}

/// Length of a quoted value including its quotes (a doubled or backslashed quote stays inside).
fn quoted_len(value: &str, quote: char) -> usize {
    let bytes = value.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == quote as u8 => {
                if bytes.get(i + 1) == Some(&(quote as u8)) {
                    i += 2;
                } else {
                    return i + 1;
                }
            }
            _ => i += 1,
        }
    }
    value.len()
}

fn percent_decode(text: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(hex) = std::str::from_utf8(&bytes[i + 1..i + 3])
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_url_password_everywhere() {
        let masked = register_url("postgresql://app:s3cr%21t-pw@localhost:5432/db");
        assert_eq!(masked, "postgresql://app:****@localhost:5432/db");
        assert_eq!(redact("auth failed for s3cr!t-pw"), "auth failed for ****");
        assert_eq!(redact("raw s3cr%21t-pw"), "raw ****");
        assert_eq!(redact("nothing here"), "nothing here");
    }

    /// Hostile URLs and connection strings: (input, the secret, what must still be shown).
    #[test]
    fn hostile_urls_never_show_their_password() {
        let cases = [
            ("postgresql://app:pa/ss@db/x", "pa/ss", "db/x"),
            ("postgresql://app:p@ss@db:5432/x", "p@ss", "db:5432/x"),
            (
                "mysql://reader:h#sh?q@10.0.0.5:3306/pidb",
                "h#sh?q",
                "10.0.0.5",
            ),
            (
                "sftp://meteo:pw:with:colons@sftp.example.org/Meteo2",
                "pw:with:colons",
                "sftp.example.org",
            ),
            ("s3://key:Zk8+/wQ@bucket/prefix", "Zk8+/wQ", "bucket/prefix"),
            (
                "host=db user=app password=Kw9!x dbname=gold",
                "Kw9!x",
                "dbname=gold",
            ),
            (
                "host=db password = 'a b''c' dbname=gold",
                "a b''c",
                "dbname=gold",
            ),
            ("PASSWORD=Upper1 host=x", "Upper1", "host=x"),
            (
                "jdbc:postgresql://db/x?user=app&password=q1w2e3&ssl=true",
                "q1w2e3",
                "ssl=true",
            ),
        ];
        for (input, secret, kept) in cases {
            let masked = register_url(input);
            assert!(!masked.contains(secret), "{input} → {masked}");
            assert!(masked.contains(kept), "{input} → {masked} lost {kept}");
            assert!(masked.contains(MASK), "{input} → {masked}");
            let embedded = format!("error: cannot parse `{input}`: invalid port");
            assert!(!redact(&embedded).contains(secret), "{embedded}");
        }
        assert_eq!(
            redact("sftp://meteo@host/Meteo2"),
            "sftp://meteo@host/Meteo2"
        );
        assert_eq!(redact("a passwordless login"), "a passwordless login");
    }

    #[test]
    fn escaped_forms_of_a_secret_are_masked() {
        let secret = r#"q"uo\te-pw"#;
        register(secret);
        let json = serde_json::json!({ "message": format!("login with {secret} failed") });
        let line = json.to_string();
        assert!(line.contains(r#"q\"uo\\te-pw"#), "{line}");
        let masked = redact(&line);
        assert!(
            !masked.contains("uo\\\\te") && masked.contains(MASK),
            "{masked}"
        );
        let debug = format!("{:?}", format!("x {secret} y"));
        assert!(!redact(&debug).contains("uo\\\\te"), "{debug}");
    }
}
