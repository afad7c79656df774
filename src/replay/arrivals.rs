//! Open-loop arrivals (`--session-rate`, `--request-rate`): when each new session or
//! request is due, independent of how fast the server answers.
//!
//! Inter-arrival times are drawn from a seeded generator (`rand`'s ChaCha-based `StdRng`,
//! distributions from `rand_distr`), so a seed reproduces the schedule exactly:
//! * `poisson` — exponential gaps with mean 1/rate;
//! * `gamma` — gamma gaps with shape `--burstiness` and mean 1/rate (vLLM's meaning:
//!   shape 1 is Poisson, below 1 burstier, above 1 more regular);
//! * `constant` — exactly 1/rate apart.

use rand::SeedableRng;
use rand_distr::{Distribution, Exp, Gamma};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Process {
    Poisson,
    Gamma,
    Constant,
}

impl Process {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Process::Poisson => "poisson",
            Process::Gamma => "gamma",
            Process::Constant => "constant",
        }
    }
}

/// A seeded arrival process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Arrivals {
    pub process: Process,
    /// Arrivals per second (> 0).
    pub rate: f64,
    /// Gamma shape (`gamma` only).
    pub burstiness: f64,
    pub seed: u64,
}

impl Arrivals {
    /// Offsets from the run's start, in seconds, of every arrival, forever.
    pub(crate) fn offsets(&self) -> impl Iterator<Item = f64> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.seed);
        let mean = 1.0 / self.rate;
        let exp = Exp::new(self.rate).ok();
        let gamma = Gamma::new(self.burstiness, mean / self.burstiness).ok();
        let process = self.process;
        let mut t = 0.0f64;
        let mut first = true;
        std::iter::from_fn(move || {
            // The first arrival is at 0: the run starts with one, as every peer does.
            if !first {
                t += match (process, &exp, &gamma) {
                    (Process::Poisson, Some(d), _) => d.sample(&mut rng),
                    (Process::Gamma, _, Some(d)) => d.sample(&mut rng),
                    _ => mean,
                };
            }
            first = false;
            Some(t)
        })
    }

    pub(crate) fn describe(&self) -> String {
        match self.process {
            Process::Gamma => {
                format!("gamma arrivals at {}/s (burstiness {}, seed {})", self.rate, self.burstiness, self.seed)
            }
            p => format!("{} arrivals at {}/s (seed {})", p.name(), self.rate, self.seed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaps(a: Arrivals, n: usize) -> Vec<f64> {
        let t: Vec<f64> = a.offsets().take(n + 1).collect();
        t.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// Kolmogorov–Smirnov: the largest distance between the sample's ECDF and the CDF.
    fn ks_distance(mut xs: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
        xs.sort_by(f64::total_cmp);
        let n = xs.len() as f64;
        xs.iter()
            .enumerate()
            .map(|(i, &x)| {
                let f = cdf(x);
                (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn poisson_gaps_are_exponential() {
        let a = Arrivals { process: Process::Poisson, rate: 20.0, burstiness: 1.0, seed: 7 };
        let g = gaps(a, 4000);
        let mean = g.iter().sum::<f64>() / g.len() as f64;
        assert!((mean - 0.05).abs() < 0.05 * 0.05, "mean gap {mean}");
        // Critical value at α = 0.01: 1.63 / √n.
        let d = ks_distance(g, |x| 1.0 - (-20.0 * x).exp());
        assert!(d < 1.63 / 4000f64.sqrt(), "KS distance {d}");
        assert_eq!(a.offsets().take(50).collect::<Vec<_>>(), a.offsets().take(50).collect::<Vec<_>>(), "seeded");
        let other = Arrivals { seed: 8, ..a };
        assert_ne!(a.offsets().nth(5), other.offsets().nth(5));
    }

    #[test]
    fn a_non_exponential_sample_fails_the_same_check() {
        // The check has teeth: gamma gaps with shape 4 at the same mean are rejected.
        let a = Arrivals { process: Process::Gamma, rate: 20.0, burstiness: 4.0, seed: 7 };
        let d = ks_distance(gaps(a, 4000), |x| 1.0 - (-20.0 * x).exp());
        assert!(d > 1.63 / 4000f64.sqrt(), "KS distance {d}");
    }

    #[test]
    fn gamma_keeps_the_mean_and_changes_the_spread() {
        for shape in [0.25, 1.0, 4.0] {
            let g = gaps(Arrivals { process: Process::Gamma, rate: 10.0, burstiness: shape, seed: 3 }, 20_000);
            let mean = g.iter().sum::<f64>() / g.len() as f64;
            let var = g.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / g.len() as f64;
            assert!((mean - 0.1).abs() < 0.1 * 0.05, "shape {shape}: mean {mean}");
            // Coefficient of variation² of a gamma is 1/shape.
            let cv2 = var / (mean * mean);
            assert!((cv2 * shape - 1.0).abs() < 0.15, "shape {shape}: cv² {cv2}");
        }
    }

    #[test]
    fn constant_is_exact_and_starts_at_zero() {
        let a = Arrivals { process: Process::Constant, rate: 4.0, burstiness: 1.0, seed: 0 };
        assert_eq!(a.offsets().take(4).collect::<Vec<_>>(), [0.0, 0.25, 0.5, 0.75]);
    }
}
