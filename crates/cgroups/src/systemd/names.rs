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

/// runc's systemd form of a cgroupsPath, "slice:prefix:name": the unit "prefix-name.scope"
/// (or "name.scope" without a prefix) in "slice" (empty: system.slice). An empty path means
/// ":rt:ID". A name ending in ".slice" (runc puts the container in that slice itself) is
/// refused: systemd accepts no processes in a slice it starts. Returns (slice, unit).
pub fn parse_cgroups_path(text: &str, id: &str) -> Result<(String, String)> {
    let bad = |reason: &str| Error::Placement(reason.to_string());
    let (slice, prefix, name) = if text.is_empty() {
        ("", crate::placement::DEFAULT_PREFIX, id)
    } else {
        let parts: Vec<&str> = text.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(bad(
                "expected \"slice:prefix:name\" with the systemd cgroup driver",
            ));
        };
        (slice, prefix, name)
    };
    if name.is_empty() {
        return Err(bad("the name part is empty"));
    }
    if name.ends_with(".slice") {
        return Err(bad(
            "a slice as the container's unit is not supported; name a scope",
        ));
    }
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    expand_slice(slice)?;
    let unit = if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    validate_unit_name(&unit)?;
    Ok((slice.to_string(), unit))
}

#[cfg(test)]
mod cgroups_path_tests {
    use super::*;

    fn ok(p: &str) -> (String, String) {
        parse_cgroups_path(p, "abc").unwrap()
    }

    fn s(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    #[test]
    fn runc_forms() {
        assert_eq!(ok("system.slice:rt:abc"), s("system.slice", "rt-abc.scope"));
        assert_eq!(ok(""), s("system.slice", "rt-abc.scope"));
        assert_eq!(ok(":libpod:xyz"), s("system.slice", "libpod-xyz.scope"));
        assert_eq!(ok("machine.slice::xyz"), s("machine.slice", "xyz.scope"));
        assert_eq!(ok("a-b.slice:p:n"), s("a-b.slice", "p-n.scope"));
        for bad in [
            "/rt/abc",
            "system.slice:rt",
            "a:b:c:d",
            "system:rt:abc",
            "a--b.slice:rt:abc",
            "system.slice:rt:",
            "system.slice:rt:x.slice",
            "system.slice:r/t:abc",
        ] {
            assert!(parse_cgroups_path(bad, "abc").is_err(), "{bad}");
        }
    }
}
