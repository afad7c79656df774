//! How asb spells values for people: numbers, durations, token counts and dates
//! ([`number`]), and texts cut or wrapped to a width ([`text`]). Every command's terminal
//! output and every replay report (console, Markdown, HTML, comparison) spell through here,
//! so the same value reads the same way everywhere. Missing values are `-`; non-finite
//! ones `?`.

pub(crate) mod number;
pub(crate) mod text;

pub(crate) use number::{
    approx_tokens, count, duration_ms, itl, num, opt, percent, rate0, rate1, ratio, seconds, tokens, NONE,
};
pub(crate) use text::{cut, cut_left, date, excerpt, plural, wrap};
