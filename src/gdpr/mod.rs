//! The rights of the data subjects (SPEC §8, the seed's GDPR section): a resident's apartment is
//! the unit of personal data. `subject` finds an apartment's rows in any lake table (by listing
//! the tables and their columns, never by a list of names); `export` writes them out for the
//! right of access and portability, `erase` removes them for good (the right to erasure).

pub mod erase;
pub mod export;
pub mod subject;

pub use erase::erase_subject;
pub use export::{Manifest, export};
