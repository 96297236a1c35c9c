//! systemd unit names and where their cgroups live.

use crate::error::{Error, Result};

fn invalid(name: &str, reason: &'static str) -> Error {
    Error::InvalidPath {
        path: name.to_string(),
        reason,
    }
}

/// The cgroup path of a slice, as systemd lays slices out: "a-b-c.slice" is
/// "/a.slice/a-b.slice/a-b-c.slice", "-.slice" is "/" (runc's ExpandSlice).
pub fn expand_slice(slice: &str) -> Result<String> {
    let name = slice
        .strip_suffix(".slice")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid(slice, "a slice name must end in .slice"))?;
    if slice.contains('/') {
        return Err(invalid(slice, "a slice name cannot contain '/'"));
    }
    validate_unit_name(slice)?;
    if name == "-" {
        return Ok("/".to_string());
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for component in name.split('-') {
        if component.is_empty() {
            return Err(invalid(
                slice,
                "empty component in slice name (\"--\", leading or trailing '-')",
            ));
        }
        path.push('/');
        path.push_str(&prefix);
        path.push_str(component);
        path.push_str(".slice");
        prefix.push_str(component);
        prefix.push('-');
    }
    Ok(path)
}

/// A valid systemd unit name: 1-255 characters of [A-Za-z0-9:_.\-@] with a type suffix.
pub fn validate_unit_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 255 {
        return Err(invalid(name, "a unit name has 1 to 255 characters"));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || ":_.-@\\".contains(c);
    if !name.chars().all(ok) {
        return Err(invalid(
            name,
            "a unit name has only letters, digits and \":_.-@\\\"",
        ));
    }
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => Ok(()),
        _ => Err(invalid(name, "a unit name needs a type suffix like .scope")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices() {
        assert_eq!(expand_slice("-.slice").unwrap(), "/");
        assert_eq!(expand_slice("system.slice").unwrap(), "/system.slice");
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            "/a.slice/a-b.slice/a-b-c.slice"
        );
        for bad in [
            "",
            ".slice",
            "a",
            "a.scope",
            "a--b.slice",
            "-a.slice",
            "a-.slice",
            "a/b.slice",
            "a b.slice",
        ] {
            assert!(expand_slice(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unit_names() {
        assert!(validate_unit_name("rt-abc_1.2@x.scope").is_ok());
        assert!(validate_unit_name("noext").is_err());
        assert!(validate_unit_name(".scope").is_err());
        assert!(validate_unit_name(&format!("{}.scope", "a".repeat(250))).is_err());
        assert!(validate_unit_name("a/b.scope").is_err());
    }
}
