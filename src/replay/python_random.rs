//! A bit-exact port of the part of CPython 3.11's `random.Random` that AgenticSwarmBench
//! (the original asb) uses: MT19937 seeded from a string or a non-negative integer,
//! `getrandbits`, `randint` and `shuffle`.
//!
//! AgenticSwarmBench derives its cache-poison masks from
//! `random.Random(f"poison-{task}-exec-{n}")` and its `random` schedule from
//! `random.Random(seed).shuffle(queue)`; reproducing both draw for draw lets a replay send
//! the same bytes in the same order as an AgenticSwarmBench run.

use sha2::{Digest, Sha512};

/// MT19937 state size in 32-bit words.
const STATE_WORDS: usize = 624;
const SHIFT_WORDS: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// CPython's `random.Random`, restricted to what AgenticSwarmBench calls.
#[derive(Clone)]
pub(crate) struct PythonRandom {
    state: [u32; STATE_WORDS],
    index: usize,
}

impl std::fmt::Debug for PythonRandom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PythonRandom").field("index", &self.index).finish_non_exhaustive()
    }
}

impl PythonRandom {
    /// `random.Random(seed)` for a `str` seed (seed version 2): the integer whose
    /// big-endian bytes are `utf8(seed) ‖ SHA-512(utf8(seed))`.
    pub(crate) fn from_str_seed(seed: &str) -> Self {
        let mut bytes = seed.as_bytes().to_vec();
        bytes.extend_from_slice(&Sha512::digest(seed.as_bytes()));
        Self::from_key(&big_endian_words(&bytes))
    }

    /// `random.Random(seed)` for a non-negative `int` seed.
    pub(crate) fn from_int_seed(seed: u64) -> Self {
        Self::from_key(&big_endian_words(&seed.to_be_bytes()))
    }

