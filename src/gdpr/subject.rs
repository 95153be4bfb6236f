//! Which rows of a table belong to one apartment. A table holds per-apartment data when it has
//! one of the apartment columns of the lake: `apartment` (landing, bronze, silver, ML), or
//! `apartment_id` / `apartment_key` (the gold star schema, whose keys `gold.dim_apartment` maps).

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Int64Type, Schema};
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::{Expr, col, lit};

use crate::catalog::keys::surrogate_key_of;
use crate::error::Result;
use crate::lake::{LakeError, LakeSession, TableRef, table_reference};

/// The column a table names its apartment in, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApartmentColumn {
    /// The apartment's name (`jimmy`).
    Apartment,
    /// The same name in gold dimensions.
    ApartmentId,
    /// Its surrogate key in gold facts.
    ApartmentKey,
}

impl ApartmentColumn {
    pub fn name(self) -> &'static str {
        match self {
            Self::Apartment => "apartment",
            Self::ApartmentId => "apartment_id",
            Self::ApartmentKey => "apartment_key",
        }
    }

    /// The apartment column of a table with `schema`; `None`: no per-apartment data.
    pub fn of(schema: &Schema) -> Option<Self> {
        [Self::Apartment, Self::ApartmentId, Self::ApartmentKey]
            .into_iter()
            .find(|c| schema.field_with_name(c.name()).is_ok())
    }
}

/// One apartment as the tables name it.
#[derive(Debug, Clone)]
pub struct Subject {
    pub apartment: String,
    /// Its `apartment_key`s: the one gold derives from its name and any other
    /// `gold.dim_apartment` gives it.
    pub keys: Vec<i64>,
}

impl Subject {
    pub async fn find(session: &LakeSession, apartment: &str) -> Result<Self> {
        // Gold derives the key from the name alone; the dimension may no longer hold it (an
        // erasure interrupted after gold), older files still do.
        let mut keys = vec![surrogate_key_of([apartment])];
        let dimension = TableRef::gold("dim_apartment");
        if session.has_table(&dimension) {
            let batches = session
                .ctx()
                .table(table_reference(&dimension))
                .await
                .and_then(|t| t.filter(col("apartment_id").eq(lit(apartment))))
                .and_then(|t| t.select_columns(&["apartment_key"]))
                .map_err(LakeError::from)?
                .collect()
                .await
                .map_err(LakeError::from)?;
            for batch in batches {
                let column = batch.column(0).as_primitive::<Int64Type>();
                keys.extend(
                    (0..column.len())
                        .filter(|i| column.is_valid(*i))
                        .map(|i| column.value(i)),
                );
            }
        }
        keys.sort_unstable();
        keys.dedup();
        Ok(Self {
            apartment: apartment.to_string(),
            keys,
        })
    }

    /// The rows of this apartment in `table` (its current version in `session`), and the column
    /// that says so; `None` when the table holds no per-apartment data.
    pub async fn rows(
        &self,
        session: &LakeSession,
        table: &TableRef,
    ) -> Result<Option<(DataFrame, ApartmentColumn)>> {
        let frame = session
            .ctx()
            .table(table_reference(table))
            .await
            .map_err(LakeError::from)?;
        let Some(column) = ApartmentColumn::of(frame.schema().as_arrow()) else {
            return Ok(None);
        };
        let rows = frame
            .filter(self.predicate(column))
            .map_err(LakeError::from)?;
        Ok(Some((rows, column)))
    }

    /// The predicate on `column` that selects this apartment's rows.
    pub fn predicate(&self, column: ApartmentColumn) -> Expr {
        match column {
            ApartmentColumn::Apartment | ApartmentColumn::ApartmentId => {
                col(column.name()).eq(lit(self.apartment.as_str()))
            }
            ApartmentColumn::ApartmentKey => {
                col(column.name()).in_list(self.keys.iter().map(|k| lit(*k)).collect(), false)
            }
        }
    }
}
