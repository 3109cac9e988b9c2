//! Fuzz target: any input parses or fails with an error inside the text, and whatever parses
//! formats to a fixed point. Run with `cargo +nightly fuzz run parse` from `fuzz/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match chaos_grammar::parse(text) {
        Err(e) => assert!(e.span.start <= e.span.end && e.span.end <= text.len()),
        Ok(_) => {
            let once = chaos_grammar::format::format_source(text).expect("parsed text formats");
            let twice = chaos_grammar::format::format_source(&once).expect("formatted text parses");
            assert_eq!(once, twice, "formatting is idempotent");
        }
    }
});
