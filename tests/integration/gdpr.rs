//! `gdpr export`: an apartment's rows from every table, found by listing the lake.

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::ParquetReadOptions;
use sha2::{Digest, Sha256};

use crate::common::{TestEnv, generate, temp_dir};

/// The filter a per-apartment table is read with, written independently of the export's code.
fn apartment_filter(columns: &[String], apartment: &str) -> Option<String> {
    let has = |c: &str| columns.iter().any(|x| x == c);
    if has("apartment") {
        Some(format!("apartment = '{apartment}'"))
    } else if has("apartment_id") {
        Some(format!("apartment_id = '{apartment}'"))
    } else if has("apartment_key") {
        Some(format!(
            "apartment_key IN (SELECT apartment_key FROM gold.dim_apartment \
             WHERE apartment_id = '{apartment}')"
        ))
    } else {
        None
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_holds_exactly_the_apartments_rows_of_every_table_with_digests() {
    let sources = temp_dir();
    let generated = generate(sources.path(), 1, 2);
    let env = TestEnv::new().with_sources(&generated);
    env.run(&["rebuild"]);
    let out = env.dir.path().join("export-jeremie");
    env.run(&[
        "gdpr",
        "export",
        "--apartment",
        "jeremie",
        "--out",
        &out.to_string_lossy(),
    ]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["apartment"], "jeremie");
    assert!(manifest["time_range"]["from"].is_string(), "{manifest}");

    // Every file the manifest names has the digest it says, and nothing else was written.
    let mut named = vec![out.join("manifest.json")];
    let tables = manifest["tables"].as_array().unwrap();
    let files = tables
        .iter()
        .flat_map(|t| t["files"].as_array().unwrap())
        .chain(manifest["landing_files"].as_array().unwrap());
    for file in files {
        let path = out.join(file["path"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            file["sha256"],
            hex::encode(Sha256::digest(&bytes)),
            "{file}"
        );
        assert_eq!(file["bytes"], bytes.len() as u64);
        named.push(path);
    }
    let mut written = crate::common::walk(&out);
    written.sort();
    named.sort();
    assert_eq!(written, named);

    // Landing files are the share's files, byte for byte.
    let landing = manifest["landing_files"].as_array().unwrap();
    let landed = env
        .count("SELECT count(*) FROM landing.sensor_files WHERE apartment = 'jeremie'")
        .await;
    assert_eq!(landing.len() as i64, landed);
    for file in landing {
        let path = out.join(file["path"].as_str().unwrap());
        let on_share = generated.smb.join(path.file_name().unwrap());
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(on_share).unwrap()
        );
    }

    // Every table of the lake with an apartment column is in the export with exactly the rows a
    // query of its own returns.
    let session = env.session().await;
    let ctx = session.ctx();
    let mut checked = 0;
    for table in session.lake().list_tables().await.unwrap() {
        let name = table.to_string();
        let columns: Vec<String> = ctx
            .table(name.as_str())
            .await
            .unwrap()
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let Some(filter) = apartment_filter(&columns, "jeremie") else {
            assert!(
                !tables.iter().any(|t| t["table"] == name),
                "{name} has no apartment"
            );
            continue;
        };
        let expected = env
            .count(&format!("SELECT count(*) FROM {name} WHERE {filter}"))
            .await;
        let entry = tables.iter().find(|t| t["table"] == name);
        if expected == 0 {
            assert!(entry.is_none(), "{name}: exported without rows");
            continue;
        }
        let entry = entry.unwrap_or_else(|| panic!("{name} ({expected} rows) is not exported"));
        assert_eq!(entry["rows"], expected, "{name}");
        assert_eq!(
            entry["version"],
            session.registered(&table).unwrap().version,
            "{name}"
        );
        let parquet = out.join(format!("{}/{}.parquet", table.layer.as_str(), table.name));
        let alias = format!("exported_{}_{}", table.layer.as_str(), table.name);
        ctx.register_parquet(
            &alias,
            parquet.to_str().unwrap(),
            ParquetReadOptions::default(),
        )
        .await
        .unwrap();
        let exported_columns: Vec<String> = ctx
            .table(alias.as_str())
            .await
            .unwrap()
            .schema()
            .fields()
            .iter()
            .map(|f| format!("\"{}\"", f.name()))
            .collect();
        let list = exported_columns.join(", ");
        let lake_rows = format!("SELECT {list} FROM {name} WHERE {filter}");
        for difference in [
            format!("SELECT {list} FROM {alias} EXCEPT ALL {lake_rows}"),
            format!("{lake_rows} EXCEPT ALL SELECT {list} FROM {alias}"),
        ] {
            let batches = ctx
                .sql(&format!("SELECT count(*) FROM ({difference})"))
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            let differing = batches[0].column(0).as_primitive::<Int64Type>().value(0);
            assert_eq!(differing, 0, "{name}: {difference}");
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} tables hold jeremie's rows");

    // An export never overwrites, and an apartment without data is an error, not an empty export.
    let again = env
        .command()
        .args(["gdpr", "export", "--apartment", "jeremie", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    let unknown = env
        .command()
        .args(["gdpr", "export", "--apartment", "nobody", "--out"])
        .arg(env.dir.path().join("nobody"))
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(!env.dir.path().join("nobody").exists());
}
