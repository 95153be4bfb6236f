//! The generic leaf flattener: one bronze row per JSON leaf of a sensor file, whatever the
//! field names. It streams the JSON (no document tree) into a per-file buffer, so a file that
//! turns out to be malformed half-way contributes nothing and is quarantined whole.
//!
//! Shape of a leaf row: `category` is the top-level member, `key` the leaf's own key, `room_raw`
//! the object key just above it (so `meteos.meteo.Office.CO2` and `meteos.Office.CO2` both give
//! room `Office`), `item` the index in the nearest enclosing array. Numbers and booleans (1/0)
//! go to `value_num`, strings to `value_text`, JSON null leaves both empty.
//!
//! Structural rules (a violation quarantines the file with the reason and JSON position):
//! the document is an object; `datetime` is a string or null; a known category (from the
//! reference field map) is an object or null whose members are objects, arrays or null.
//! Secrets never leave landing: a member whose key contains one of the configured secret words
//! (`token`, `password`, …; [`SecretKeys`]) is dropped at any depth, value and all, and counted;
//! the top-level `user` is dropped too (it repeats the house, a person's name). A NUL character
//! in a key or a value quarantines the file (PostgreSQL text cannot hold it).

use std::collections::HashSet;
use std::fmt;

use chrono::{NaiveDateTime, Timelike};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Deepest nesting accepted below the top level; real files use at most four levels.
const MAX_DEPTH: usize = 8;

/// Words that make a JSON key a secret, matched case-insensitively anywhere in the key
/// (`api_token` contains `token`).
#[derive(Debug, Clone)]
pub struct SecretKeys {
    words: Vec<Vec<u8>>,
    /// Whether a byte starts one of the words (either case): the cheap test done per key byte.
    starts: [bool; 256],
}

impl SecretKeys {
    /// Comma-separated words; empty entries are ignored.
    pub fn parse(text: &str) -> Self {
        let words: Vec<Vec<u8>> = text
            .split(',')
            .map(|w| w.trim().to_ascii_lowercase().into_bytes())
            .filter(|w| !w.is_empty())
            .collect();
        let mut starts = [false; 256];
        for word in &words {
            starts[word[0] as usize] = true;
            starts[word[0].to_ascii_uppercase() as usize] = true;
        }
        Self { words, starts }
    }

    /// Whether `key` contains one of the words, ignoring ASCII case.
    pub fn matches(&self, key: &str) -> bool {
        let key = key.as_bytes();
        (0..key.len()).any(|i| {
            self.starts[key[i] as usize]
                && self.words.iter().any(|w| {
                    key.len() - i >= w.len() && key[i..i + w.len()].eq_ignore_ascii_case(w)
                })
        })
    }
}

impl Default for SecretKeys {
    fn default() -> Self {
        Self::parse(crate::config::DEFAULT_SECRET_KEYS)
    }
}

/// What the flattener needs to know besides the bytes.
#[derive(Debug, Clone, Default)]
pub struct FlattenRules {
    /// Top-level members checked structurally (the categories of the reference field map).
    pub categories: HashSet<String>,
    pub secret_keys: SecretKeys,
}

/// A byte range of [`FlatFile::arena`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    start: u32,
    end: u32,
}

/// The value of a leaf.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LeafValue {
    Num(f64),
    Text(Span),
    Null,
}

/// One leaf of the document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Leaf {
    pub category: Span,
    pub room: Option<Span>,
    pub item: Option<i32>,
    pub key: Span,
    pub value: LeafValue,
}

/// The flattened content of one file; reused across files to avoid allocations.
#[derive(Debug, Default)]
pub struct FlatFile {
    arena: String,
    pub leaves: Vec<Leaf>,
    /// The payload `datetime`, if present and parseable.
    pub payload_ts: Option<NaiveDateTime>,
    /// Members dropped because their key names a secret.
    pub secrets_dropped: usize,
}

impl FlatFile {
    pub fn text(&self, span: Span) -> &str {
        &self.arena[span.start as usize..span.end as usize]
    }

    fn clear(&mut self) {
        self.arena.clear();
        self.leaves.clear();
        self.payload_ts = None;
        self.secrets_dropped = 0;
    }

