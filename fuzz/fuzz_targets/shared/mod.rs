//! Checks several fuzz targets share (`mod shared;` in each; not a target itself).
#![allow(dead_code, reason = "each target uses some of these")]

/// No 16-byte window of `input` (other than PEM armour lines) may appear in `out`: a key or
/// token given as input is never echoed in an error or `Debug`.
pub fn check_not_echoed(input: &str, out: &str) {
    let body: String = input
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    let bytes = body.as_bytes();
    if bytes.len() < 16 {
        return;
    }
    for start in (0..=bytes.len() - 16).step_by(8) {
        if let Ok(window) = std::str::from_utf8(&bytes[start..start + 16]) {
            if window.trim().len() == 16 && !window.contains(char::is_whitespace) {
                assert!(!out.contains(window), "input echoed: {out}");
            }
        }
    }
}

/// The values of `access_token` and `refresh_token` in a JSON object `body`, when they are
/// plain enough to search for in printed output: at least 8 alphanumerics, written without
/// escapes and appearing exactly once in the body (so no other member can carry them).
pub fn plain_secrets(body: &[u8]) -> Vec<String> {
    plain_members(body, &["access_token", "refresh_token"])
}

/// [`plain_secrets`] for the members `names` of a JSON object body.
pub fn plain_members(body: &[u8], names: &[&str]) -> Vec<String> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Vec::new();
    };
    let Ok(serde_json::Value::Object(members)) = serde_json::from_str(text) else {
        return Vec::new();
    };
    names
        .iter()
        .copied()
        .filter_map(|name| members.get(name)?.as_str())
        .filter(|v| {
            v.len() >= 8
                && v.bytes().all(|b| b.is_ascii_alphanumeric())
                && text.matches(*v).count() == 1
        })
        .map(str::to_owned)
        .collect()
}
