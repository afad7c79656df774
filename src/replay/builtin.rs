//! Scenarios compiled into the binary, replayable as `-w builtin:NAME` and listed by
//! `asb scenarios`, so a new user has real traffic to replay in their first minute.
//! The files live under `scenarios/` in the repository (see its README for provenance).

/// One built-in scenario: AgenticSwarmBench (the original asb)'s layout (a `scenario.json`
/// manifest plus one JSONL recording per task), each file embedded by name.
pub(crate) struct Builtin {
    pub name: &'static str,
    pub files: &'static [(&'static str, &'static str)],
}

impl Builtin {
    /// The embedded file `name`, if the scenario has one.
    pub(crate) fn file(&self, name: &str) -> Option<&'static str> {
        self.files.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
    }
}

macro_rules! builtin {
    ($name:literal: $($file:literal),+ $(,)?) => {
        Builtin {
            name: $name,
            files: &[$(($file, include_str!(concat!("../../scenarios/", $name, "/", $file)))),+],
        }
    };
}

/// Every built-in scenario, in the order `asb scenarios` lists them.
pub(crate) const BUILTINS: &[Builtin] = &[
    builtin!("claude-code-smollm2": "scenario.json", "session.jsonl"),
    builtin!("codex-smollm2": "scenario.json", "session.jsonl"),
    builtin!("trivial-qa":
        "scenario.json",
        "capital-of-france.jsonl",
        "largest-planet.jsonl",
        "boiling-point.jsonl",
        "speed-of-light.jsonl",
        "binary-to-decimal.jsonl",
    ),
];

/// The scenario `asb replay` runs when no `-w` is given: a real Claude Code session.
pub(crate) const DEFAULT: &str = "claude-code-smollm2";

pub(crate) fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// The names, comma separated, for error messages.
pub(crate) fn names() -> String {
    BUILTINS.iter().map(|b| b.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_has_a_manifest_naming_embedded_files() {
        for b in BUILTINS {
            let manifest: serde_json::Value = serde_json::from_str(b.file("scenario.json").unwrap()).unwrap();
            for task in manifest["tasks"].as_array().unwrap() {
                let file = task["recording"].as_str().unwrap();
                assert!(b.file(file).is_some(), "{}: {file} is not embedded", b.name);
            }
        }
        assert!(find(DEFAULT).is_some());
    }
}
