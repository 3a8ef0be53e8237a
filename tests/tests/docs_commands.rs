//! The `cargo run` commands the documentation gives a newcomer each name something cargo can
//! run: the package exists, and without `--bin` it has one binary or a `default-run`; a
//! named `--bin` or `--example` is one of the package's targets. (A package that gains a
//! second binary otherwise breaks the README's commands with "could not determine which
//! binary to run".)

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// What cargo knows of a workspace package's runnable targets.
#[derive(Debug, Default)]
struct Runnable {
    bins: Vec<String>,
    examples: Vec<String>,
    default_run: Option<String>,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

fn runnable_packages(root: &Path) -> HashMap<String, Runnable> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata's JSON");
    let mut packages = HashMap::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let mut runnable = Runnable {
            default_run: package["default_run"].as_str().map(str::to_owned),
            ..Runnable::default()
        };
        for target in package["targets"].as_array().expect("targets") {
            let name = target["name"].as_str().expect("target name").to_owned();
            let kinds = target["kind"].as_array().expect("target kinds");
            if kinds.iter().any(|kind| kind == "bin") {
                runnable.bins.push(name);
            } else if kinds.iter().any(|kind| kind == "example") {
                runnable.examples.push(name);
            }
        }
        let name = package["name"].as_str().expect("package name").to_owned();
        packages.insert(name, runnable);
    }
    packages
}

/// The options of every `cargo run` on `line`, up to the program's own arguments (`--`) or
/// the end of the shell command.
fn cargo_runs(line: &str) -> Vec<Vec<String>> {
    line.match_indices("cargo run")
        .map(|(at, _)| {
            line[at + "cargo run".len()..]
                .split_whitespace()
                .take_while(|word| {
                    !["--", "&", "&&", "|", ";", "#"].contains(word) && !word.starts_with('`')
                })
                .map(|word| word.trim_end_matches('`').to_owned())
                .collect()
        })
        .collect()
}

fn option<'a>(words: &'a [String], name: &str) -> Option<&'a str> {
    let at = words.iter().position(|word| word == name)?;
    words.get(at + 1).map(String::as_str)
}

/// Why `words` (the options of one `cargo run`) would not run, if they would not.
fn check(words: &[String], packages: &HashMap<String, Runnable>) -> Option<String> {
    let package = option(words, "-p").or_else(|| option(words, "--package"))?;
    let Some(runnable) = packages.get(package) else {
        return Some(format!("no package {package} in the workspace"));
    };
    if let Some(bin) = option(words, "--bin") {
        return (!runnable.bins.iter().any(|b| b == bin))
            .then(|| format!("{package} has no binary {bin} (it has {:?})", runnable.bins));
    }
    if let Some(example) = option(words, "--example") {
        return (!runnable.examples.iter().any(|e| e == example))
            .then(|| format!("{package} has no example {example}"));
    }
    match (runnable.bins.len(), &runnable.default_run) {
        (1, _) | (_, Some(_)) => None,
        (bins, None) => Some(format!(
            "{package} has {bins} binaries and no default-run: name one with --bin"
        )),
    }
}

#[test]
fn every_documented_cargo_run_names_something_to_run() {
    let root = workspace_root();
    let packages = runnable_packages(&root);
    let docs = [
        "README.md",
        "ARCHITECTURE.md",
        "BENCHMARKS.md",
        "PROTOCOL.md",
        "RELIABILITY.md",
        "SECURITY.md",
        "examples/python/README.md",
    ];
    let (mut commands, mut broken) = (0, Vec::new());
    for doc in docs {
        let text = std::fs::read_to_string(root.join(doc)).expect("the document exists");
        for (number, line) in text.lines().enumerate() {
            for words in cargo_runs(line) {
                commands += 1;
                if let Some(why) = check(&words, &packages) {
                    broken.push(format!("{doc}:{}: {why}", number + 1));
                }
            }
        }
    }
    assert!(commands >= 5, "found only {commands} `cargo run` commands");
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn a_package_with_two_binaries_needs_a_name_or_a_default() {
    let two = Runnable {
        bins: vec!["a".into(), "b".into()],
        ..Runnable::default()
    };
    let packages = HashMap::from([("p".to_owned(), two)]);
    let words = |line: &str| cargo_runs(line).remove(0);
    assert!(check(&words("cargo run --release -p p -- --bots 2"), &packages).is_some());
    assert!(check(&words("cargo run -p p --bin b &"), &packages).is_none());
    assert!(check(&words("cargo run -p p --bin c"), &packages).is_some());
    assert!(check(&words("cargo run -p q"), &packages).is_some());
}
