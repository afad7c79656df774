//! The few things a serving benchmark needs from a server's metrics, whatever the server
//! calls them: KV-cache use, requests running and waiting, preemptions, prefix-cache
//! queries and hits, prompt and generation tokens. Each concept lists the names vLLM
//! (current and the older `gpu_*` ones), SGLang and llama.cpp give it; the first one a
//! scrape has is used. Every other series is kept raw (see `table`).

use std::collections::HashMap;

use super::exposition::Point;

/// A concept, read the same way from every server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Concept {
    KvCacheUsage,
    Running,
    Waiting,
    Preemptions,
    PrefixQueries,
    PrefixHits,
    PromptTokens,
    GenerationTokens,
    ServerHitRate,
}

/// How label sets of one name (engines, data-parallel ranks) combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Combine {
    Sum,
    Mean,
}

impl Concept {
    pub(crate) const ALL: [Concept; 9] = [
        Concept::KvCacheUsage,
        Concept::Running,
        Concept::Waiting,
        Concept::Preemptions,
        Concept::PrefixQueries,
        Concept::PrefixHits,
        Concept::PromptTokens,
        Concept::GenerationTokens,
        Concept::ServerHitRate,
    ];

    /// Its name in the run JSON.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Concept::KvCacheUsage => "kv_cache_usage",
            Concept::Running => "requests_running",
            Concept::Waiting => "requests_waiting",
            Concept::Preemptions => "preemptions_total",
            Concept::PrefixQueries => "prefix_cache_queries_total",
            Concept::PrefixHits => "prefix_cache_hits_total",
            Concept::PromptTokens => "prompt_tokens_total",
            Concept::GenerationTokens => "generation_tokens_total",
            Concept::ServerHitRate => "server_prefix_cache_hit_rate_gauge",
        }
    }

    /// The names that give it, in order of preference; an entry of several names is
    /// their sum (each must be present).
    pub(crate) fn sources(self) -> &'static [&'static [&'static str]] {
        match self {
            Concept::KvCacheUsage => &[
                &["vllm:kv_cache_usage_perc"],
                &["vllm:gpu_cache_usage_perc"],
                &["sglang:token_usage"],
                &["llamacpp:kv_cache_usage_ratio"],
            ],
            Concept::Running => {
                &[&["vllm:num_requests_running"], &["sglang:num_running_reqs"], &["llamacpp:requests_processing"]]
            }
            Concept::Waiting => {
                &[&["vllm:num_requests_waiting"], &["sglang:num_queue_reqs"], &["llamacpp:requests_deferred"]]
            }
            Concept::Preemptions => &[&["vllm:num_preemptions_total"], &["vllm:num_preemptions"]],
            Concept::PrefixQueries => &[
                &["vllm:prefix_cache_queries_total"],
                &["vllm:gpu_prefix_cache_queries_total"],
                &["vllm:gpu_prefix_cache_queries"],
                // SGLang counts every prompt token against its radix cache.
                &["sglang:prompt_tokens_total"],
                // llama.cpp's prompt counter leaves the cached tokens out.
                &["llamacpp:prompt_tokens_total", "llamacpp:prompt_tokens_cached_total"],
            ],
            Concept::PrefixHits => &[
                &["vllm:prefix_cache_hits_total"],
                &["vllm:gpu_prefix_cache_hits_total"],
                &["vllm:gpu_prefix_cache_hits"],
                &["sglang:cached_tokens_total"],
                &["llamacpp:prompt_tokens_cached_total"],
            ],
            Concept::PromptTokens => &[
                &["vllm:prompt_tokens_total"],
                &["sglang:prompt_tokens_total"],
                &["llamacpp:prompt_tokens_total", "llamacpp:prompt_tokens_cached_total"],
            ],
            Concept::GenerationTokens => &[
                &["vllm:generation_tokens_total"],
                &["sglang:generation_tokens_total"],
                &["llamacpp:tokens_predicted_total"],
            ],
            Concept::ServerHitRate => &[&["sglang:cache_hit_rate"], &["vllm:gpu_prefix_cache_hit_rate"]],
        }
    }

    fn combine(self) -> Combine {
        match self {
            Concept::KvCacheUsage | Concept::ServerHitRate => Combine::Mean,
            _ => Combine::Sum,
        }
    }
}

