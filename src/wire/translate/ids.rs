//! Ids the translator has to invent when the upstream gives none.
//!
//! Anthropic message ids start with `msg_`, tool-use ids with `toolu_`; clients only
//! compare them for equality (a `tool_result.tool_use_id` must match its `tool_use.id`),
//! so 24 random hex digits after the prefix are enough.

/// A fresh `msg_` + 24 hex digits id.
pub(crate) fn generate_message_id() -> String {
    format!("msg_{}", random_hex24())
}

/// A fresh `toolu_` + 24 hex digits id.
pub(crate) fn generate_tool_use_id() -> String {
    format!("toolu_{}", random_hex24())
}

/// 96 random bits as 24 lowercase hex digits.
fn random_hex24() -> String {
    format!("{:024x}", rand::random::<u128>() >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_anthropic_prefix_and_24_hex_digits() {
        let msg = generate_message_id();
        let tool = generate_tool_use_id();
        let msg_hex = msg.strip_prefix("msg_").unwrap();
        let tool_hex = tool.strip_prefix("toolu_").unwrap();
        for hex in [msg_hex, tool_hex] {
            assert_eq!(hex.len(), 24);
            assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
        }
        assert_ne!(generate_message_id(), msg);
    }
}
