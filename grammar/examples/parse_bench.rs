//! Measures parse and format time on a generated file of N services (default 2,000, about
//! 50,000 lines): `cargo run --release -p chaos-grammar --example parse_bench [N]`, or the
//! same measurement on a given file: `... --example parse_bench -- --file PATH`.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

/// A valid file of `n` services calling each other in a ring.
fn generate(n: usize) -> String {
    let mut src =
        String::from("# generated\nscenario \"bench\" {\n  duration 10m\n  warmup 30s\n}\n\n");
    for i in 0..n {
        let next = (i + 1) % n;
        src.push_str(&format!(
            "service svc{i} {{\n  replicas 3\n  workers 16\n  queue 100  # per replica\n  rate_limit 400/s\n  restart 10s\n  balance least_request\n  latency exponential(mean = 3ms)\n  endpoint \"GET /a\" {{\n    work lognormal(median = 2ms, p99 = 12ms)\n    call svc{next} \"GET /b\" timeout 300ms retry 1 backoff 20ms\n    parallel {{\n      call svc{next} \"GET /b\" {{\n        timeout 800ms\n        retry 2 backoff exponential(50ms, max = 1s) jitter full\n      }}\n    }}\n    choice {{\n      30% => work 1ms\n      70% => fail 1% status 503\n    }}\n  }}\n  endpoint \"GET /b\" {{ }}\n}}\n\n"
        ));
    }
    src.push_str(
        "workload w {\n  target svc0 \"GET /a\"\n  rate 50/s -> 400/s over 2m, 400/s for 8m\n}\n",
    );
    src
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let src = match args.iter().position(|a| a == "--file") {
        Some(i) => std::fs::read_to_string(&args[i + 1]).unwrap(),
        None => generate(args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000)),
    };
    let lines = src.lines().count();
    let t = Instant::now();
    let file = chaos_grammar::parse(&src).unwrap();
    let parse = t.elapsed();
    let t = Instant::now();
    let out = chaos_grammar::format::format_file(&file, &src);
    let fmt = t.elapsed();
    println!(
        "{lines} lines, {} bytes, {} items: parse {:.1} ms, format {:.1} ms ({} bytes out)",
        src.len(),
        file.items.len(),
        parse.as_secs_f64() * 1e3,
        fmt.as_secs_f64() * 1e3,
        out.len()
    );
}