/// The series of one scrape by name: every label set's value.
pub(crate) struct ByName<'a>(HashMap<&'a str, Vec<f64>>);

impl<'a> ByName<'a> {
    pub(crate) fn of(points: &'a [Point]) -> Self {
        let mut map: HashMap<&str, Vec<f64>> = HashMap::new();
        for p in points {
            map.entry(p.name.as_str()).or_default().push(p.value);
        }
        ByName(map)
    }

    /// The concept's value in this scrape, if the server gives it.
    pub(crate) fn value(&self, concept: Concept) -> Option<f64> {
        let combine = |values: &Vec<f64>| match concept.combine() {
            Combine::Sum => values.iter().sum::<f64>(),
            Combine::Mean => values.iter().sum::<f64>() / values.len().max(1) as f64,
        };
        concept.sources().iter().find_map(|names| {
            let parts: Option<Vec<f64>> = names.iter().map(|n| self.0.get(n).map(combine)).collect();
            parts.map(|p| p.iter().sum::<f64>()).filter(|v| v.is_finite())
        })
    }

    /// vLLM, SGLang, llama.cpp or unknown, by the names' prefixes.
    pub(crate) fn server(&self) -> &'static str {
        let has = |prefix: &str| self.0.keys().any(|k| k.starts_with(prefix));
        if has("vllm:") {
            "vllm"
        } else if has("sglang:") {
            "sglang"
        } else if has("llamacpp:") {
            "llama.cpp"
        } else {
            "unknown"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::exposition::parse;
    use super::*;

    #[test]
    fn each_server_s_names_give_the_same_concepts() {
        let vllm_old = parse(
            "vllm:gpu_cache_usage_perc{engine=\"0\"} 0.5\nvllm:gpu_cache_usage_perc{engine=\"1\"} 0.7\n\
             vllm:num_requests_running{engine=\"0\"} 2\nvllm:num_requests_running{engine=\"1\"} 3\n\
             vllm:gpu_prefix_cache_queries_total 100\nvllm:gpu_prefix_cache_hits_total 40\n",
        )
        .unwrap();
        let v = ByName::of(&vllm_old);
        assert_eq!(v.server(), "vllm");
        assert!((v.value(Concept::KvCacheUsage).unwrap() - 0.6).abs() < 1e-12);
        assert_eq!(v.value(Concept::Running), Some(5.0));
        assert_eq!(v.value(Concept::PrefixQueries), Some(100.0));
        assert_eq!(v.value(Concept::PrefixHits), Some(40.0));
        assert_eq!(v.value(Concept::Waiting), None);

        let llama = parse(
            "llamacpp:prompt_tokens_total 85\nllamacpp:prompt_tokens_cached_total 41\n\
             llamacpp:requests_processing 1\nllamacpp:requests_deferred 2\nllamacpp:tokens_predicted_total 12\n",
        )
        .unwrap();
        let l = ByName::of(&llama);
        assert_eq!(l.server(), "llama.cpp");
        assert_eq!(l.value(Concept::PrefixQueries), Some(126.0));
        assert_eq!(l.value(Concept::PrefixHits), Some(41.0));
        assert_eq!(l.value(Concept::PromptTokens), Some(126.0));
        assert_eq!((l.value(Concept::Running), l.value(Concept::Waiting)), (Some(1.0), Some(2.0)));
        assert_eq!(l.value(Concept::GenerationTokens), Some(12.0));

        let sglang = parse(
            "sglang:token_usage 0.25\nsglang:num_queue_reqs 4\nsglang:num_running_reqs 8\nsglang:cache_hit_rate 0.5\n\
             sglang:cached_tokens_total{cache_source=\"device\"} 30\nsglang:cached_tokens_total{cache_source=\"host\"} 10\n\
             sglang:prompt_tokens_total 200\n",
        )
        .unwrap();
        let s = ByName::of(&sglang);
        assert_eq!(s.server(), "sglang");
        assert_eq!(s.value(Concept::KvCacheUsage), Some(0.25));
        assert_eq!((s.value(Concept::Running), s.value(Concept::Waiting)), (Some(8.0), Some(4.0)));
        assert_eq!((s.value(Concept::PrefixHits), s.value(Concept::PrefixQueries)), (Some(40.0), Some(200.0)));
        assert_eq!(s.value(Concept::ServerHitRate), Some(0.5));
    }
}
