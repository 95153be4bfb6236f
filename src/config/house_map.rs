//! HOUSE_MAP (the `<House>` token of sensor file names to apartment ids) and time zone names.

use chrono_tz::Tz;

use super::{ConfigError, DEFAULT_HOUSE_MAP, Result};

/// Map from the `<House>` token of sensor file names to apartment ids, matched case-insensitively.
/// The house spelling is kept as configured because prediction mode builds file names from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseMap {
    entries: Vec<HouseEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseEntry {
    /// House token exactly as it appears in file names, e.g. `JimmyLoup`.
    pub house: String,
    /// Apartment id used everywhere in the lake, e.g. `jimmy`.
    pub apartment: String,
}

impl HouseMap {
    /// Parse `House=apartment,House2=apartment2`.
    pub fn parse(text: &str) -> Result<Self> {
        let mut entries: Vec<HouseEntry> = Vec::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (house, apartment) = pair.split_once('=').ok_or_else(|| {
                ConfigError(format!(
                    "HOUSE_MAP entry `{pair}` is not `House=apartment` (full value: `{text}`)"
                ))
            })?;
            let (house, apartment) = (house.trim(), apartment.trim());
            if house.is_empty() || !is_valid_apartment_id(apartment) {
                return Err(ConfigError(format!(
                    "HOUSE_MAP entry `{pair}`: the house must be non-empty and the apartment id \
                     must be lowercase letters, digits, `-` or `_`"
                )));
            }
            if entries.iter().any(|e| e.house.eq_ignore_ascii_case(house)) {
                return Err(ConfigError(format!(
                    "HOUSE_MAP names house `{house}` twice"
                )));
            }
            // One file per apartment and minute is what makes duplicate resolution in silver
            // well defined, so an apartment has exactly one house.
            if let Some(other) = entries.iter().find(|e| e.apartment == apartment) {
                return Err(ConfigError(format!(
                    "HOUSE_MAP maps both `{}` and `{house}` to apartment `{apartment}`; an apartment has one house",
                    other.house
                )));
            }
            entries.push(HouseEntry {
                house: house.to_string(),
                apartment: apartment.to_string(),
            });
        }
        if entries.is_empty() {
            return Err(ConfigError("HOUSE_MAP is empty".into()));
        }
        Ok(Self { entries })
    }

    /// The apartment of a house token, ignoring case.
    pub fn apartment_of(&self, house: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.house.eq_ignore_ascii_case(house))
            .map(|e| e.apartment.as_str())
    }

    pub fn entries(&self) -> &[HouseEntry] {
        &self.entries
    }

    /// The map without the apartments `excluded` picks (erased ones, see `gdpr erase`), and the
    /// entries taken out.
    pub fn without(&self, excluded: impl Fn(&str) -> bool) -> (Self, Vec<HouseEntry>) {
        let (out, kept) = self
            .entries
            .iter()
            .cloned()
            .partition(|e| excluded(&e.apartment));
        (Self { entries: kept }, out)
    }

    /// The map in its `House=apartment,...` text form.
    pub fn to_config_string(&self) -> String {
        self.entries
            .iter()
            .map(|e| format!("{}={}", e.house, e.apartment))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Default for HouseMap {
    fn default() -> Self {
        Self::parse(DEFAULT_HOUSE_MAP).expect("default house map is valid")
    }
}

/// Whether `id` can be an apartment id: lowercase letters, digits, `-` or `_`.
pub fn is_valid_apartment_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Parse an IANA time zone name such as `UTC` or `Europe/Zurich`.
pub fn parse_timezone(name: &str, variable: &str) -> Result<Tz> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| ConfigError(format!("{variable}=`{name}` is not an IANA time zone name")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn house_map_is_case_insensitive_and_validated() {
        let map = HouseMap::default();
        assert_eq!(map.apartment_of("jimmyloup"), Some("jimmy"));
        assert_eq!(map.apartment_of("JEREMIEVIANIN"), Some("jeremie"));
        assert_eq!(map.apartment_of("Unknown"), None);
        assert!(HouseMap::parse("A=b,a=c").is_err());
        assert!(HouseMap::parse("A=b,C=b").is_err());
        assert!(HouseMap::parse("A").is_err());
        assert!(HouseMap::parse("A=Bad Id").is_err());
        assert_eq!(
            HouseMap::parse(" X=x , Y=y ").unwrap().to_config_string(),
            "X=x,Y=y"
        );
    }
}
