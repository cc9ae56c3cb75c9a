//! A merchant's policy config: a JSON object, size-limited, handed to the policy as text.

/// The largest config accepted.
pub const MAX_CONFIG_BYTES: usize = 64 << 10;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("the policy config is {0} bytes; at most {MAX_CONFIG_BYTES} are allowed")]
    TooLarge(usize),
    #[error("the policy config is not valid JSON: {0}")]
    NotJson(String),
    #[error("the policy config must be a JSON object (`{{…}}`), not {0}")]
    NotAnObject(&'static str),
    #[error(
        "the policy config nests {0} levels deep; at most {max} are allowed",
        max = crate::limits::MAX_JSON_DEPTH
    )]
    TooDeep(usize),
}

/// Checks a config and returns it unchanged.
pub fn validate(text: &str) -> Result<(), ConfigError> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge(text.len()));
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ConfigError::NotJson(e.to_string()))?;
    let depth = crate::limits::json_depth(&value);
    if depth > crate::limits::MAX_JSON_DEPTH {
        return Err(ConfigError::TooDeep(depth));
    }
    match value {
        serde_json::Value::Object(_) => Ok(()),
        serde_json::Value::Array(_) => Err(ConfigError::NotAnObject("an array")),
        serde_json::Value::String(_) => Err(ConfigError::NotAnObject("a string")),
        serde_json::Value::Number(_) => Err(ConfigError::NotAnObject("a number")),
        serde_json::Value::Bool(_) => Err(ConfigError::NotAnObject("a boolean")),
        serde_json::Value::Null => Err(ConfigError::NotAnObject("null")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_objects_pass() {
        assert_eq!(validate(r#"{"tiers":{"gold":10}}"#), Ok(()));
        assert_eq!(validate("[1]"), Err(ConfigError::NotAnObject("an array")));
        assert!(matches!(validate("{"), Err(ConfigError::NotJson(_))));
        let big = format!("{{\"x\":\"{}\"}}", "a".repeat(MAX_CONFIG_BYTES));
        assert!(matches!(validate(&big), Err(ConfigError::TooLarge(_))));
        let deep = format!("{}1{}", "{\"a\":".repeat(40), "}".repeat(40));
        assert_eq!(validate(&deep), Err(ConfigError::TooDeep(40)));
    }
}
