//! Secrets never leave the process in clear text: every log line and every error message that
//! reaches a user passes through [`redact`]. Secrets are registered when configuration is read
//! (URL passwords, keys, tokens) and replaced by `****` wherever they appear.

use std::borrow::Cow;
use std::sync::RwLock;

use url::Url;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// The text shown instead of a secret.
pub const MASK: &str = "****";

/// Remember `secret` so that [`redact`] masks it. Short values are ignored: masking a one- or
/// two-character password would mangle unrelated text and protects nothing.
pub fn register(secret: &str) {
    if secret.len() < 3 {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_string());
        // Longest first, so a secret containing another one is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Register the password of a URL such as `postgresql://user:pass@host/db` (raw and
/// percent-decoded forms) and return the URL with the password masked.
pub fn register_url(url: &str) -> String {
    if let Ok(parsed) = Url::parse(url)
        && let Some(password) = parsed.password()
    {
        register(password);
        if let Ok(decoded) = percent_decode(password) {
            register(&decoded);
        }
    }
    mask_url(url)
}

/// `url` with its password replaced by [`MASK`]; text that is not a URL is returned redacted.
pub fn mask_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some(MASK));
            parsed.to_string()
        }
        _ => redact(url).into_owned(),
    }
}

/// `text` with every registered secret replaced by [`MASK`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| text.contains(s.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for secret in secrets.iter() {
        out = out.replace(secret.as_str(), MASK);
    }
    Cow::Owned(out)
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
}
