//! The `asb` binary: everything lives in the library; this only hands over the process.

/// The static (musl) build's allocator: musl's malloc costs replay 1.6× the CPU per
/// request of glibc's (bench/static_build.sh); the glibc build keeps the system one.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    asb::cli::main()
}
