//! Names, units, params, imports: from syntax trees to a checked, fully resolved plan.
