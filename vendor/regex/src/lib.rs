//! The part of the `regex` API that rt's dependencies use, served by `regex-lite`.
//!
//! oci-spec validates `process.execCPUAffinity` with `Regex::new(..).is_match(..)`; the full
//! regex engine made up a third of rt's binary (about 1 MB of 3) and of its resident text.
//! The workspace patches `regex` with this crate (see the root Cargo.toml); regex-lite has the
//! same API for this use (ASCII `\d`, which is what a CPU list is made of).

pub use regex_lite::{Error, Regex, RegexBuilder};

#[cfg(test)]
mod tests {
    use super::Regex;

    #[test]
    fn matches_cpu_lists_as_oci_spec_uses_it() {
        let re = Regex::new(r"^(\d+(-\d+)?)(,\d+(-\d+)?)*$").unwrap();
        assert!(re.is_match("0-3,5,7-8"));
        assert!(!re.is_match("0-3,"));
    }
}