    /// Copy `text` into the arena; refused for a NUL character or an arena past 4 GiB (spans
    /// are `u32`).
    fn intern<E: de::Error>(&mut self, text: &str, what: &str) -> Result<Span, E> {
        if text.as_bytes().contains(&0) {
            return Err(E::custom(format!("NUL character in a {what}")));
        }
        let start = self.arena.len();
        let end = start + text.len();
        if end > u32::MAX as usize {
            return Err(E::custom("more than 4 GiB of keys and text"));
        }
        self.arena.push_str(text);
        Ok(Span {
            start: start as u32,
            end: end as u32,
        })
    }
}

/// Flatten `bytes` into `out`. On error `out` is left empty and the message says what is wrong
/// and where.
pub fn flatten(bytes: &[u8], rules: &FlattenRules, out: &mut FlatFile) -> Result<(), String> {
    out.clear();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(if bytes.is_empty() {
            "empty file (0 bytes)".into()
        } else {
            "file holds only whitespace".into()
        });
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let mut walker = Walker {
        flat: out,
        keys: Vec::with_capacity(8),
        rules,
    };
    let result = Document {
        walker: &mut walker,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    result.map_err(|e| {
        out.clear();
        describe_error(e)
    })
}

fn describe_error(error: serde_json::Error) -> String {
    use serde_json::error::Category;
    let prefix = match error.classify() {
        Category::Eof => "truncated JSON: ",
        Category::Syntax => "invalid JSON: ",
        Category::Data => "unexpected structure: ",
        Category::Io => "read error: ",
    };
    format!("{prefix}{error}")
}

/// Parse the payload `datetime` (`DD.MM.YYYY HH:MM`, seconds tolerated) to the minute.
pub fn parse_payload_datetime(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    NaiveDateTime::parse_from_str(text, "%d.%m.%Y %H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%d.%m.%Y %H:%M:%S"))
        .ok()
        .and_then(|t| t.with_second(0))
}

struct Walker<'a> {
    flat: &'a mut FlatFile,
    keys: Vec<Span>,
    rules: &'a FlattenRules,
}

impl Walker<'_> {
    /// Whether the member `key` is a secret (then its value is skipped and counted).
    fn is_secret(&mut self, key: Span) -> bool {
        let secret = self.rules.secret_keys.matches(self.flat.text(key));
        self.flat.secrets_dropped += secret as usize;
        secret
    }

    fn leaf(&mut self, item: Option<i32>, value: LeafValue) {
        let Some(&key) = self.keys.last() else { return };
        let category = self.keys[0];
        let room = (self.keys.len() >= 3).then(|| self.keys[self.keys.len() - 2]);
        self.flat.leaves.push(Leaf {
            category,
            room,
            item,
            key,
            value,
        });
    }

    fn path(&self) -> String {
        self.keys
            .iter()
            .map(|k| self.flat.text(*k))
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// The top-level object.
struct Document<'w, 'a> {
    walker: &'w mut Walker<'a>,
}

impl<'de> DeserializeSeed<'de> for Document<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Document<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object at the top level")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key_seed(KeySeed {
            walker: self.walker,
        })? {
            if self.walker.flat.text(key) == "user" || self.walker.is_secret(key) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let name = self.walker.flat.text(key);
            let (datetime, category) = (
                name == "datetime",
                self.walker.rules.categories.contains(name),
            );
            self.walker.keys.push(key);
            if datetime {
                map.next_value_seed(Datetime {
                    walker: self.walker,
                })?;
            } else if category {
                map.next_value_seed(Category {
                    walker: self.walker,
                })?;
            } else {
                map.next_value_seed(Node {
                    walker: self.walker,
                    item: None,
                })?;
            }
            self.walker.keys.pop();
        }
        Ok(())
    }
}

/// A map key, copied into the arena.
struct KeySeed<'w, 'a> {
    walker: &'w mut Walker<'a>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_> {
    type Value = Span;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Span, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_, '_> {
    type Value = Span;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Span, E> {
        self.walker.flat.intern(v, "key")
    }
}

/// The payload `datetime`: a string (kept as a leaf and parsed) or null.
struct Datetime<'w, 'a> {
    walker: &'w mut Walker<'a>,
}

impl<'de> DeserializeSeed<'de> for Datetime<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Datetime<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`datetime` as a string like \"18.08.2023 10:00\" or null")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.walker.flat.payload_ts = parse_payload_datetime(v);
        let span = self.walker.flat.intern(v, "value")?;
        self.walker.leaf(None, LeafValue::Text(span));
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.walker.leaf(None, LeafValue::Null);
        Ok(())
    }
}

/// A known category: an object of rooms, or null.
struct Category<'w, 'a> {
    walker: &'w mut Walker<'a>,
}

