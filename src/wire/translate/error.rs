//! Why a request could not be translated, always naming the offending field with a JSON
//! path such as `messages[2].content[0]`, so the proxy can answer the client with a
//! useful `invalid_request_error`.

/// A request body the translator cannot turn into a valid Chat Completions body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TranslateError {
    /// A required field is absent (or `null`).
    #[error("{field}: missing")]
    Missing { field: String },
    /// A field has the wrong JSON type.
    #[error("{field}: expected {expected}")]
    WrongType { field: String, expected: &'static str },
    /// A field is present and well-typed but its value cannot be translated.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
}

impl TranslateError {
    pub(crate) fn missing(field: impl Into<String>) -> Self {
        TranslateError::Missing { field: field.into() }
    }

    pub(crate) fn wrong_type(field: impl Into<String>, expected: &'static str) -> Self {
        TranslateError::WrongType { field: field.into(), expected }
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        TranslateError::Invalid { field: field.into(), reason: reason.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_field() {
        let err = TranslateError::invalid("messages[2].content[0]", "tool_result without tool_use_id");
        assert_eq!(err.to_string(), "messages[2].content[0]: tool_result without tool_use_id");
        assert_eq!(TranslateError::missing("model").to_string(), "model: missing");
        assert_eq!(TranslateError::wrong_type("messages", "an array").to_string(), "messages: expected an array");
    }
}
