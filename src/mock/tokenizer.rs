//! The mock's token rule: a tiny, documented pre-tokenizer used for prompts *and* outputs,
//! so every count the mock reports can be recomputed by hand (docs/mock.md).
//!
//! Rule, applied left to right over the text:
//! 1. a run of whitespace is glued to the token that follows it (like a BPE leading space);
//! 2. a run of letters or digits is cut into pieces of at most four characters, each a token;
//! 3. every other character is a token of its own.
//!
//! Trailing whitespace with nothing after it is one token.

/// Splits `text` into tokens (borrowed slices that concatenate back to `text`).
pub(crate) fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::with_capacity(text.len() / 3 + 1);
    for_each_token(text, |t| out.push(t));
    out
}

/// Counts tokens without allocating.
pub(crate) fn count(text: &str) -> usize {
    let mut n = 0;
    for_each_token(text, |_| n += 1);
    n
}

/// Walks the token boundaries of `text`, calling `emit` with each token.
fn for_each_token<'a>(text: &'a str, mut emit: impl FnMut(&'a str)) {
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, first)) = chars.peek() {
        // Rule 1: leading whitespace belongs to the next token.
        let mut c = first;
        while c.is_whitespace() {
            chars.next();
            match chars.peek() {
                Some(&(_, next)) => c = next,
                None => {
                    emit(&text[start..]);
                    return;
                }
            }
        }
        if c.is_alphanumeric() {
            // Rule 2: up to four letters or digits.
            let mut taken = 0;
            while let Some(&(_, ch)) = chars.peek() {
                if !ch.is_alphanumeric() || taken == 4 {
                    break;
                }
                chars.next();
                taken += 1;
            }
        } else {
            // Rule 3: any other character alone.
            chars.next();
        }
        let end = chars.peek().map_or(text.len(), |&(i, _)| i);
        emit(&text[start..end]);
    }
}

/// Words the mock writes its answers with; each is exactly one token under the rule above,
/// and any concatenation of them tokenizes back into the same pieces.
pub(crate) const VOCABULARY: &[&str] = &[
    " the", " code", " test", " file", " data", " run", " fix", " line", " call", " tool", " load", " plan", " step",
    " next", " then", " we", " it", " is", " to", " and", " for", " with", " this", " that", " read", " edit", " add",
    " type", " path", " main", " loop", " sum", " out", " err", " ok", " one", " two", " new", " old", " key", ",",
    ".",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_examples() {
        assert_eq!(tokens("Hello, world!"), vec!["Hell", "o", ",", " worl", "d", "!"]);
        assert_eq!(tokens("  a1b2c3  "), vec!["  a1b2", "c3", "  "]);
        assert_eq!(tokens(""), Vec::<&str>::new());
        assert_eq!(tokens("{\"x\": 12}"), vec!["{", "\"", "x", "\"", ":", " 12", "}"]);
        assert_eq!(tokens("héllo wörld"), vec!["héll", "o", " wörl", "d"]);
        assert_eq!(count("one two three"), 4);
    }

    #[test]
    fn tokens_concatenate_back() {
        let text = "fn main() {\n    println!(\"hi\");\n}\n\n";
        assert_eq!(tokens(text).concat(), text);
    }

    #[test]
    fn vocabulary_words_are_single_self_delimiting_tokens() {
        for w in VOCABULARY {
            assert_eq!(count(w), 1, "{w:?}");
        }
        let text: String = VOCABULARY.iter().chain(VOCABULARY.iter().rev()).copied().collect();
        assert_eq!(count(&text), 2 * VOCABULARY.len());
    }
}
