//! `tessera-fuzz <seconds per target>`: feeds random and mutated input, for a bounded
//! time per target, to every parser and model that takes input from a guest or a
//! user, and reports any panic with the seed that reproduces it (`--seed`). Runs on
//! stable Rust: a small deterministic generator stands in for cargo-fuzz, which would
//! need nightly. A crash found here becomes a regression test in the crate it hit.

mod rng;
mod targets;

use rng::Rng;
use std::time::{Duration, Instant};

/// One fuzz target: a name and a function that runs one random case.
pub struct Target {
    /// Name for the report.
    pub name: &'static str,
    /// One case, from the generator.
    pub run: fn(&mut Rng),
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let replay: Option<(String, u64)> = match (args.next(), args.next()) {
        (Some(name), Some(seed)) => seed.parse().ok().map(|seed| (name, seed)),
        _ => None,
    };
    if replay.is_none() {
        // Panics are counted, not printed; a replay shows the message.
        std::panic::set_hook(Box::new(|_| {}));
    }
    let mut failures = 0;
    for target in targets::ALL {
        if let Some((name, seed)) = &replay {
            if name == target.name {
                let mut rng = Rng::new(*seed);
                (target.run)(&mut rng);
                println!("fuzz: {} seed {seed}: no panic", target.name);
            }
            continue;
        }
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        let mut cases = 0u64;
        let mut seed = 0x7e55_e7a0u64;
        let mut failed = None;
        while Instant::now() < deadline && failed.is_none() {
            for _ in 0..64 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let case_seed = seed;
                let outcome = std::panic::catch_unwind(|| {
                    let mut rng = Rng::new(case_seed);
                    (target.run)(&mut rng);
                });
                cases += 1;
                if outcome.is_err() {
                    failed = Some(case_seed);
                    break;
                }
            }
        }
        match failed {
            None => println!("fuzz: {:<22} {cases:>9} cases, no panic", target.name),
            Some(seed) => {
                failures += 1;
                println!(
                    "fuzz: {:<22} PANIC after {cases} cases; reproduce with `cargo xtask fuzz --replay {} {seed}`",
                    target.name, target.name
                );
            }
        }
    }
    if failures > 0 {
        println!("fuzz: {failures} target(s) panicked");
        std::process::exit(1);
    }
}
