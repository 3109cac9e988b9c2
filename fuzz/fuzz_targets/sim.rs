//! Fuzz target: libFuzzer's bytes drive the simulator tests' scenario generator
//! (`runner/sim/tests/common/generate.rs`, through `arbitrary::Unstructured`), so every input is
//! a valid scenario; it is compiled, simulated twice and checked with the same properties as
//! `cargo test -p chaos-sim --test generated` (`runner/sim/tests/common/check.rs`): no panic,
//! time advances (the engine's watchdog), every request ends once, counts and causes add up,
//! percentiles ordered, replicas within bounds, windows and the abort inside the run, same seed
//! same report. Run it as `fuzz/README.md` says.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

#[path = "../../runner/sim/tests/common/check.rs"]
mod check;
#[path = "../../runner/sim/tests/common/generate.rs"]
mod generate;

/// The generator's choices from the fuzzer's bytes; 0 (the simplest) once they run out.
struct Bytes<'a, 'b>(&'a mut Unstructured<'b>);

impl generate::Source for Bytes<'_, '_> {
    fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        self.0.int_in_range(0..=n - 1).unwrap_or(0)
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let scenario = generate::scenario(&mut Bytes(&mut u), generate::KNOWN);
    let text = generate::render(&scenario);
    if let Err(e) = check::check(&text) {
        panic!("{e}\n--- scenario ---\n{text}");
    }
});
