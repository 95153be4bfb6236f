//! Building the object store of a lake URL.

use std::collections::HashMap;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use url::Url;

use super::{LakeError, Result};
use crate::ops::secrets;

/// Resolve `location` to (root URL, store at the bucket / file system root, lake prefix).
pub(super) fn open_root(location: &str) -> Result<(Url, Arc<dyn ObjectStore>, Path)> {
    let invalid = |reason: String| LakeError::InvalidUrl {
        url: secrets::mask_url(location),
        reason,
    };
    if location.trim().is_empty() {
        return Err(invalid("empty".into()));
    }
    match Url::parse(location) {
        Ok(url) if url.scheme() == "s3" || url.scheme() == "s3a" => open_s3(url).map_err(invalid),
        Ok(url) if url.scheme() == "file" => {
            let path = url
                .to_file_path()
                .map_err(|_| invalid("not a local path".into()))?;
            open_local(&path).map_err(invalid)
        }
        // A Windows drive letter parses as a one-letter scheme; anything else is unsupported.
        Ok(url) if url.scheme().len() > 1 => Err(invalid(format!(
            "unsupported scheme `{}` (use a path, file:// or s3://)",
            url.scheme()
        ))),
        _ => open_local(std::path::Path::new(location)).map_err(invalid),
    }
}

fn open_local(
    path: &std::path::Path,
) -> std::result::Result<(Url, Arc<dyn ObjectStore>, Path), String> {
    std::fs::create_dir_all(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let absolute = path
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", path.display()))?;
    let root = Url::from_directory_path(&absolute)
        .map_err(|_| format!("{} is not an absolute path", absolute.display()))?;
    let prefix = Path::from_absolute_path(&absolute).map_err(|e| e.to_string())?;
    Ok((
        root,
        Arc::new(super::local_store::LocalStore::new()),
        prefix,
    ))
}

fn open_s3(url: Url) -> std::result::Result<(Url, Arc<dyn ObjectStore>, Path), String> {
    let bucket = url
        .host_str()
        .filter(|b| !b.is_empty())
        .ok_or("missing bucket name")?
        .to_string();
    check_s3_credentials()?;
    if let Ok(secret) = std::env::var("AWS_SECRET_ACCESS_KEY") {
        secrets::register(&secret);
    }
    if let Ok(token) = std::env::var("AWS_SESSION_TOKEN") {
        secrets::register(&token);
    }
    let store = AmazonS3Builder::from_env()
        .with_bucket_name(&bucket)
        .build()
        .map_err(|e| secrets::redact(&e.to_string()).into_owned())?;
    let prefix = Path::from(url.path().trim_matches('/'));
    let mut root = url.clone();
    root.set_scheme("s3")
        .map_err(|_| "cannot normalise the scheme")?;
    let trimmed = format!("/{}/", prefix.as_ref());
    root.set_path(if prefix.as_ref().is_empty() {
        "/"
    } else {
        &trimmed
    });
    Ok((root, Arc::new(store), prefix))
}

/// Refuse an S3 lake without credentials before any request: the credential chains of
/// object_store and deltalake (aws-config) would otherwise end at the instance metadata
/// endpoint and fail with an opaque 403 from 169.254.169.254, or hang where it is unreachable.
/// The instance role is used only when asked for with AWS_EC2_METADATA_DISABLED=false (the
/// binary sets it to true otherwise, which aws-config honours; object_store only goes there
/// without other credentials, which this check rules out).
fn check_s3_credentials() -> std::result::Result<(), String> {
    let set = |key: &str| std::env::var(key).is_ok_and(|v| !v.trim().is_empty());
    // A boolean variable: Some(true) for 1/true/yes, Some(false) for 0/false/no.
    let flag = |key: &str| match std::env::var(key)
        .ok()?
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "1" | "true" | "yes" => Some(true),
        "0" | "false" | "no" => Some(false),
        _ => None,
    };
    let keys = set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY");
    let other = flag("AWS_SKIP_SIGNATURE") == Some(true)
        || set("AWS_WEB_IDENTITY_TOKEN_FILE")
        || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        || set("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        || flag("AWS_EC2_METADATA_DISABLED") == Some(false);
    if keys || other {
        return Ok(());
    }
    let half = match (set("AWS_ACCESS_KEY_ID"), set("AWS_SECRET_ACCESS_KEY")) {
        (true, false) => " (AWS_ACCESS_KEY_ID is set, AWS_SECRET_ACCESS_KEY is not)",
        (false, true) => " (AWS_SECRET_ACCESS_KEY is set, AWS_ACCESS_KEY_ID is not)",
        _ => "",
    };
    Err(format!(
        "no S3 credentials{half}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or \
         AWS_SKIP_SIGNATURE=true for a public bucket, or AWS_EC2_METADATA_DISABLED=false to use \
         the EC2 instance role"
    ))
}

/// Options deltalake needs on top of the store: on S3 the commit protocol relies on conditional
/// puts, and the lake's own writer lease already guarantees a single writer.
pub(super) fn delta_storage_options(root: &Url) -> HashMap<String, String> {
    let mut options = HashMap::new();
    if root.scheme() == "s3" {
        for (key, value) in std::env::vars() {
            if key.starts_with("AWS_") {
                options.insert(key, value);
            }
        }
        options
            .entry("AWS_S3_ALLOW_UNSAFE_RENAME".into())
            .or_insert_with(|| "true".into());
    }
    options
}
