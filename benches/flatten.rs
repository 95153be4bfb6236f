//! Throughput of the bronze leaf flattener on generated sensor files (files/s and MB/s).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datacycle::bronze::flatten::{FlatFile, FlattenRules, flatten};
use datacycle::generate::{GenerateOptions, generate};

fn sample_files() -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut options = GenerateOptions::new(dir.path().join("set"));
    options.days = 1;
    options.weather_sites = 1;
    let generated = generate(&options).expect("generate");
    let mut files: Vec<_> = std::fs::read_dir(&generated.smb)
        .expect("smb dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files.truncate(2000);
    files
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect()
}

fn bench_flatten(c: &mut Criterion) {
    let files = sample_files();
    let bytes: usize = files.iter().map(Vec::len).sum();
    let rules = FlattenRules {
        categories: datacycle::catalog::reference::sensor_categories(None)
            .expect("built-in field map"),
        ..FlattenRules::default()
    };
    let mut group = c.benchmark_group("flatten");
    group.throughput(Throughput::Elements(files.len() as u64));
    group.bench_function("files", |b| {
        let mut flat = FlatFile::default();
        b.iter(|| {
            let mut leaves = 0;
            for file in &files {
                if flatten(file, &rules, &mut flat).is_ok() {
                    leaves += flat.leaves.len();
                }
            }
            leaves
        })
    });
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("bytes", |b| {
        let mut flat = FlatFile::default();
        b.iter(|| {
            for file in &files {
                let _ = flatten(file, &rules, &mut flat);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_flatten);
criterion_main!(benches);
