//! Small JSON documents under `_ops/state/` that steps keep between runs (for example when the
//! share was last scanned). Written with one atomic put each.

use object_store::ObjectStoreExt;
use object_store::PutPayload;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Lake, LakeError, Result};

fn state_path(lake: &Lake, name: &str) -> object_store::path::Path {
    lake.path(&format!("_ops/state/{name}.json"))
}

/// Load state `name`, or the default when it was never saved.
pub async fn load<T: DeserializeOwned + Default>(lake: &Lake, name: &str) -> Result<T> {
    let path = state_path(lake, name);
    match lake.root_store().get(&path).await {
        Ok(result) => {
            let bytes = result.bytes().await?;
            serde_json::from_slice(&bytes).map_err(|e| LakeError::Corrupt {
                context: format!("state document {path}"),
                message: e.to_string(),
            })
        }
        Err(object_store::Error::NotFound { .. }) => Ok(T::default()),
        Err(e) => Err(e.into()),
    }
}

/// Save state `name`.
pub async fn save<T: Serialize>(lake: &Lake, name: &str, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).expect("state serializes");
    lake.root_store()
        .put(&state_path(lake, name), PutPayload::from(bytes))
        .await?;
    Ok(())
}
