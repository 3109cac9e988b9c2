//! The deterministic discrete-event simulator: plan + seed in, [`chaos_report::Recording`] out.