impl<'de> DeserializeSeed<'de> for Category<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Category<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "category `{}` as an object keyed by room, or null",
            self.walker.path()
        )
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key_seed(KeySeed {
            walker: self.walker,
        })? {
            if self.walker.is_secret(key) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            self.walker.keys.push(key);
            map.next_value_seed(Room {
                walker: self.walker,
            })?;
            self.walker.keys.pop();
        }
        Ok(())
    }
}

/// A member of a known category: an object, an array of objects, or null.
struct Room<'w, 'a> {
    walker: &'w mut Walker<'a>,
}

impl<'de> DeserializeSeed<'de> for Room<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Room<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "`{}` as an object of readings (or an array of them), or null",
            self.walker.path()
        )
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        Node {
            walker: self.walker,
            item: None,
        }
        .visit_map(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        Node {
            walker: self.walker,
            item: None,
        }
        .visit_seq(seq)
    }
}

/// Any value below the structural levels: objects recurse, arrays number their items, scalars
/// become leaves.
struct Node<'w, 'a> {
    walker: &'w mut Walker<'a>,
    item: Option<i32>,
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.walker
            .leaf(self.item, LeafValue::Num(if v { 1.0 } else { 0.0 }));
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.walker.leaf(self.item, LeafValue::Num(v as f64));
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.walker.leaf(self.item, LeafValue::Num(v as f64));
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.walker.leaf(self.item, LeafValue::Num(v));
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        let span = self.walker.flat.intern(v, "value")?;
        self.walker.leaf(self.item, LeafValue::Text(span));
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.walker.leaf(self.item, LeafValue::Null);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if self.walker.keys.len() >= MAX_DEPTH {
            return Err(de::Error::custom(format!(
                "`{}` nests deeper than {MAX_DEPTH} levels",
                self.walker.path()
            )));
        }
        while let Some(key) = map.next_key_seed(KeySeed {
            walker: self.walker,
        })? {
            if self.walker.is_secret(key) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            self.walker.keys.push(key);
            map.next_value_seed(Node {
                walker: self.walker,
                item: self.item,
            })?;
            self.walker.keys.pop();
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0i32;
        while seq
            .next_element_seed(Node {
                walker: self.walker,
                item: Some(index),
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> FlattenRules {
        FlattenRules {
            categories: crate::catalog::reference::sensor_categories(None)
                .expect("built-in field map"),
            secret_keys: SecretKeys::default(),
        }
    }

    /// (category, room, item, key, value) of a leaf.
    type LeafRow = (String, Option<String>, Option<i32>, String, String);

    /// Every leaf of `json`.
    fn leaves(json: &str) -> Result<Vec<LeafRow>, String> {
        let mut flat = FlatFile::default();
        flatten(json.as_bytes(), &rules(), &mut flat)?;
        Ok(flat
            .leaves
            .iter()
            .map(|l| {
                let value = match l.value {
                    LeafValue::Num(n) => n.to_string(),
                    LeafValue::Text(s) => format!("'{}'", flat.text(s)),
                    LeafValue::Null => "null".into(),
                };
                (
                    flat.text(l.category).to_string(),
                    l.room.map(|r| flat.text(r).to_string()),
                    l.item,
                    flat.text(l.key).to_string(),
                    value,
                )
            })
            .collect())
    }

    #[test]
    fn flattens_every_leaf_generically() {
        let rows = leaves(
            r#"{"user":"JimmyLoup","api_token":"secret","datetime":"18.08.2023 10:00",
                "plugs":{"Office":{"power":17.5,"switch":true,"total":81983}},
                "doorsWindows":{"Bhroom":[{"type":"Door","switch":"on"},{"type":"window","battery":null}],
                                "Laundry":{"type":"door","switch":"off"}},
                "meteos":{"meteo":{"Livingroom":{"CO2":980}},"Outdoor":{"Temperature":19.6}},
                "extra":5}"#,
        )
        .unwrap();
        let s = |v: &str| v.to_string();
        assert_eq!(
            rows,
            vec![
                (
                    s("datetime"),
                    None,
                    None,
                    s("datetime"),
                    s("'18.08.2023 10:00'")
                ),
                (s("plugs"), Some(s("Office")), None, s("power"), s("17.5")),
                (s("plugs"), Some(s("Office")), None, s("switch"), s("1")),
                (s("plugs"), Some(s("Office")), None, s("total"), s("81983")),
                (
                    s("doorsWindows"),
                    Some(s("Bhroom")),
                    Some(0),
                    s("type"),
                    s("'Door'")
                ),
                (
                    s("doorsWindows"),
                    Some(s("Bhroom")),
                    Some(0),
                    s("switch"),
                    s("'on'")
                ),
                (
                    s("doorsWindows"),
                    Some(s("Bhroom")),
                    Some(1),
                    s("type"),
                    s("'window'")
                ),
                (
                    s("doorsWindows"),
                    Some(s("Bhroom")),
                    Some(1),
                    s("battery"),
                    s("null")
                ),
                (
                    s("doorsWindows"),
                    Some(s("Laundry")),
                    None,
                    s("type"),
                    s("'door'")
                ),
                (
                    s("doorsWindows"),
                    Some(s("Laundry")),
                    None,
                    s("switch"),
                    s("'off'")
                ),
                (s("meteos"), Some(s("Livingroom")), None, s("CO2"), s("980")),
                (
                    s("meteos"),
                    Some(s("Outdoor")),
                    None,
                    s("Temperature"),
                    s("19.6")
                ),
                (s("extra"), None, None, s("extra"), s("5")),
            ]
        );
    }

    #[test]
    fn drops_secret_keys_at_any_depth_and_counts_them() {
        let mut flat = FlatFile::default();
        flatten(
            br#"{"user":"JimmyLoup","api_token":"t0p","Auth":{"Password":"p1"},
                "plugs":{"Office":{"power":5,"apiKey":"k1","nested":{"session_TOKEN":"t2"}},
                         "secret":{"power":1}},
                "extra":[{"credentials":{"a":1}},{"ok":2}]}"#,
            &rules(),
            &mut flat,
        )
        .unwrap();
        let texts: Vec<String> = flat
            .leaves
            .iter()
            .map(|l| flat.text(l.key).to_string())
            .collect();
        assert_eq!(texts, ["power", "ok"]);
        assert_eq!(flat.secrets_dropped, 6);
        let custom = FlattenRules {
            secret_keys: SecretKeys::parse(" Power ,"),
            ..rules()
        };
        flatten(
            br#"{"plugs":{"Office":{"power":5,"total":1}}}"#,
            &custom,
            &mut flat,
        )
        .unwrap();
        assert_eq!((flat.leaves.len(), flat.secrets_dropped), (1, 1));
    }

    #[test]
    fn a_nul_character_quarantines_the_file() {
        for json in [
            r#"{"plugs":{"Office":{"type":"a\u0000b"}}}"#,
            r#"{"plugs":{"Off\u0000ice":{"power":1}}}"#,
        ] {
            let error = leaves(json).unwrap_err();
            assert!(error.contains("NUL character"), "{json}: {error}");
        }
    }

    #[test]
    fn parses_payload_datetime() {
        let mut flat = FlatFile::default();
        flatten(br#"{"datetime":"31.08.2023 21:44"}"#, &rules(), &mut flat).unwrap();
        assert_eq!(flat.payload_ts.unwrap().to_string(), "2023-08-31 21:44:00");
        flatten(br#"{"datetime":"garbage"}"#, &rules(), &mut flat).unwrap();
        assert_eq!(flat.payload_ts, None);
        assert_eq!(flat.leaves.len(), 1);
    }

    #[test]
    fn rejects_bad_files_with_a_reason() {
        let cases = [
            ("", "empty file"),
            ("  \n", "only whitespace"),
            (r#"{"plugs":{"Office":{"power":1"#, "truncated JSON"),
            ("<html>502</html>", "invalid JSON"),
            ("[1,2]", "top level"),
            (r#"{"plugs":"broken"}"#, "category `plugs`"),
            (r#"{"motions":{"Office":true}}"#, "`motions.Office`"),
            (r#"{"datetime":202308181000}"#, "`datetime`"),
            (r#"{"a":1} trailing"#, "trailing characters"),
        ];
        for (json, expected) in cases {
            let error = leaves(json).unwrap_err();
            assert!(error.contains(expected), "{json:?} gave {error:?}");
        }
    }

    #[test]
    fn a_failed_file_leaves_nothing_behind() {
        let mut flat = FlatFile::default();
        assert!(
            flatten(
                br#"{"plugs":{"Office":{"power":1}},"motions":5}"#,
                &rules(),
                &mut flat
            )
            .is_err()
        );
        assert!(flat.leaves.is_empty());
    }
}
