//! Fuzz target: any input parses or fails with an error inside the text; whatever parses
//! formats to a fixed point; and the checker and lowering (`chaos check`) never panic on it.
//! Run it as `fuzz/README.md` says (works on a stable toolchain).
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
            // The whole of `chaos check`: imports resolve against an in-memory loader only.
            let compiled = chaos_compiler::compile_str("fuzz.chaos", text, &[]);
            assert!(
                compiled.plan.is_none() || !compiled.has_errors(),
                "a plan is produced only without errors"
            );
        }
    }
});
