//! `chaos run --local`: agent processes on loopback, real load, faults through the control API.
