//! The apartments erased by `gdpr erase` (the right to erasure), kept in the state document
//! `_ops/state/gdpr_erased.json` until `gdpr readmit`: every step that takes data in refuses
//! theirs, so an erased apartment does not reappear from the share the next minute.
//!
//! The document holds a SHA-256 digest of each apartment id, never the id itself: the lake keeps
//! no list of erased residents that anyone could read off it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Lake, Result, state};
use crate::config::{HouseEntry, HouseMap};

const STATE: &str = "gdpr_erased";

/// The erased apartments.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Erasures {
    /// When each apartment (by digest) was erased.
    erased: BTreeMap<String, DateTime<Utc>>,
}

impl Erasures {
    pub async fn load(lake: &Lake) -> Result<Self> {
        state::load(lake, STATE).await
    }

    pub async fn save(&self, lake: &Lake) -> Result<()> {
        state::save(lake, STATE, self).await
    }

    pub fn contains(&self, apartment: &str) -> bool {
        self.erased.contains_key(&digest(apartment))
    }

    /// Record `apartment` as erased at `at` (the first time counts).
    pub fn insert(&mut self, apartment: &str, at: DateTime<Utc>) {
        self.erased.entry(digest(apartment)).or_insert(at);
    }

    /// Re-admit `apartment`; whether it was erased.
    pub fn remove(&mut self, apartment: &str) -> bool {
        self.erased.remove(&digest(apartment)).is_some()
    }

    /// `map` without the erased apartments, and the entries of those (their houses).
    pub fn house_map(&self, map: &HouseMap) -> (HouseMap, Vec<HouseEntry>) {
        map.without(|apartment| self.contains(apartment))
    }
}

fn digest(apartment: &str) -> String {
    hex::encode(Sha256::digest(format!(
        "datacycle erased apartment:{apartment}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_no_apartment_and_filters_the_house_map() {
        let mut erasures = Erasures::default();
        erasures.insert("jimmy", Utc::now());
        let text = serde_json::to_string(&erasures).unwrap();
        assert!(!text.contains("jimmy"), "{text}");
        let (map, erased) = erasures.house_map(&HouseMap::default());
        assert_eq!(map.apartment_of("JimmyLoup"), None);
        assert_eq!(map.apartment_of("JeremieVianin"), Some("jeremie"));
        assert_eq!(erased.len(), 1);
        assert_eq!(erased[0].house, "JimmyLoup");
        assert!(erasures.remove("jimmy"));
        assert!(!erasures.contains("jimmy"));
    }
}
