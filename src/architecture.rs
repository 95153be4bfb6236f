//! The layer rule, checked: every module of `src/` uses only the layers below its own (see
//! `docs/architecture.md`). The test reads the sources, so a `use crate::…` that reaches up, or
//! sideways into a peer of the same rank, fails the unit tests with the file and the path.

use std::path::{Path, PathBuf};

/// The layers from the bottom up; modules of one rank may not use each other.
const LAYERS: &[&[&str]] = &[
    &["ops"],
    &["config"],
    &["lake"],
    &["catalog"],
    &["sources", "generate"],
    &["bronze"],
    &["transform"],
    &["ml"],
    &["publish"],
    &["error"],
    &["gdpr"],
    &["schedule"],
    &["cli"],
];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// One use of a module that its layer may not use.
#[derive(Debug, PartialEq, Eq)]
struct Violation {
    file: String,
    from: String,
    to: String,
}

/// The top-level modules `source` (the text of a file `depth` modules below the crate root)
/// names through `crate::` or through `super::` chains that reach the root. `crate::Error` and
/// `crate::Result` are the re-exports of `error`.
fn used_modules(source: &str, depth: usize) -> Vec<String> {
    let code: String = source
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut used = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = [rest.find("crate::"), rest.find("super::")]
        .into_iter()
        .flatten()
        .min()
    {
        // `foo_crate::` is another crate's path.
        let standalone = !rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let mut tail = &rest[at..];
        let reaches_root = if let Some(after) = tail.strip_prefix("crate::") {
            tail = after;
            true
        } else {
            let mut ups = 0;
            while let Some(after) = tail.strip_prefix("super::") {
                ups += 1;
                tail = after;
            }
            ups >= depth
        };
        rest = tail;
        if standalone && reaches_root {
            used.extend(
                leading_names(tail)
                    .into_iter()
                    .map(|name| match name.as_str() {
                        "Error" | "Result" => "error".to_string(),
                        _ => name,
                    }),
            );
        }
    }
    used
}

/// The first path segment of `tail`, or of each item of a `{…}` group.
fn leading_names(tail: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(group) = tail.strip_prefix('{') else {
        return vec![ident(tail)];
    };
    let mut names = Vec::new();
    let mut depth = 0;
    let mut item_start = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                names.push(ident(&group[item_start..i]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                names.push(ident(&group[item_start..i]));
                item_start = i + 1;
            }
            _ => {}
        }
    }
    names.retain(|n| !n.is_empty());
    names
}

/// The violations of the layer rule in the text of one file.
fn check_file(file: &str, module: &str, depth: usize, source: &str) -> Vec<Violation> {
    let Some(own) = rank(module) else {
        return vec![Violation {
            file: file.into(),
            from: module.into(),
            to: "(module not in LAYERS)".into(),
        }];
    };
    used_modules(source, depth)
        .into_iter()
        // `super::*` of an inline test module is its own file's items, not the crate root.
        .filter(|used| used != module && !used.is_empty())
        .filter(|used| rank(used).is_none_or(|r| r >= own))
        .map(|used| Violation {
            file: file.into(),
            from: module.into(),
            to: used,
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("src entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for path in &files {
        let relative = path.strip_prefix(&src).expect("below src");
        let parts: Vec<String> = relative
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let module = parts[0].trim_end_matches(".rs").to_string();
        if ["lib", "main", "architecture"].contains(&module.as_str()) {
            continue;
        }
        // `a/b.rs` is module `a::b` (two `super::` reach the root), `a/mod.rs` and `a.rs` one.
        let depth = parts.len() - usize::from(parts.last().is_some_and(|p| p == "mod.rs"));
        let source = std::fs::read_to_string(path).expect("readable source");
        violations.extend(check_file(
            &relative.display().to_string(),
            &module,
            depth,
            &source,
        ));
    }
    assert!(
        violations.is_empty(),
        "imports against the layer order {LAYERS:?}:\n{}",
        violations
            .iter()
            .map(|v| format!("  {}: {} uses {}", v.file, v.from, v.to))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn upward_and_sideways_imports_are_found() {
    let lake = "use crate::ops::exit;\nuse crate::{lake::x, transform::gold};\n";
    assert_eq!(
        check_file("lake/table.rs", "lake", 2, lake),
        vec![Violation {
            file: "lake/table.rs".into(),
            from: "lake".into(),
            to: "transform".into(),
        }]
    );
    let sources = "fn f() { crate::generate::run(); super::super::bronze::x(); }";
    let found: Vec<String> = check_file("sources/smb.rs", "sources", 2, sources)
        .into_iter()
        .map(|v| v.to)
        .collect();
    assert_eq!(found, ["generate", "bronze"]);
    // Paths inside the module, comments and other crates' paths are not imports.
    let fine = "use super::engine;\n// see crate::cli\nuse object_store::x; let a = my_crate::b;";
    assert!(check_file("bronze/sensors.rs", "bronze", 2, fine).is_empty());
}
