//! PASS/FAIL lines (one per check, as the other tiers print them) and what each handler's flow
//! observed, for the comparison of rt with runc.

use std::collections::BTreeMap;
use std::fmt::Display;

pub struct Checks {
    handler: String,
    /// What the PASS/FAIL lines start with.
    label: String,
    pub passed: usize,
    pub failed: Vec<String>,
    /// What the CRI reported, by check name: the same keys must hold the same values for
    /// every handler.
    pub observed: BTreeMap<String, String>,
}

impl Checks {
    pub fn new(handler: &str, label: &str) -> Self {
        Checks {
            handler: handler.to_string(),
            label: label.to_string(),
            passed: 0,
            failed: Vec::new(),
            observed: BTreeMap::new(),
        }
    }

    pub fn pass(&mut self, name: &str) {
        self.passed += 1;
        println!("PASS {}/{}", self.label, name.replace('\n', "|"));
    }

    pub fn fail(&mut self, name: &str, why: impl Display) {
        let why = why.to_string();
        let why: String = why.chars().take(800).collect();
        println!("FAIL {}/{name}: {}", self.label, why.replace('\n', "|"));
        self.failed.push(name.to_string());
    }

    /// PASS when OK, else FAIL with WHY (computed only then).
    pub fn check(&mut self, name: &str, ok: bool, why: impl FnOnce() -> String) {
        if ok {
            self.pass(name);
        } else {
            self.fail(name, why());
        }
    }

    /// Checks ACTUAL == EXPECTED, and records ACTUAL for the comparison of handlers.
    pub fn expect_eq(&mut self, name: &str, expected: impl Display, actual: impl Display) {
        let (expected, actual) = (expected.to_string(), actual.to_string());
        self.observe(name, &actual);
        self.check(name, expected == actual, || {
            format!("expected [{expected}], got [{actual}]")
        });
    }

    /// Checks that ACTUAL contains NEEDLE, and records whether it did.
    pub fn expect_contains(&mut self, name: &str, needle: &str, actual: &str) {
        let found = actual.contains(needle);
        self.observe(name, format!("found: {found}"));
        self.check(name, found, || format!("no {needle:?} in [{actual}]"));
    }

    /// Records a value for the comparison only (no PASS/FAIL of its own). The handler's name,
    /// where it is a word of its own (the pod "rt-cni"), reads HANDLER.
    pub fn observe(&mut self, key: &str, value: impl Display) {
        let value = value.to_string();
        let value = if self.handler.is_empty() {
            value
        } else {
            without_word(&value, &self.handler)
        };
        self.observed.insert(key.to_string(), value);
    }
}

/// TEXT with every WORD that is not part of a longer alphanumeric word replaced by HANDLER.
fn without_word(text: &str, word: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + word.len()..].chars().next();
        let alone =
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric);
        out.push_str(&rest[..at]);
        out.push_str(if alone { "HANDLER" } else { word });
        rest = &rest[at + word.len()..];
    }
    out + rest
}

#[cfg(test)]
mod tests {
    use super::without_word;

    #[test]
    fn the_handler_name_alone_is_replaced() {
        assert_eq!(without_word("rt-cni", "rt"), "HANDLER-cni");
        assert_eq!(
            without_word("started|attached-rt", "rt"),
            "started|attached-HANDLER"
        );
        assert_eq!(without_word("rt", "rt"), "HANDLER");
        assert_eq!(
            without_word("CONTAINER_STARTED", "runc"),
            "CONTAINER_STARTED"
        );
    }
}
