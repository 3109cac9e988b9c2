//! End-to-end: run_sim.