    /// MT19937 `init_by_array` on `key` (32-bit words, least significant first).
    fn from_key(key: &[u32]) -> Self {
        let mut rng = Self::from_u32(19_650_218);
        let state = &mut rng.state;
        let key: &[u32] = if key.is_empty() { &[0] } else { key };
        let mut i = 1;
        let mut j = 0;
        for _ in 0..STATE_WORDS.max(key.len()) {
            let previous = state[i - 1];
            // `j` wraps like CPython's `init_key[j] + j` in 32-bit unsigned arithmetic.
            state[i] = (state[i] ^ (previous ^ (previous >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= STATE_WORDS {
                state[0] = state[STATE_WORDS - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..STATE_WORDS - 1 {
            let previous = state[i - 1];
            state[i] = (state[i] ^ (previous ^ (previous >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= STATE_WORDS {
                state[0] = state[STATE_WORDS - 1];
                i = 1;
            }
        }
        state[0] = 0x8000_0000;
        rng
    }

    /// MT19937 `init_genrand`.
    fn from_u32(seed: u32) -> Self {
        let mut state = [0u32; STATE_WORDS];
        state[0] = seed;
        for i in 1..STATE_WORDS {
            let previous = state[i - 1];
            state[i] = 1_812_433_253u32.wrapping_mul(previous ^ (previous >> 30)).wrapping_add(i as u32);
        }
        PythonRandom { state, index: STATE_WORDS }
    }

    /// The next raw 32-bit output (MT19937 `genrand_uint32`).
    fn next_u32(&mut self) -> u32 {
        if self.index >= STATE_WORDS {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn twist(&mut self) {
        let state = &mut self.state;
        for k in 0..STATE_WORDS {
            let y = (state[k] & UPPER_MASK) | (state[(k + 1) % STATE_WORDS] & LOWER_MASK);
            let magnitude = if y & 1 == 1 { MATRIX_A } else { 0 };
            state[k] = state[(k + SHIFT_WORDS) % STATE_WORDS] ^ (y >> 1) ^ magnitude;
        }
        self.index = 0;
    }

    /// `getrandbits(k)`: 32-bit words least significant first, the last one keeping its
    /// top `k mod 32` bits. `k` above 128 is treated as 128 (CPython would return a wider
    /// int); nothing in AgenticSwarmBench asks for more than 65 bits.
    fn getrandbits(&mut self, k: u32) -> u128 {
        let mut remaining = k.min(128);
        let mut value = 0u128;
        let mut shift = 0;
        while remaining > 0 {
            let mut word = self.next_u32();
            if remaining < 32 {
                word >>= 32 - remaining;
            }
            value |= u128::from(word) << shift;
            shift += 32;
            remaining = remaining.saturating_sub(32);
        }
        value
    }

    /// `_randbelow(n)`: a value in `[0, n)` from `getrandbits(bit_length(n))` with
    /// rejection. `n = 0` gives 0 without drawing (CPython would loop forever).
    fn randbelow(&mut self, n: u128) -> u128 {
        if n == 0 {
            return 0;
        }
        let bits = u128::BITS - n.leading_zeros();
        loop {
            let candidate = self.getrandbits(bits);
            if candidate < n {
                return candidate;
            }
        }
    }

    /// `randint(low, high)`: a value in `[low, high]`; `None` when `high < low` (CPython
    /// raises `ValueError`).
    pub(crate) fn randint(&mut self, low: i64, high: i64) -> Option<i64> {
        if high < low {
            return None;
        }
        let span = (i128::from(high) - i128::from(low) + 1).unsigned_abs();
        let offset = self.randbelow(span);
        i64::try_from(i128::from(low) + offset as i128).ok()
    }

    /// `shuffle(items)` exactly as CPython: for `i` from `len - 1` down to 1, swap item
    /// `i` with item `_randbelow(i + 1)`.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.randbelow(i as u128 + 1);
            // j ≤ i < len, so it fits in usize.
            items.swap(i, usize::try_from(j).unwrap_or(i));
        }
    }
}

/// The big-endian integer held by `bytes`, as 32-bit words least significant first,
/// without leading zero words (`[0]` for zero), as CPython's `random_seed` lays it out.
fn big_endian_words(bytes: &[u8]) -> Vec<u32> {
    let first_non_zero = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let significant = &bytes[first_non_zero..];
    let mut words: Vec<u32> = significant
        .rchunks(4)
        .map(|chunk| chunk.iter().fold(0u32, |word, &byte| (word << 8) | u32::from(byte)))
        .collect();
    if words.is_empty() {
        words.push(0);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(rng: &mut PythonRandom, n: usize) -> Vec<u32> {
        (0..n).map(|_| rng.next_u32()).collect()
    }

    /// Vectors from CPython 3.11: `r = random.Random(seed); [r.getrandbits(32) for _ in range(3)]`.
    #[test]
    fn int_seeds_match_cpython() {
        let cases: [(u64, [u32; 3]); 6] = [
            (42, [2746317213, 478163327, 107420369]),
            (0, [3626764237, 1654615998, 3255389356]),
            (1, [577090037, 2444712010, 3639700191]),
            (7, [1390851128, 4071050724, 647892279]),
            ((1 << 32) + 5, [675479763, 2085189291, 1213270837]),
            (12345678901234567890, [2199100970, 3695432519, 4002396509]),
        ];
        for (seed, expected) in cases {
            assert_eq!(words(&mut PythonRandom::from_int_seed(seed), 3), expected, "seed {seed}");
        }
    }

    #[test]
    fn str_seeds_match_cpython() {
        let cases: [(&str, [u32; 3]); 4] = [
            ("hello", [1519453933, 3618488475, 2848416207]),
            ("", [4124137760, 1951988028, 2557274880]),
            // A leading NUL byte shortens the seed integer by one byte.
            ("\0abc", [1567764960, 2356946879, 1480677039]),
            ("héllo ✓", [2402069620, 1529516004, 728551504]),
        ];
        for (seed, expected) in cases {
            assert_eq!(words(&mut PythonRandom::from_str_seed(seed), 3), expected, "seed {seed:?}");
        }
    }

    #[test]
    fn getrandbits_matches_cpython() {
        // r = random.Random(99); [r.getrandbits(k) for k in (0,1,5,31,32,33,64,65)]
        let mut rng = PythonRandom::from_int_seed(99);
        let drawn: Vec<u128> = [0, 1, 5, 31, 32, 33, 64, 65].iter().map(|&k| rng.getrandbits(k)).collect();
        assert_eq!(drawn, [0, 0, 12, 429658751, 2574571355, 767950141, 2457925259611419118, 1597091074114278392]);
    }

    #[test]
    fn randint_matches_cpython() {
        let mut rng = PythonRandom::from_int_seed(99);
        let drawn: Vec<i64> = (0..10).filter_map(|_| rng.randint(-5, 1000)).collect();
        assert_eq!(drawn, [408, 384, 199, 608, 178, 230, 249, 131, 773, 83]);
        let mut rng = PythonRandom::from_int_seed(99);
        let drawn: Vec<i64> = (0..3).filter_map(|_| rng.randint(0, 1 << 40)).collect();
        assert_eq!(drawn, [834958728041, 503279123773, 293124780526]);
    }

    #[test]
    fn randint_edge_cases_do_not_panic() {
        let mut rng = PythonRandom::from_int_seed(1);
        assert_eq!(rng.randint(3, 2), None);
        assert_eq!(rng.randint(5, 5), Some(5));
        assert!(rng.randint(i64::MIN, i64::MAX).is_some());
        assert_eq!(rng.randbelow(0), 0);
        assert_eq!(rng.randbelow(1), 0);
        // Capped at 128 bits: four words drawn, as for getrandbits(128).
        let mut capped = PythonRandom::from_int_seed(3);
        let mut exact = PythonRandom::from_int_seed(3);
        assert_eq!(capped.getrandbits(1000), exact.getrandbits(128));
        assert_eq!(capped.next_u32(), exact.next_u32());
    }

    #[test]
    fn shuffle_matches_cpython() {
        // r = random.Random(seed); l = list(range(10)); r.shuffle(l)
        let cases: [(u64, [u32; 10]); 4] = [
            (42, [7, 3, 2, 8, 5, 6, 9, 4, 0, 1]),
            (0, [7, 8, 1, 5, 3, 4, 2, 0, 9, 6]),
            (7, [8, 3, 1, 4, 7, 0, 9, 6, 2, 5]),
            ((1 << 40) + 3, [8, 5, 6, 7, 9, 2, 4, 1, 0, 3]),
        ];
        for (seed, expected) in cases {
            let mut items: Vec<u32> = (0..10).collect();
            PythonRandom::from_int_seed(seed).shuffle(&mut items);
            assert_eq!(items, expected, "seed {seed}");
        }
        let mut empty: [u8; 0] = [];
        PythonRandom::from_int_seed(1).shuffle(&mut empty);
        let mut one = [9];
        PythonRandom::from_int_seed(1).shuffle(&mut one);
        assert_eq!(one, [9]);
    }

    #[test]
    fn seed_words_are_least_significant_first() {
        assert_eq!(big_endian_words(&[0, 0, 0, 0]), [0]);
        assert_eq!(big_endian_words(&[]), [0]);
        assert_eq!(big_endian_words(&[1, 2, 3, 4, 5]), [0x0203_0405, 0x01]);
        assert_eq!(big_endian_words(&[0, 0, 0, 0, 0, 0, 0, 7]), [7]);
    }
}
